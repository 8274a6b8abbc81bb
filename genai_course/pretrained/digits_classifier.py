"""Recipe of the shipped ``digits-classifier`` checkpoint: the small CNN of
:mod:`genai_course.evaluation.digit_classifier` trained on the training digits with
one-pixel shifts and a little noise, so it judges shapes rather than exact pixels.

Used in: chapters 4, 8, 9, 10.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from genai_course.core.train import fit
from genai_course.data.digits import load_digits
from genai_course.evaluation.digit_classifier import DigitClassifier, evaluate_accuracy

#: How ``digits-classifier`` is built and trained.
CONFIG: dict[str, Any] = {"channels": (32, 64), "hidden": 128, "dropout": 0.3, "steps": 2000,
                          "batch_size": 128, "lr": 2e-3, "weight_decay": 1e-4, "noise": 0.1}


def augment(x: torch.Tensor, generator: torch.Generator, noise: float) -> torch.Tensor:
    """Shift each image by -1, 0 or +1 pixel in each direction (padding with the background
    value -1) and add N(0, noise^2) to every pixel."""
    n = x.shape[0]
    padded = F.pad(x, (1, 1, 1, 1), value=-1.0)
    dy, dx = torch.randint(0, 3, (2, n), generator=generator)
    rows = (dy[:, None] + torch.arange(8))[:, None, :, None].expand(n, 1, 8, 10)
    shifted = padded.gather(2, rows)
    cols = (dx[:, None] + torch.arange(8))[:, None, None, :].expand(n, 1, 8, 8)
    shifted = shifted.gather(3, cols)
    return shifted + noise * torch.randn(shifted.shape, generator=generator)


def train(seed: int = 0, config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train on the training digits with augmentation and return the payload; the metrics
    hold the accuracy on the 359 held-out test digits (``config`` overrides :data:`CONFIG`)."""
    cfg = {**CONFIG, **(config or {})}
    torch.manual_seed(seed)  # dropout masks
    x, y = load_digits("train")
    x_test, y_test = load_digits("test")
    model = DigitClassifier(tuple(cfg["channels"]), cfg["hidden"], cfg["dropout"], seed=seed)
    generator = torch.Generator().manual_seed(seed + 1)

    def loss_fn(xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(model(augment(xb, generator, cfg["noise"])), yb)

    fit(model, loss_fn, (x, y), steps=cfg["steps"], batch_size=cfg["batch_size"], seed=seed,
        lr=cfg["lr"], weight_decay=cfg["weight_decay"], lr_schedule="cosine",
        desc="digit classifier")
    return {"config": {**cfg, "channels": list(cfg["channels"])},
            "state_dict": model.state_dict(), "extra": {},
            "metrics": {"test_accuracy": evaluate_accuracy(model, x_test, y_test),
                        "train_accuracy": evaluate_accuracy(model, x, y)}}


def load(payload: dict[str, Any]) -> DigitClassifier:
    """Rebuild the classifier from a ``digits-classifier`` payload."""
    cfg = payload["config"]
    model = DigitClassifier(tuple(cfg["channels"]), cfg["hidden"], cfg["dropout"])
    model.load_state_dict(payload["state_dict"])
    return model
