"""Training a denoiser: DDPM's simplified objective with label dropout for guidance.

Used in: chapters 4, 5, 9.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from genai_course.core.train import History, fit
from genai_course.diffusion.samplers import null_condition, randn_like_cpu
from genai_course.diffusion.schedule import NoiseSchedule


def training_targets(x0: torch.Tensor, labels: torch.Tensor | None, t: torch.Tensor,
                     noise: torch.Tensor, alphas_cumprod: torch.Tensor,
                     drop_mask: torch.Tensor | None, null_label: Any
                     ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """What the denoiser sees and must predict, for given draws (Ho et al. 2020, eq. 14):
    ``(x_t, labels', noise)`` with ``x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise`` and
    ``labels'`` the labels with the rows of ``drop_mask`` replaced by ``null_label`` (label
    dropout, Ho & Salimans 2022); ``labels`` None (an unconditional model) stays None.
    ``null_label`` is an int or a tensor of the labels' shape (a caption model's empty
    caption)."""
    x_t = NoiseSchedule.from_alphas_cumprod(alphas_cumprod).q_sample(x0, t, noise)
    if labels is not None:
        drop = drop_mask.reshape(len(labels), *[1] * (labels.ndim - 1)).to(labels.device)
        labels = torch.where(drop, torch.as_tensor(null_label, device=labels.device), labels)
    return x_t, labels, noise


def diffusion_loss(model: nn.Module, schedule: NoiseSchedule, x0: torch.Tensor,
                   labels: torch.Tensor | None = None, p_uncond: float = 0.0,
                   generator: torch.Generator | None = None,
                   targets: Callable[..., tuple] = training_targets) -> torch.Tensor:
    """DDPM's simplified objective (Ho et al. 2020, eq. 14),
    ``mean || target - model(x_t, t, labels') ||^2`` over every element, with
    ``(x_t, labels', target)`` from :func:`training_targets` (or ``targets``, a function with
    its signature) at random draws: ``t`` uniform on 0..T-1, standard normal noise and, with
    ``labels``, each label replaced by the null label with probability ``p_uncond`` (so one
    network learns both the conditional and the unconditional model). The null label is
    passed as an int, or as a tensor for a model that defines ``null_condition``."""
    if not 0 <= p_uncond <= 1:
        raise ValueError(f"p_uncond must lie in [0, 1], got {p_uncond}")
    n = x0.shape[0]
    t = torch.randint(schedule.T, (n,), generator=generator).to(x0.device)
    noise = randn_like_cpu(x0, generator)
    drop = null = None
    if labels is not None:
        drop = torch.rand(n, generator=generator).to(x0.device) < p_uncond
        null = (null_condition(model, labels) if hasattr(model, "null_condition")
                else int(model.null_class))
    x_t, shown, target = targets(x0, labels, t, noise, schedule.alphas_cumprod.to(x0.device),
                                 drop, null)
    return F.mse_loss(model(x_t, t, shown), target)


def train_diffusion(model: nn.Module, schedule: NoiseSchedule, x: torch.Tensor,
                    labels: torch.Tensor | None = None, steps: int = 2000,
                    batch_size: int = 128, lr: float = 1e-3, seed: int = 0,
                    p_uncond: float = 0.1, progress: bool | None = None,
                    desc: str = "diffusion", targets: Callable[..., tuple] = training_targets
                    ) -> History:
    """Fit a denoiser by :func:`diffusion_loss` (with ``targets``, :func:`training_targets` or
    a function with its signature, e.g. your own) with Adam, the learning rate decayed to 0 over
    ``steps`` on a cosine and gradients clipped to norm 1. Minibatches, steps and noise come
    from generators seeded with ``seed``; records ``loss`` per step; ends in eval mode."""
    if not isinstance(x, torch.Tensor) or tuple(x.shape[1:]) != tuple(model.data_shape):
        shape = ", ".join(map(str, model.data_shape))
        raise ValueError(f"x must be a tensor of shape (N, {shape}), got "
                         f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
    if labels is not None and labels.shape[:1] != x.shape[:1]:
        raise ValueError(f"labels must have shape ({x.shape[0]}, ...), one row per example, "
                         f"got {tuple(labels.shape)}")
    generator = torch.Generator().manual_seed(seed + 1)

    def loss_fn(xb: torch.Tensor, *yb: torch.Tensor) -> torch.Tensor:
        return diffusion_loss(model, schedule, xb, yb[0] if yb else None, p_uncond, generator,
                              targets)

    tensors = (x, labels) if labels is not None else (x,)
    return fit(model, loss_fn, tensors, steps=steps, batch_size=batch_size, seed=seed, lr=lr,
               lr_schedule="cosine", clip_norm=1.0, desc=desc, progress=progress)


@torch.no_grad()
def evaluate_loss(model: nn.Module, schedule: NoiseSchedule, x: torch.Tensor,
                  labels: torch.Tensor | None = None, repeats: int = 4, seed: int = 0) -> float:
    """Mean :func:`diffusion_loss` over ``repeats`` seeded passes through ``x`` (held-out)."""
    generator = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    model.eval()
    losses = [diffusion_loss(model, schedule, x.to(device),
                             None if labels is None else labels.to(device), 0.0, generator).item()
              for _ in range(repeats)]
    return sum(losses) / len(losses)
