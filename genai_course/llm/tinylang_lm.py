"""Character-level language modelling of TinyLang, measured against its exact entropy floor.

* :func:`tinylang_tokenizer` -- one id per character of TinyLang's alphabet;
* :func:`encode_text` -- a text as ids, each sentence predicted from its start;
* :func:`floor_report` -- a model's cross-entropy next to the floor and to the true
  distribution's own cross-entropy on the same text.

Used in: chapters 3, 7, 10.
"""

from __future__ import annotations

import torch

from genai_course.data.tinylang import TinyLang
from genai_course.llm.tokenizers import CharTokenizer
from genai_course.llm.transformer import GPT, evaluate_stream_loss

#: The TinyLang grammar every chapter uses.
LANGUAGE_SEED = 0


def tinylang_tokenizer(language: TinyLang | None = None) -> CharTokenizer:
    """The character tokenizer of TinyLang's alphabet (newline, space, full stop, letters)."""
    return CharTokenizer((language or TinyLang(LANGUAGE_SEED)).alphabet())


def encode_text(tokenizer: CharTokenizer, text: str) -> torch.Tensor:
    """The ids of ``"\\n" + text``: the leading newline makes the first sentence start like
    every other, so every character of ``text`` is predicted from its sentence's start."""
    return torch.tensor(tokenizer.encode("\n" + text), dtype=torch.long)


def floor_report(model: GPT, language: TinyLang, text: str) -> dict[str, float]:
    """The model's cross-entropy on ``text`` (nats per character) next to the exact entropy
    floor, and next to the true distribution's own cross-entropy on this very text (the
    same sentences, so the two differ by the model's error only, not by sampling noise).
    Each character is predicted from its whole sentence when the model's window is longer
    than the longest sentence (as for the shipped model), else from at least half a window."""
    block = model.config.block_size
    longest = language.max_chars()
    min_context = longest if longest < block else block // 2
    loss = evaluate_stream_loss(model, encode_text(model.tokenizer, text), min_context=min_context)
    true_loss = -language.text_log_prob(text) / len(text)
    floor = language.entropy_per_char()
    return {"loss": loss, "floor": floor, "ratio_to_floor": loss / floor,
            "true_loss_on_text": true_loss, "ratio_to_true_loss": loss / true_loss}
