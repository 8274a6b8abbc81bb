"""Synthetic training data: does a generator's output help a classifier with few real examples?

The set-up of "train on real, train on synthetic, test on real" studies (TSTR: Esteban et
al. 2017; for diffusion models, Azizi et al. 2023, "Synthetic data from diffusion models
improves ImageNet classification"):

* :func:`few_shot_subset` -- ``per_class`` real training digits of each class (seeded);
* :func:`train_digit_classifier` -- a small CNN (chapter 4's
  :class:`~genai_course.evaluation.digit_classifier.DigitClassifier`, narrower) trained
  with :func:`~genai_course.core.train.fit`, optionally with classic augmentation (the
  one-pixel shifts and noise of :func:`genai_course.pretrained.digits_classifier.augment`);
* :func:`augmentation_study` -- test accuracy on the real held-out digits for each
  training set, over several seeds, as mean and standard deviation.

The synthetic digits come from chapter 4's class-conditional diffusion model
(``ddpm-digits``). That model was trained on all 1,438 real training digits, so "5 real
digits per class plus synthetic ones" is not a five-shot learner: the generator carries what
it learned from the whole training set (a form of distillation). The study measures what
that knowledge is worth, and when a poor generator makes things worse.

Used in: chapter 9.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from genai_course.core.checks import check_int
from genai_course.core.train import fit
from genai_course.evaluation.digit_classifier import DigitClassifier, evaluate_accuracy
from genai_course.pretrained.digits_classifier import augment

Pair = tuple[torch.Tensor, torch.Tensor]


def few_shot_subset(x: torch.Tensor, y: torch.Tensor, per_class: int, seed: int = 0) -> Pair:
    """``per_class`` examples of each of the 10 classes, drawn without replacement."""
    per_class = check_int(per_class, "per_class", 1)
    generator = torch.Generator().manual_seed(seed)
    picks = []
    for digit in range(10):
        idx = torch.nonzero(y == digit)[:, 0]
        if len(idx) < per_class:
            raise ValueError(f"only {len(idx)} examples of class {digit}")
        picks.append(idx[torch.randperm(len(idx), generator=generator)[:per_class]])
    chosen = torch.cat(picks)
    return x[chosen], y[chosen]


def train_digit_classifier(x: torch.Tensor, y: torch.Tensor, *, steps: int, seed: int = 0,
                           classic_augmentation: bool = False, batch_size: int = 64,
                           lr: float = 3e-3) -> DigitClassifier:
    """A narrow :class:`DigitClassifier` (16 and 32 channels) trained on ``x, y``; with
    ``classic_augmentation`` every batch is shifted by a pixel and noised (noise 0.1)."""
    torch.manual_seed(seed)  # dropout masks
    model = DigitClassifier((16, 32), hidden=64, seed=seed)
    generator = torch.Generator().manual_seed(seed + 1)

    def loss_fn(xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        if classic_augmentation:
            xb = augment(xb, generator, 0.1)
        return F.cross_entropy(model(xb), yb)

    fit(model, loss_fn, (x, y), steps=steps, batch_size=min(batch_size, len(x)), seed=seed,
        lr=lr, weight_decay=1e-4, desc="few-shot classifier", progress=False)
    return model


def augmentation_study(real: Pair, test: Pair, synthetic: Mapping[str, Pair], *,
                       sizes: Sequence[int], seeds: Sequence[int], steps: int,
                       synthetic_only: Sequence[str] = ()) -> list[dict]:
    """For each real-data size and each seed: classifiers trained on the real subset alone,
    with classic augmentation, and with each synthetic set added (``"real + <name>"``); for
    the names in ``synthetic_only``, also on the synthetic set alone (``"<name> only"``,
    once per seed, not per size). Returns one row per (size, training set) with the test
    accuracies per seed, their mean and standard deviation."""
    rows: dict[tuple[int, str], list[float]] = {}

    def record(size: int, name: str, x: torch.Tensor, y: torch.Tensor, seed: int,
               classic: bool = False) -> None:
        model = train_digit_classifier(x, y, steps=steps, seed=seed, classic_augmentation=classic)
        rows.setdefault((size, name), []).append(evaluate_accuracy(model, *test))

    for seed in seeds:
        for name in synthetic_only:
            record(0, f"{name} only", *synthetic[name], seed)
        for size in sizes:
            x, y = few_shot_subset(*real, size, seed)
            record(size, "real", x, y, seed)
            record(size, "real + classic augmentation", x, y, seed, classic=True)
            for name, (xs, ys) in synthetic.items():
                record(size, f"real + {name}", torch.cat([x, xs]), torch.cat([y, ys]), seed)
    return [{"per_class": size, "training set": name, "accuracies": accs,
             "mean": float(np.mean(accs)), "std": float(np.std(accs, ddof=1)) if len(accs) > 1
             else float("nan")} for (size, name), accs in rows.items()]
