"""A small learned detector and how it is scored: the classifier behind the content filter
and the generated-image detector of chapter 10.

* :class:`Detector` -- logistic regression (or one hidden layer) on standardised features,
  trained with the course's one loop :func:`~genai_course.core.train.fit`;
* :func:`binary_report` -- precision, recall, accuracy, false-positive rate at a threshold,
  and the area under the ROC curve (scikit-learn's ``roc_auc_score``; Fawcett 2006).

Used in: chapter 10.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score
from torch import nn

from genai_course.core.checks import check_int
from genai_course.core.train import History, fit
from genai_course.runtime import seeded


class Detector(nn.Module):
    """``sigmoid(f((x - mean) / std))`` with ``f`` linear (``hidden=0``) or a one-hidden-layer
    MLP: the probability that ``x`` is positive (harmful text, a generated image)."""

    def __init__(self, n_features: int, hidden: int = 0, seed: int | None = None) -> None:
        super().__init__()
        check_int(n_features, "n_features", 1)
        check_int(hidden, "hidden")
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("std", torch.ones(n_features))
        with seeded(seed):
            self.net = (nn.Linear(n_features, 1) if hidden == 0 else
                        nn.Sequential(nn.Linear(n_features, hidden), nn.ReLU(),
                                      nn.Linear(hidden, 1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits, shape ``(n,)``."""
        return self.net((x - self.mean) / self.std).squeeze(-1)

    @torch.no_grad()
    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        """The probability of the positive class for each row of ``x``."""
        return torch.sigmoid(self(x))


def train_detector(features: torch.Tensor, labels: torch.Tensor, *, hidden: int = 0,
                   steps: int = 500, batch_size: int = 128, lr: float = 1e-2,
                   weight_decay: float = 1e-3, seed: int = 0) -> tuple[Detector, History]:
    """Standardise ``features`` (``(n, d)`` float) with their mean and standard deviation,
    then fit a :class:`Detector` to the 0/1 ``labels`` by binary cross-entropy."""
    if features.ndim != 2 or labels.shape != (len(features),):
        raise ValueError(f"need features (n, d) and labels (n,), got {tuple(features.shape)} "
                         f"and {tuple(labels.shape)}")
    detector = Detector(features.shape[1], hidden, seed=seed)
    detector.mean.copy_(features.mean(0))
    detector.std.copy_(features.std(0).clamp(min=1e-6))
    y = labels.float()

    def loss_fn(x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(detector(x), target)

    history = fit(detector, loss_fn, (features.float(), y), steps=steps, batch_size=batch_size,
                  seed=seed, lr=lr, weight_decay=weight_decay, desc="detector")
    return detector, history


def binary_report(labels: torch.Tensor | np.ndarray, scores: torch.Tensor | np.ndarray,
                  threshold: float = 0.5) -> dict[str, float]:
    """How well ``scores`` (higher = more likely positive) separate the 0/1 ``labels``:
    ``precision``, ``recall`` (true-positive rate), ``false_positive_rate`` and ``accuracy``
    of the rule ``score >= threshold``, and ``auc``. Precision is NaN when nothing is
    flagged; AUC is NaN when only one class is present."""
    y = np.asarray(labels).astype(bool)
    s = np.asarray(scores, dtype=np.float64)
    if y.shape != s.shape or y.ndim != 1:
        raise ValueError(f"labels and scores must be 1-D of the same length, got {y.shape} "
                         f"and {s.shape}")
    flagged = s >= threshold
    tp, fp = int((flagged & y).sum()), int((flagged & ~y).sum())
    fn, tn = int((~flagged & y).sum()), int((~flagged & ~y).sum())
    return {"precision": tp / (tp + fp) if tp + fp else float("nan"),
            "recall": tp / (tp + fn) if tp + fn else float("nan"),
            "false_positive_rate": fp / (fp + tn) if fp + tn else float("nan"),
            "accuracy": (tp + tn) / len(y),
            "auc": float(roc_auc_score(y, s)) if 0 < y.sum() < len(y) else float("nan")}
