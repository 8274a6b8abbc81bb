"""The diffusion maths on plain tensors: the reference versions of chapter 4's exercises.

Each function takes the schedule as a tensor (``alphas_cumprod`` or ``betas``, float64, step
``t`` at index ``t``, ``abar_{-1} = 1``) instead of a
:class:`~genai_course.diffusion.schedule.NoiseSchedule`, and calls the package's own
implementation:

* :func:`q_sample` -- ``x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps`` (Ho et al. 2020, eq. 4);
* :func:`posterior_mean` -- the mean of ``q(x_{t-1} | x_t, x0)`` (eq. 7);
* :func:`ddpm_step` -- ancestral sampling (Alg. 2);
* :func:`ddim_step` -- Song, Meng & Ermon (2021, eq. 12), ``sigma`` of eq. 16 times ``eta``.

It also re-exports the other references, so that one namespace holds all of them:
:func:`~genai_course.diffusion.schedule.cosine_alphas_cumprod`,
:func:`~genai_course.diffusion.training.training_targets` (the regression's input and target,
with label dropout) and :func:`~genai_course.diffusion.samplers.sampling_moves`.

Used in: chapter 4.
"""

from __future__ import annotations

import torch

from genai_course.diffusion.samplers import DDIM, DDPM, sampling_moves
from genai_course.diffusion.schedule import NoiseSchedule, cosine_alphas_cumprod
from genai_course.diffusion.training import training_targets

__all__ = ["cosine_alphas_cumprod", "ddim_step", "ddpm_step", "posterior_mean", "q_sample",
           "sampling_moves", "training_targets"]


def q_sample(x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor,
             alphas_cumprod: torch.Tensor) -> torch.Tensor:
    """``x_t`` for one step ``t[i]`` per row of ``x0`` (Ho et al. eq. 4), in ``x0``'s dtype."""
    return NoiseSchedule.from_alphas_cumprod(alphas_cumprod).q_sample(x0, t, noise)


def posterior_mean(x0: torch.Tensor, x_t: torch.Tensor, t: int, betas: torch.Tensor
                   ) -> torch.Tensor:
    """Mean of ``q(x_{t-1} | x_t, x0)`` (Ho et al. eq. 7); ``x0`` itself at ``t = 0``."""
    return NoiseSchedule(betas).posterior_mean(x0, t, x_t)


def ddpm_step(x_t: torch.Tensor, eps: torch.Tensor, t: int, betas: torch.Tensor,
              noise: torch.Tensor) -> torch.Tensor:
    """``x_{t-1} = mu_t(x0_hat, x_t) + sqrt(beta_tilde_t) noise``, no noise at ``t = 0``
    (Ho et al. Alg. 2)."""
    return DDPM(NoiseSchedule(betas)).step(eps, t, t - 1, x_t, noise=noise)


def ddim_step(x_t: torch.Tensor, eps: torch.Tensor, t: int, t_prev: int,
              alphas_cumprod: torch.Tensor, eta: float = 0.0,
              noise: torch.Tensor | None = None) -> torch.Tensor:
    """One DDIM step ``x_t -> x_{t_prev}`` (Song et al. 2021, eq. 12) with
    ``sigma = eta sqrt((1 - abar_prev) / (1 - abar_t)) sqrt(1 - abar_t / abar_prev)`` (eq. 16);
    ``t_prev = -1`` ends at clean data; ``noise`` is used only when ``eta > 0``."""
    sampler = DDIM(NoiseSchedule.from_alphas_cumprod(alphas_cumprod), eta=eta)
    return sampler.step(eps, t, t_prev, x_t, noise=noise)
