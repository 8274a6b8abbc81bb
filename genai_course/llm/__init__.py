"""Language models from scratch: tokenizers, attention and position encodings, the GPT,
mixture of experts, the masked-LM objective, decoding, and TinyLang measurements.

Used in: chapters 3 and 6-10.
"""
