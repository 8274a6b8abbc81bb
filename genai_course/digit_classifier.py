"""A small convolutional classifier for the 8x8 digits: the judge of generated digits.

Chapter 4 asks whether a class-conditional diffusion model draws the digit it was asked
for; this network, trained on the real training digits only and shipped as the
``digits-classifier`` checkpoint, answers it (the same idea as the Inception network behind
FID and the Inception score, at the scale of 8x8 digits). It is trained with light
augmentation (one-pixel shifts and a little Gaussian noise) so that it judges shapes, not
exact pixel values.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .runtime import seeded
from .train import minibatches, run

#: How ``digits-classifier`` is built and trained (``genai-course retrain digits-classifier``).
DIGIT_CLASSIFIER = {"channels": (32, 64), "hidden": 128, "dropout": 0.3, "steps": 2000,
                    "batch_size": 128, "lr": 2e-3, "weight_decay": 1e-4, "noise": 0.1}


class DigitClassifier(nn.Module):
    """``conv3x3 -> ReLU -> conv3x3 -> ReLU -> maxpool -> Linear -> ReLU -> dropout ->
    Linear``: logits over the 10 digits for images (N, 1, 8, 8) in [-1, 1]."""

    def __init__(self, channels: tuple[int, int] = (32, 64), hidden: int = 128,
                 dropout: float = 0.3, seed: int | None = None) -> None:
        super().__init__()
        c1, c2 = channels
        with seeded(seed):
            self.features = nn.Sequential(
                nn.Conv2d(1, c1, 3, padding=1), nn.ReLU(),
                nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten())
            self.head = nn.Sequential(nn.Linear(c2 * 16, hidden), nn.ReLU(),
                                      nn.Dropout(dropout), nn.Linear(hidden, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or tuple(x.shape[1:]) != (1, 8, 8):
            raise ValueError(f"x must have shape (N, 1, 8, 8), got {tuple(x.shape)}")
        return self.head(self.features(x))


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """The most probable digit (N,) int64 for images (N, 1, 8, 8) in [-1, 1]."""
    model.eval()
    device = next(model.parameters()).device
    return torch.cat([model(images[i : i + batch_size].to(device)).argmax(1).cpu()
                      for i in range(0, len(images), batch_size)])


def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of ``images`` whose predicted digit equals ``labels``."""
    if labels.shape != images.shape[:1]:
        raise ValueError(f"labels must have shape ({len(images)},), got {tuple(labels.shape)}")
    return float((predict(model, images) == labels.cpu()).double().mean())


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


def train_digit_classifier(seed: int = 0, config: dict[str, Any] | None = None
                           ) -> dict[str, Any]:
    """Train on the training digits with augmentation (checkpoint trainer); the metrics hold
    the accuracy on the 359 held-out test digits."""
    from .data.digits import load_digits

    cfg = {**DIGIT_CLASSIFIER, **(config or {})}
    torch.manual_seed(seed)  # dropout masks
    x, y = load_digits("train")
    x_test, y_test = load_digits("test")
    model = DigitClassifier(tuple(cfg["channels"]), cfg["hidden"], cfg["dropout"], seed=seed)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    lr_schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg["steps"])
    generator = torch.Generator().manual_seed(seed + 1)
    model.train()

    def step(xb: torch.Tensor, yb: torch.Tensor) -> dict[str, float]:
        loss = F.cross_entropy(model(augment(xb, generator, cfg["noise"])), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        lr_schedule.step()
        return {"loss": loss.item()}

    run(step, minibatches(x, y, batch_size=cfg["batch_size"], seed=seed), cfg["steps"],
        desc="digit classifier")
    model.eval()
    return {"config": {**cfg, "channels": list(cfg["channels"])},
            "state_dict": model.state_dict(), "extra": {},
            "metrics": {"test_accuracy": accuracy(model, x_test, y_test),
                        "train_accuracy": accuracy(model, x, y)}}


def load_digit_classifier(payload: dict[str, Any]) -> DigitClassifier:
    """Rebuild the classifier from a ``digits-classifier`` payload."""
    cfg = payload["config"]
    model = DigitClassifier(tuple(cfg["channels"]), cfg["hidden"], cfg["dropout"])
    model.load_state_dict(payload["state_dict"])
    return model
