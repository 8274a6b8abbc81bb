"""Recipe of the shipped ``melodygpt-folk`` checkpoint: a small GPT (the chapter 3 code)
trained on the rule-written folk tunes of :mod:`genai_course.applications.music`, a note
as two symbols (pitch, duration).

Used in: chapter 9.
"""

from __future__ import annotations

from typing import Any

from genai_course.applications.music import MELODY_VOCAB, folk_melodies, melody_to_symbols
from genai_course.applications.sequences import load_payload_model, train_payload

#: The training tunes (seed 0) and the model's training configuration.
CONFIG: dict[str, Any] = {"n_melodies": 4000, "steps": 1500, "block_size": 48, "n_layer": 2,
                          "n_head": 4, "n_embd": 64, "batch_size": 64, "lr": 3e-3}


def train(seed: int = 0, config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train on ``n_melodies`` tunes; the held-out loss is on 200 fresh ones."""
    cfg = {**CONFIG, **(config or {})}
    tunes = [melody_to_symbols(m) for m in folk_melodies(cfg.pop("n_melodies"), seed=0)]
    held_out = [melody_to_symbols(m) for m in folk_melodies(200, seed=10_000)]
    return train_payload(tunes, held_out, MELODY_VOCAB, cfg, seed)


def load(payload: dict[str, Any]):  # noqa: ANN201  (a GPT)
    """The GPT, with ``model.vocab``."""
    return load_payload_model(payload)
