"""Prompt engineering, measured: prompt templates and defences (:mod:`.templates`), majority
voting for self-consistency (:mod:`.voting`), schema-constrained decoding and validation
(:mod:`.constrained`), the chapter's studies with confidence intervals (:mod:`.studies`),
looking inside the model (:mod:`.inspection`) and a served endpoint (:mod:`.endpoint`).

Used in: chapter 6.
"""
