"""Recipe of the shipped ``codegpt-lists`` checkpoint: a small GPT (the chapter 3 code)
trained on (specification, program) pairs of :mod:`genai_course.applications.codegen`;
the (filter, map) combinations of the test split never occur in its training data.

Used in: chapter 9.
"""

from __future__ import annotations

from typing import Any

from genai_course.applications.codegen import CODE_VOCAB, code_tasks, task_symbols
from genai_course.applications.sequences import load_payload_model, train_payload

#: The training tasks (seed 0) and the model's training configuration.
CONFIG: dict[str, Any] = {"n_tasks": 6000, "steps": 2000, "block_size": 72, "n_layer": 2,
                          "n_head": 4, "n_embd": 64, "batch_size": 64, "lr": 3e-3}


def train(seed: int = 0, config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train on ``n_tasks`` training-split tasks; the held-out loss is on 200 test-split
    tasks (combinations never seen in training)."""
    cfg = {**CONFIG, **(config or {})}
    tasks = [task_symbols(t) for t in code_tasks(cfg.pop("n_tasks"), "train", seed=0)]
    held_out = [task_symbols(t) for t in code_tasks(200, "test", seed=0)]
    return train_payload(tasks, held_out, CODE_VOCAB, cfg, seed)


def load(payload: dict[str, Any]):  # noqa: ANN201  (a GPT)
    """The GPT, with ``model.vocab``."""
    return load_payload_model(payload)
