"""The noise schedule of a diffusion model and the maths of its forward process.

Notation (Ho et al., "Denoising Diffusion Probabilistic Models", 2020), with the step index
shifted by one so that ``t = 0 .. T-1`` indexes tensors directly (the paper's ``t = 1 .. T``):

* ``beta_t`` the variance added at step t, ``alpha_t = 1 - beta_t``,
  ``abar_t = prod_{s <= t} alpha_s`` (``alphas_cumprod``), and ``abar_{-1} = 1`` (clean data);
* forward process in closed form (eq. 4): ``x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps``;
* signal-to-noise ratio ``SNR(t) = abar_t / (1 - abar_t)`` (Kingma et al. 2021, eq. 2);
* predicted clean data (eq. 15): ``x0_hat = (x_t - sqrt(1 - abar_t) eps_hat) / sqrt(abar_t)``;
* posterior ``q(x_{t-1} | x_t, x_0) = N(mu_t, beta_tilde_t I)`` (eq. 6-7) with
  ``mu_t = sqrt(abar_{t-1}) beta_t / (1 - abar_t) x_0
  + sqrt(alpha_t) (1 - abar_{t-1}) / (1 - abar_t) x_t`` and
  ``beta_tilde_t = (1 - abar_{t-1}) / (1 - abar_t) beta_t``.

The reverse steps that use these (DDPM, DDIM) are in :mod:`genai_course.diffusion.samplers`.

Used in: chapters 4, 5, 9, 10.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from genai_course.core.checks import check_int, check_same_shape


def cosine_alphas_cumprod(T: int, s: float = 0.008) -> torch.Tensor:
    """Nichol & Dhariwal (2021, eq. 17): ``abar_t = f(t) / f(0)`` with
    ``f(t) = cos^2(((t / T + s) / (1 + s)) pi / 2)`` for the paper's t = 1..T, stored at
    indices ``0 .. T-1``; float64, unclipped (the last entry is f(T) / f(0), about 0)."""
    T = check_int(T, "T", 1)
    if not s >= 0:
        raise ValueError(f"s must be >= 0, got {s}")
    steps = torch.arange(T + 1, dtype=torch.float64)
    f = torch.cos((steps / T + s) / (1 + s) * math.pi / 2) ** 2
    return f[1:] / f[0]


class NoiseSchedule:
    """The variances ``beta_0 .. beta_{T-1}`` of a diffusion and everything derived from them.

    All schedule tensors are float64 (``1 - abar_t`` loses digits in float32 when ``abar_t``
    is close to 1); the methods cast the coefficients they use to the dtype of their inputs.
    Build one with :meth:`linear` or :meth:`cosine`, or from any betas in (0, 1).
    """

    def __init__(self, betas: torch.Tensor | Sequence[float]) -> None:
        b = torch.as_tensor(betas, dtype=torch.float64).detach().cpu()
        if b.ndim != 1 or b.numel() == 0:
            raise ValueError(f"betas must be a non-empty 1-D sequence, got shape {tuple(b.shape)}")
        if not torch.all((b > 0) & (b < 1)):
            raise ValueError("betas must lie strictly between 0 and 1")
        self.betas = b
        self.alphas = 1.0 - b
        self.alphas_cumprod = torch.cumprod(self.alphas, dim=0)
        #: ``abar_{t-1}``, with ``abar_{-1} = 1``.
        self.alphas_cumprod_prev = torch.cat([b.new_ones(1), self.alphas_cumprod[:-1]])
        #: ``beta_tilde_t = (1 - abar_{t-1}) / (1 - abar_t) beta_t`` (Ho et al. eq. 7); 0 at t=0.
        self.posterior_variance = (1 - self.alphas_cumprod_prev) / (1 - self.alphas_cumprod) * b

    @classmethod
    def linear(cls, T: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02
               ) -> NoiseSchedule:
        """DDPM's schedule: ``beta`` linear from ``beta_start`` to ``beta_end`` over ``T``
        steps (Ho et al. 2020, section 4)."""
        T = check_int(T, "T", 1)
        if not 0 < beta_start <= beta_end < 1:
            raise ValueError(f"need 0 < beta_start <= beta_end < 1, got {beta_start}, {beta_end}")
        return cls(torch.linspace(beta_start, beta_end, T, dtype=torch.float64))

    @classmethod
    def cosine(cls, T: int = 1000, s: float = 0.008, max_beta: float = 0.999) -> NoiseSchedule:
        """Nichol & Dhariwal (2021, eq. 17): :func:`cosine_alphas_cumprod`, with the betas
        ``1 - abar_t / abar_{t-1}`` clipped to ``max_beta`` (which changes only the last step,
        where f(T) = 0)."""
        return cls.from_alphas_cumprod(cosine_alphas_cumprod(T, s), max_beta=max_beta)

    @classmethod
    def from_alphas_cumprod(cls, alphas_cumprod: torch.Tensor | Sequence[float],
                            max_beta: float | None = None) -> NoiseSchedule:
        """The schedule whose ``abar_t`` are ``alphas_cumprod`` (decreasing, in (0, 1]):
        ``beta_t = 1 - abar_t / abar_{t-1}`` with ``abar_{-1} = 1``, clipped to
        ``[1e-12, max_beta]`` when ``max_beta`` is given (a schedule that ends at
        ``abar = 0`` needs it)."""
        abar = torch.as_tensor(alphas_cumprod, dtype=torch.float64).detach().cpu()
        if abar.ndim != 1 or abar.numel() == 0:
            raise ValueError(f"alphas_cumprod must be a non-empty 1-D sequence, got shape "
                             f"{tuple(abar.shape)}")
        betas = 1 - abar / torch.cat([abar.new_ones(1), abar[:-1]])
        if max_beta is not None:
            if not 0 < max_beta < 1:
                raise ValueError(f"max_beta must lie in (0, 1), got {max_beta}")
            betas = betas.clamp(min=1e-12, max=max_beta)
        return cls(betas)

    @classmethod
    def named(cls, kind: str, T: int) -> NoiseSchedule:
        """``NoiseSchedule.named("linear" | "cosine", T)``: the schedule a checkpoint's
        config names."""
        kinds = {"linear": cls.linear, "cosine": cls.cosine}
        if kind not in kinds:
            raise ValueError(f"schedule must be one of {sorted(kinds)}, got {kind!r}")
        return kinds[kind](T)

    @property
    def T(self) -> int:
        """Number of diffusion steps."""
        return self.betas.numel()

    def __repr__(self) -> str:
        return (f"NoiseSchedule(T={self.T}, beta {self.betas[0].item():.3g} .. "
                f"{self.betas[-1].item():.3g}, abar_T-1 = {self.alphas_cumprod[-1].item():.3g})")

    def _at(self, values: torch.Tensor, t: int | torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``values[t]`` cast to ``x``'s dtype and device, shaped to broadcast against ``x``
        (one value per row when ``t`` is a tensor of shape (n,))."""
        if isinstance(t, torch.Tensor):
            if t.ndim == 0:
                t = int(t)
            elif t.shape != x.shape[:1] or t.dtype not in (torch.int64, torch.int32):
                raise ValueError(f"t must be an int or an int64 tensor of shape "
                                 f"({x.shape[0]},), got {t.dtype} {tuple(t.shape)}")
        if isinstance(t, torch.Tensor):
            if t.min() < 0 or t.max() >= self.T:
                raise ValueError(f"t must lie in 0..{self.T - 1}")
            v = values[t.cpu()].reshape(-1, *([1] * (x.ndim - 1)))
        else:
            t = check_int(t, "t", 0)
            if t >= self.T:
                raise ValueError(f"t must lie in 0..{self.T - 1}, got {t}")
            v = values[t]
        return v.to(device=x.device, dtype=x.dtype)

    def snr(self, t: int | torch.Tensor | None = None) -> torch.Tensor:
        """``SNR(t) = abar_t / (1 - abar_t)`` (Kingma et al. 2021), float64; all T values
        when ``t`` is None."""
        snr = self.alphas_cumprod / (1 - self.alphas_cumprod)
        if t is None:
            return snr
        t = torch.as_tensor(t)
        if t.min() < 0 or t.max() >= self.T:
            raise ValueError(f"t must lie in 0..{self.T - 1}")
        return snr[t]

    def q_sample(self, x0: torch.Tensor, t: int | torch.Tensor, noise: torch.Tensor
                 ) -> torch.Tensor:
        """``x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise`` (Ho et al. eq. 4); ``t`` an int or
        one step per row of ``x0``."""
        check_same_shape(noise, x0, "noise", "x0")
        abar = self._at(self.alphas_cumprod, t, x0)
        return abar.sqrt() * x0 + (1 - abar).sqrt() * noise

    def predict_x0(self, eps: torch.Tensor, t: int | torch.Tensor, x_t: torch.Tensor
                   ) -> torch.Tensor:
        """``x0_hat = (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t)`` (Ho et al. eq. 15)."""
        check_same_shape(eps, x_t, "eps", "x_t")
        abar = self._at(self.alphas_cumprod, t, x_t)
        return (x_t - (1 - abar).sqrt() * eps) / abar.sqrt()

    def posterior_mean(self, x0: torch.Tensor, t: int | torch.Tensor, x_t: torch.Tensor
                       ) -> torch.Tensor:
        """Mean of ``q(x_{t-1} | x_t, x_0)`` (Ho et al. eq. 7); equals ``x0`` at t = 0."""
        check_same_shape(x0, x_t, "x0", "x_t")
        abar, abar_prev = (self._at(self.alphas_cumprod, t, x_t),
                           self._at(self.alphas_cumprod_prev, t, x_t))
        beta, alpha = self._at(self.betas, t, x_t), self._at(self.alphas, t, x_t)
        return (abar_prev.sqrt() * beta / (1 - abar) * x0
                + alpha.sqrt() * (1 - abar_prev) / (1 - abar) * x_t)
