"""Recipe of the shipped ``tinygpt-tinylang-bpe`` checkpoint: chapter 3's GPT trained on
TinyLang written in chapter 3's byte-pair tokens (about one token per word), so that each
token carries a word's choice -- 1.2 nats on average instead of a character's 0.33. Chapter
10 watermarks its text.

``genai-course retrain tinygpt-tinylang-bpe`` calls :func:`train`; ``load_pretrained(
"tinygpt-tinylang-bpe")`` calls :func:`load` and returns the
:class:`~genai_course.llm.transformer.GPT` with its tokenizer as ``model.tokenizer``.

Used in: chapter 10.
"""

from __future__ import annotations

from typing import Any

import torch

from genai_course.core.train import History
from genai_course.data.tinylang import TinyLang
from genai_course.llm.tinylang_lm import LANGUAGE_SEED, encode_text
from genai_course.llm.tokenizers import BPETokenizer
from genai_course.llm.transformer import GPT, GPTConfig, evaluate_stream_loss, train_lm

#: The architecture and the training run of the shipped checkpoint.
CONFIG = dict(block_size=256, n_layer=2, n_head=4, n_embd=64, dropout=0.0,
              positional="learned")
TRAINING = dict(steps=800, batch_size=16, lr=3e-3, warmup=50, weight_decay=0.1)
#: The byte-pair tokenizer: trained on this many sentences, up to this vocabulary.
TOKENIZER_SENTENCES, VOCAB_SIZE = 3000, 400
TRAIN_SENTENCES = 20_000
VALIDATION_SENTENCES = 1000


def tokenizer(language: TinyLang | None = None) -> BPETokenizer:
    """The checkpoint's byte-pair tokenizer (every TinyLang word, with its leading space,
    becomes one token)."""
    language = language or TinyLang(LANGUAGE_SEED)
    return BPETokenizer.train(language.text("train", TOKENIZER_SENTENCES), VOCAB_SIZE)


def sentence_report(model: GPT, language: TinyLang, text: str) -> dict[str, float]:
    """The model's cross-entropy on ``text`` in nats per *sentence* (each token predicted
    from at least 64 tokens, more than the longest sentence) next to the exact entropy of a
    sentence: per-sentence numbers compare across tokenizers."""
    ids = encode_text(model.tokenizer, text)
    n_sentences = text.count("\n")
    per_token = evaluate_stream_loss(model, ids, min_context=64)
    loss = per_token * (len(ids) - 1) / n_sentences
    floor = language.entropy_per_sentence()
    return {"loss_per_sentence": loss, "entropy_per_sentence": floor,
            "ratio_to_floor": loss / floor, "loss_per_token": per_token,
            "tokens_per_sentence": (len(ids) - 1) / n_sentences}


def _fit_one_thread(model: GPT, ids: torch.Tensor, seed: int) -> History:
    """:func:`train_lm` with :data:`TRAINING` on one CPU thread, which the recipe's timing
    and exact numbers are for."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return train_lm(model, ids, seed=seed, progress=True, **TRAINING)
    finally:
        torch.set_num_threads(threads)


def train(seed: int = 0, config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train the shipped model (about 2 minutes on one CPU thread) and return its payload:
    float16 weights, the config, the tokenizer's merges and the validation metrics."""
    language = TinyLang(LANGUAGE_SEED)
    bpe = tokenizer(language)
    model = GPT(GPTConfig(vocab_size=bpe.vocab_size, **{**CONFIG, **(config or {})}), seed=seed)
    model.tokenizer = bpe
    history = _fit_one_thread(model, encode_text(bpe, language.text("train", TRAIN_SENTENCES)),
                              seed)
    tokens = TRAINING["steps"] * TRAINING["batch_size"] * model.config.block_size
    metrics = {**sentence_report(model, language,
                                 language.text("validation", VALIDATION_SENTENCES)),
               "train_loss_last_100": history.smoothed("loss", 100),
               "parameters": model.num_parameters(), "steps": TRAINING["steps"],
               "train_tokens": tokens}
    extra = {"merges": [[a, b, token] for (a, b), token in bpe.merges],
             "training": dict(TRAINING), "train_sentences": TRAIN_SENTENCES,
             "language_seed": LANGUAGE_SEED, "loss_curve": history["loss"]}
    return {"config": model.config.to_dict(), "extra": extra, "metrics": metrics,
            "state_dict": {k: v.half() if v.is_floating_point() else v
                           for k, v in model.state_dict().items()}}


def load(payload: dict[str, Any]) -> GPT:
    """Rebuild the GPT from a payload (weights cast back to float32) and attach its
    ``tokenizer`` and ``loss_curve``."""
    model = GPT(GPTConfig(**payload["config"]))
    model.load_state_dict({k: v.float() if v.is_floating_point() else v
                           for k, v in payload["state_dict"].items()})
    model.tokenizer = BPETokenizer([((a, b), t) for a, b, t in payload["extra"]["merges"]])
    model.loss_curve = list(payload["extra"]["loss_curve"])
    return model
