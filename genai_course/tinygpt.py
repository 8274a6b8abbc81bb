"""The recipe of the shipped ``tinygpt-tinylang`` checkpoint: a character-level GPT trained
on TinyLang, and how to measure it against TinyLang's exact entropy floor.

``genai-course retrain tinygpt-tinylang`` calls :func:`train_checkpoint`;
``genai_course.pretrained.load_pretrained("tinygpt-tinylang")`` calls :func:`load_checkpoint`
and returns the :class:`~genai_course.transformer.GPT` with its tokenizer attached as
``model.tokenizer``.
"""

from __future__ import annotations

from typing import Any

import torch

from .data.tinylang import TinyLang
from .tokenizers import CharTokenizer
from .transformer import GPT, GPTConfig, stream_loss, train_lm

#: The architecture and the training run of the shipped checkpoint.
CONFIG = dict(block_size=128, n_layer=4, n_head=4, n_embd=128, dropout=0.0,
              positional="learned")
TRAINING = dict(steps=1500, batch_size=32, lr=2e-3, warmup=100, weight_decay=0.1)
TRAIN_SENTENCES = 100_000
VALIDATION_SENTENCES = 1000
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
    loss = stream_loss(model, encode_text(model.tokenizer, text), min_context=min_context)
    true_loss = -language.text_log_prob(text) / len(text)
    floor = language.entropy_per_char()
    return {"loss": loss, "floor": floor, "ratio_to_floor": loss / floor,
            "true_loss_on_text": true_loss, "ratio_to_true_loss": loss / true_loss}


def train_checkpoint(seed: int = 0) -> dict[str, Any]:
    """Train the shipped model (about 10 minutes on one CPU thread) and return its payload:
    float16 weights, the config, the tokenizer's alphabet and the validation metrics."""
    language = TinyLang(LANGUAGE_SEED)
    tokenizer = tinylang_tokenizer(language)
    config = GPTConfig(vocab_size=tokenizer.vocab_size, **CONFIG)
    model = GPT(config, seed=seed)
    ids = encode_text(tokenizer, language.text("train", TRAIN_SENTENCES))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the recipe's timing and exact numbers are for one thread
    try:
        history = train_lm(model, ids, seed=seed, progress=True, **TRAINING)
    finally:
        torch.set_num_threads(threads)
    model.tokenizer = tokenizer
    metrics = floor_report(model, language,
                           language.text("validation", VALIDATION_SENTENCES))
    metrics.update(train_loss_last_100=history.smoothed("loss", 100),
                   parameters=model.num_parameters(), steps=TRAINING["steps"])
    state = {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    return {"config": config.to_dict(), "state_dict": state,
            "extra": {"alphabet": "".join(tokenizer.chars), "training": dict(TRAINING),
                      "train_sentences": TRAIN_SENTENCES, "language_seed": LANGUAGE_SEED,
                      "loss_curve": history["loss"]},
            "metrics": metrics}


def load_checkpoint(payload: dict[str, Any]) -> GPT:
    """Rebuild the GPT from a payload (weights cast back to float32) and attach its
    ``tokenizer`` and the ``loss_curve`` it was trained with."""
    model = GPT(GPTConfig(**payload["config"]))
    model.load_state_dict({k: v.float() if v.is_floating_point() else v
                           for k, v in payload["state_dict"].items()})
    model.tokenizer = CharTokenizer(payload["extra"]["alphabet"])
    model.loss_curve = list(payload["extra"]["loss_curve"])
    return model
