"""Multimodal generation (chapter 5): one space for pictures and words, and generation across it.

* :mod:`~genai_course.multimodal.tokens` -- a word-level tokenizer for captions;
* :mod:`~genai_course.multimodal.attention` -- cross-attention, Stable Diffusion's spatial
  cross-attention and Flamingo's gated cross-attention block;
* :mod:`~genai_course.multimodal.clip` -- CLIP: encoders, the symmetric InfoNCE loss, training;
* :mod:`~genai_course.multimodal.retrieval` -- zero-shot classification with prompt
  ensembling, recall@k, linear probes;
* :mod:`~genai_course.multimodal.text_to_image` -- a text-conditioned diffusion model;
* :mod:`~genai_course.multimodal.captioner` -- image-to-text with a frozen language model;
* :mod:`~genai_course.multimodal.audio` -- synthesis, pitch detection and a sound generator;
* :mod:`~genai_course.multimodal.studies` -- the chapter's measurements.
"""
