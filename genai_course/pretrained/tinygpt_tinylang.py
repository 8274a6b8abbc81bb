"""Recipe of the shipped ``tinygpt-tinylang`` checkpoint: a character-level GPT trained on
TinyLang, within 1% of the language's exact entropy floor.

``genai-course retrain tinygpt-tinylang`` calls :func:`train`; ``load_pretrained(
"tinygpt-tinylang")`` calls :func:`load` and returns the
:class:`~genai_course.llm.transformer.GPT` with its tokenizer attached as ``model.tokenizer``.

Used in: chapters 3, 7, 10.
"""

from __future__ import annotations

from typing import Any

import torch

from genai_course.data.tinylang import TinyLang
from genai_course.llm.tinylang_lm import (
    LANGUAGE_SEED,
    encode_text,
    floor_report,
    tinylang_tokenizer,
)
from genai_course.llm.tokenizers import CharTokenizer
from genai_course.llm.transformer import GPT, GPTConfig, train_lm

#: The architecture and the training run of the shipped checkpoint.
CONFIG = dict(block_size=128, n_layer=4, n_head=4, n_embd=128, dropout=0.0,
              positional="learned")
TRAINING = dict(steps=1500, batch_size=32, lr=2e-3, warmup=100, weight_decay=0.1)
TRAIN_SENTENCES = 100_000
VALIDATION_SENTENCES = 1000


def train(seed: int = 0, config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train the shipped model (about 10 minutes on one CPU thread) and return its payload:
    float16 weights, the config, the tokenizer's alphabet and the validation metrics
    (``config`` overrides entries of :data:`CONFIG`)."""
    language = TinyLang(LANGUAGE_SEED)
    tokenizer = tinylang_tokenizer(language)
    config = GPTConfig(vocab_size=tokenizer.vocab_size, **{**CONFIG, **(config or {})})
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


def load(payload: dict[str, Any]) -> GPT:
    """Rebuild the GPT from a payload (weights cast back to float32) and attach its
    ``tokenizer`` and the ``loss_curve`` it was trained with."""
    model = GPT(GPTConfig(**payload["config"]))
    model.load_state_dict({k: v.float() if v.is_floating_point() else v
                           for k, v in payload["state_dict"].items()})
    model.tokenizer = CharTokenizer(payload["extra"]["alphabet"])
    model.loss_curve = list(payload["extra"]["loss_curve"])
    return model
