"""Ethics and safety, measured: PII scrubbing, content filters, memorisation and differential
privacy, watermarking, bias, generated-image detection, provenance, energy and model cards.

Every safeguard here comes with what it catches and what it misses, measured on the course's
own models and on generated data whose truth is known.

Used in: chapter 10.
"""
