"""Measured trade-offs of diffusion sampling: steps against quality and time, and the
guidance scale against accuracy and diversity.

Used in: chapter 4 and ``benchmarks/diffusion_tradeoffs.py``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from genai_course.diffusion.samplers import DDIM, DDPM, sample
from genai_course.diffusion.schedule import NoiseSchedule
from genai_course.evaluation.digit_classifier import predict
from genai_course.evaluation.distances import mean_pairwise_distance, mmd_rbf, sliced_wasserstein

#: The 2-D study of Chapter 4 and ``benchmarks/diffusion_tradeoffs.py``: an
#: :class:`MLPDenoiser` trained on ``toy2d.checkerboard`` (the data set's own defaults: a
#: 4 x 4 board on [-2, 2]^2) with a cosine schedule of T = 1000 steps.
CHECKERBOARD_DEMO = {"n_train": 10000, "hidden": 128, "n_blocks": 3, "T": 1000,
                     "steps": 6000, "batch_size": 256, "lr": 3e-3}


def sampling_study(model: nn.Module, schedule: NoiseSchedule, reference: torch.Tensor,
                   n: int = 2000, settings: Sequence[tuple[str, int | None]] = (
                       ("ddpm", None), ("ddim", 100), ("ddim", 50), ("ddim", 20), ("ddim", 10)),
                   seed: int = 0, spacing: str = "leading", clip_x0: float | None = None
                   ) -> list[dict[str, Any]]:
    """Sample ``n`` points with each ``(sampler, steps)`` of ``settings`` (same seed; DDIM
    visits steps with ``spacing``, see :func:`~genai_course.diffusion.samplers.ddim_timesteps`,
    and both clip the predicted x0 to ``[-clip_x0, clip_x0]`` when given) and
    measure the wall time and two distances to ``reference`` (held-out data): the unbiased
    squared MMD and the sliced 1-Wasserstein distance (:mod:`genai_course.evaluation.distances`).
    Returns one dict per setting: sampler, steps, network evaluations, seconds, mmd,
    sliced_wasserstein, samples."""
    rows = []
    for sampler, steps in settings:
        start = time.perf_counter()
        runner = (DDPM(schedule, clip_x0=clip_x0) if sampler == "ddpm"
                  else DDIM(schedule, clip_x0=clip_x0, spacing=spacing))
        x = sample(model, runner, n, steps=steps, seed=seed, progress=False)
        seconds = time.perf_counter() - start
        k = schedule.T if steps is None else steps
        rows.append({"sampler": sampler.upper(), "steps": k, "seconds": seconds,
                     "mmd": mmd_rbf(x, reference), "sliced_wasserstein": sliced_wasserstein(
                         x, reference), "samples": x.cpu()})
    return rows


def guidance_study(model: nn.Module, classifier: nn.Module, real: torch.Tensor,
                   real_labels: torch.Tensor, scales: Sequence[float] = (0.0, 1.0, 3.0, 5.0),
                   per_class: int = 20, steps: int = 50, seed: int = 0
                   ) -> list[dict[str, Any]]:
    """For each guidance scale ``w``: draw ``per_class`` DDIM samples (``steps`` steps, images
    clipped to [-1, 1], the same noise for every ``w``) of each class and measure

    * ``accuracy``: the share the ``classifier`` recognises as the requested class;
    * ``diversity``: the mean pairwise distance within each class divided by that of the
      ``real`` images of the class (1 = as spread out as real data), averaged over classes;
    * ``class_mmd``: the squared MMD between the samples of each class and the ``real`` images
      of that class, averaged over classes (0 = the class is reproduced, spread included).

    Returns one dict per scale with those, ``w``, ``seconds``, ``samples`` and ``labels``.
    """
    classes = int(model.num_classes)
    labels = torch.arange(classes).repeat_interleave(per_class)
    real_by_class = [real[real_labels == c] for c in range(classes)]
    real_spread = [mean_pairwise_distance(r) for r in real_by_class]
    rows = []
    for w in scales:
        start = time.perf_counter()
        x = sample(model, DDIM(model.schedule, clip_x0=1.0), len(labels), steps=steps,
                   labels=labels, guidance_scale=w, seed=seed, progress=False).cpu()
        seconds = time.perf_counter() - start
        by_class = [x[labels == c] for c in range(classes)]
        rows.append({
            "w": float(w), "seconds": seconds, "samples": x, "labels": labels,
            "accuracy": float((predict(classifier, x) == labels).double().mean()),
            "diversity": sum(mean_pairwise_distance(g) / s
                             for g, s in zip(by_class, real_spread, strict=True)) / classes,
            "class_mmd": sum(mmd_rbf(g, r) for g, r in zip(by_class, real_by_class, strict=True))
            / classes})
    return rows
