"""Recipe of the shipped ``shapes-classifier`` checkpoint: the attribute classifier of
:mod:`genai_course.evaluation.shapes_classifier`, trained on pictures of *all* colour-shape
combinations with Gaussian noise and blur augmentation, so that it judges generated pictures
(with their soft edges and speckle) by their content.

Used in: chapter 5 (and chapters 8 and 10).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from genai_course.core.train import fit
from genai_course.data import shapes
from genai_course.evaluation.shapes_classifier import (
    AttributeClassifier,
    attribute_accuracy,
    predict_attributes,
)

#: How ``shapes-classifier`` is built and trained.
CONFIG: dict[str, Any] = {"channels": (16, 32), "hidden": 128, "n_train": 20000, "steps": 1000,
                          "batch_size": 128, "lr": 2e-3, "noise": 0.15, "blur_p": 0.5,
                          "n_test": 2000}


def augment(images: torch.Tensor, generator: torch.Generator, noise: float, blur_p: float
            ) -> torch.Tensor:
    """Blur a random ``blur_p`` share of the pictures with a 3x3 box filter, then add
    N(0, (u * noise)^2) per pixel with u uniform in [0, 1] per picture."""
    n = len(images)
    kernel = torch.full((3, 1, 3, 3), 1 / 9)
    blurred = F.conv2d(F.pad(images, (1, 1, 1, 1), mode="replicate"), kernel, groups=3)
    pick = (torch.rand(n, generator=generator) < blur_p)[:, None, None, None]
    images = torch.where(pick, blurred, images)
    scale = torch.rand(n, 1, 1, 1, generator=generator) * noise
    return images + scale * torch.randn(images.shape, generator=generator)


def train(seed: int = 0, config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train the classifier; the metrics hold its accuracy on fresh pictures."""
    cfg = {**CONFIG, **(config or {})}
    torch.manual_seed(seed)
    data = shapes.make_shapes(cfg["n_train"], seed=3000 + seed, combos="all")
    test = shapes.make_shapes(cfg["n_test"], seed=4000 + seed, combos="all")
    model = AttributeClassifier(channels=tuple(cfg["channels"]), hidden=cfg["hidden"], seed=seed)
    generator = torch.Generator().manual_seed(seed + 1)

    def loss_fn(xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        return model.loss(augment(xb, generator, cfg["noise"], cfg["blur_p"]), yb)

    fit(model, loss_fn, (data.images, data.attributes), steps=cfg["steps"],
        batch_size=cfg["batch_size"], seed=seed, lr=cfg["lr"], lr_schedule="cosine",
        desc="shapes classifier")
    accuracy = attribute_accuracy(predict_attributes(model, test.images), test.attributes)
    return {"config": {**cfg, "channels": list(cfg["channels"])},
            "state_dict": model.state_dict(), "extra": {},
            "metrics": {f"test_accuracy_{k}": v for k, v in accuracy.items()}}


def load(payload: dict[str, Any]) -> AttributeClassifier:
    """Rebuild the classifier from a payload."""
    cfg = payload["config"]
    model = AttributeClassifier(channels=tuple(cfg["channels"]), hidden=cfg["hidden"])
    model.load_state_dict(payload["state_dict"])
    return model
