"""An attribute classifier for the shapes pictures: the independent judge of generated ones.

Does a picture generated for "a small blue square in the top left" show a small blue square
in the top left? A small CNN, trained with supervision on real pictures of *every*
colour-shape combination (the held-out ones included: it is a measuring instrument, not a
generative model) and with noise and blur augmentation (so generated pictures' artefacts do
not fool it), reads each attribute with its own output head. It shares nothing with the
chapter's CLIP, so CLIP-based scores and this judge are two separate witnesses. Its recipe is
:mod:`genai_course.pretrained.shapes_classifier`.

Used in: chapter 5 (and chapters 8 and 10).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from genai_course.data import shapes
from genai_course.multimodal.clip import conv_block
from genai_course.runtime import seeded


class AttributeClassifier(nn.Module):
    """Pictures (N, 3, S, S) in [-1, 1] -> one logit vector per attribute (a dict keyed by
    :data:`genai_course.data.shapes.NAMES`): a CNN down to (S/4) x (S/4), flattened (so the
    place survives), a hidden layer, and a linear head per attribute."""

    def __init__(self, image_size: int = 32, channels: tuple[int, int] = (32, 64),
                 hidden: int = 128, seed: int | None = None) -> None:
        super().__init__()
        c1, c2 = channels
        self.image_size = image_size
        with seeded(seed):
            self.features = nn.Sequential(
                *conv_block(3, c1), *conv_block(c1, c1, 2), *conv_block(c1, c2),
                *conv_block(c2, c2, 2), nn.Flatten(),
                nn.Linear(c2 * (image_size // 4) ** 2, hidden), nn.SiLU())
            self.heads = nn.ModuleDict({name: nn.Linear(hidden, len(values))
                                        for name, values in shapes.ATTRIBUTES.items()})

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        if images.ndim != 4 or tuple(images.shape[1:]) != (3, self.image_size, self.image_size):
            raise ValueError(f"images must have shape (N, 3, {self.image_size}, "
                             f"{self.image_size}), got {tuple(images.shape)}")
        h = self.features(images)
        return {name: head(h) for name, head in self.heads.items()}

    def loss(self, images: torch.Tensor, attributes: torch.Tensor) -> torch.Tensor:
        """Sum over the attributes of the cross-entropy of each head."""
        logits = self(images)
        return sum(F.cross_entropy(logits[name], attributes[:, j])
                   for j, name in enumerate(shapes.NAMES))


@torch.no_grad()
def predict_attributes(model: AttributeClassifier, images: torch.Tensor,
                       batch_size: int = 512) -> torch.Tensor:
    """The most probable value of each attribute, (N, 4) int64 in the column order of
    :data:`genai_course.data.shapes.NAMES`."""
    model.eval()
    device = next(model.parameters()).device
    out = []
    for i in range(0, len(images), batch_size):
        logits = model(images[i:i + batch_size].to(device))
        out.append(torch.stack([logits[name].argmax(1) for name in shapes.NAMES], 1).cpu())
    return torch.cat(out)


def attribute_accuracy(predicted: torch.Tensor, attributes: torch.Tensor) -> dict[str, float]:
    """Share of rows with each attribute right, and with ``"all"`` four right."""
    if predicted.shape != attributes.shape or predicted.ndim != 2:
        raise ValueError(f"predicted and attributes must both have shape (N, 4), got "
                         f"{tuple(predicted.shape)} and {tuple(attributes.shape)}")
    right = predicted == attributes
    scores = {name: float(right[:, j].double().mean()) for j, name in enumerate(shapes.NAMES)}
    scores["all"] = float(right.all(dim=1).double().mean())
    return scores
