"""Recipe of the shipped ``levelgpt-dungeons`` checkpoint: a small GPT (the chapter 3 code)
trained on drunkard's-walk dungeon levels (:mod:`genai_course.applications.levels`), one
level per sequence, row by row.

Used in: chapter 9.
"""

from __future__ import annotations

from typing import Any

from genai_course.applications.levels import LEVEL_VOCAB, level_to_symbols, rule_based_levels
from genai_course.applications.sequences import load_payload_model, train_payload

#: The training levels (seed 0) and the model's training configuration.
CONFIG: dict[str, Any] = {"n_levels": 4000, "steps": 2500, "block_size": 124, "n_layer": 3,
                          "n_head": 4, "n_embd": 64, "batch_size": 32, "lr": 3e-3}


def train(seed: int = 0, config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train on ``n_levels`` rule-based levels; the held-out loss is on 200 fresh ones."""
    cfg = {**CONFIG, **(config or {})}
    levels = [level_to_symbols(lv) for lv in rule_based_levels(cfg.pop("n_levels"), seed=0)]
    held_out = [level_to_symbols(lv) for lv in rule_based_levels(200, seed=10_000)]
    return train_payload(levels, held_out, LEVEL_VOCAB, cfg, seed)


def load(payload: dict[str, Any]):  # noqa: ANN201  (a GPT)
    """The GPT, with ``model.vocab``."""
    return load_payload_model(payload)
