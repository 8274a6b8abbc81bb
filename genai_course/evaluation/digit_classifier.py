"""A small convolutional classifier for the 8x8 digits: the judge of generated digits.

Chapter 4 asks whether a class-conditional diffusion model draws the digit it was asked
for; this network, trained on the real training digits only and shipped as the
``digits-classifier`` checkpoint, answers it (the same idea as the Inception network behind
FID and the Inception score, at the scale of 8x8 digits). It is trained with light
augmentation (one-pixel shifts and a little Gaussian noise) so that it judges shapes, not
exact pixel values. Its recipe is :mod:`genai_course.pretrained.digits_classifier`.

Used in: chapters 4, 8, 9, 10.
"""

from __future__ import annotations

import torch
from torch import nn

from genai_course.runtime import seeded


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


def evaluate_accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of ``images`` whose predicted digit equals ``labels``."""
    if labels.shape != images.shape[:1]:
        raise ValueError(f"labels must have shape ({len(images)},), got {tuple(labels.shape)}")
    return float((predict(model, images) == labels.cpu()).double().mean())
