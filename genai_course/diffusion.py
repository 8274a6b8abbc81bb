"""Denoising diffusion: noise schedules, the forward process, DDPM and DDIM sampling,
classifier-free guidance, epsilon-prediction training, and the shipped ``ddpm-digits``.

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
  ``beta_tilde_t = (1 - abar_{t-1}) / (1 - abar_t) beta_t``;
* DDPM ancestral step: ``x_{t-1} = mu_t(x0_hat, x_t) + sqrt(beta_tilde_t) z`` (no noise at
  t = 0);
* DDIM step (Song, Meng & Ermon, "Denoising Diffusion Implicit Models", 2021, eq. 12) from t
  to any earlier t' (``t' = -1`` ends at clean data):
  ``x_t' = sqrt(abar_t') x0_hat + sqrt(1 - abar_t' - sigma^2) eps_hat + sigma z`` with
  ``sigma = eta sqrt((1 - abar_t') / (1 - abar_t)) sqrt(1 - abar_t / abar_t')`` (eq. 16);
  ``eta = 0`` is deterministic, ``eta = 1`` with consecutive steps is DDPM;
* classifier-free guidance (Ho & Salimans 2022):
  ``eps = eps_uncond + w (eps_cond - eps_uncond)``: ``w = 0`` ignores the label, ``w = 1`` is
  the conditional model, ``w > 1`` pushes samples further towards the label (the
  ``guidance_scale`` convention of Stable Diffusion);
* image-to-image editing (SDEdit, Meng et al. 2022): noise an image part of the way, then
  denoise it with a new condition (:func:`img2img`).

Denoisers here are called as ``model(x_t, t, labels)`` with ``t`` (n,) int64 steps and
``labels`` (n,) int64 or ``None``, and expose ``data_shape`` and ``num_classes`` (0 for an
unconditional model; a conditional one reserves label ``num_classes`` as the null label).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .checks import check_points
from .runtime import run_mode, seeded
from .train import History, minibatches, run
from .unet import ConditionEmbedding, UNet, check_count

StepCallback = Callable[[int, torch.Tensor, torch.Tensor], None]


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
        T = check_count(T, "T", 1)
        if not 0 < beta_start <= beta_end < 1:
            raise ValueError(f"need 0 < beta_start <= beta_end < 1, got {beta_start}, {beta_end}")
        return cls(torch.linspace(beta_start, beta_end, T, dtype=torch.float64))

    @classmethod
    def cosine(cls, T: int = 1000, s: float = 0.008, max_beta: float = 0.999) -> NoiseSchedule:
        """Nichol & Dhariwal (2021, eq. 17): ``abar(t) = f(t) / f(0)`` with
        ``f(t) = cos^2(((t / T + s) / (1 + s)) pi / 2)`` for the paper's t = 1..T, i.e.
        ``alphas_cumprod[i] = f(i + 1) / f(0)``; the betas ``1 - abar_t / abar_{t-1}`` are
        clipped to ``max_beta`` (which changes only the last step, where f(T) = 0)."""
        T = check_count(T, "T", 1)
        if not s >= 0:
            raise ValueError(f"s must be >= 0, got {s}")
        if not 0 < max_beta < 1:
            raise ValueError(f"max_beta must lie in (0, 1), got {max_beta}")
        steps = torch.arange(T + 1, dtype=torch.float64)
        f = torch.cos((steps / T + s) / (1 + s) * math.pi / 2) ** 2
        abar = f / f[0]
        return cls((1 - abar[1:] / abar[:-1]).clamp(min=1e-12, max=max_beta))

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
            t = check_count(t, "t", 0)
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
        _same_shape(noise, x0, "noise", "x0")
        abar = self._at(self.alphas_cumprod, t, x0)
        return abar.sqrt() * x0 + (1 - abar).sqrt() * noise

    def predict_x0(self, eps: torch.Tensor, t: int | torch.Tensor, x_t: torch.Tensor
                   ) -> torch.Tensor:
        """``x0_hat = (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t)`` (Ho et al. eq. 15)."""
        _same_shape(eps, x_t, "eps", "x_t")
        abar = self._at(self.alphas_cumprod, t, x_t)
        return (x_t - (1 - abar).sqrt() * eps) / abar.sqrt()

    def posterior_mean(self, x0: torch.Tensor, t: int | torch.Tensor, x_t: torch.Tensor
                       ) -> torch.Tensor:
        """Mean of ``q(x_{t-1} | x_t, x_0)`` (Ho et al. eq. 7); equals ``x0`` at t = 0."""
        _same_shape(x0, x_t, "x0", "x_t")
        abar, abar_prev = (self._at(self.alphas_cumprod, t, x_t),
                           self._at(self.alphas_cumprod_prev, t, x_t))
        beta, alpha = self._at(self.betas, t, x_t), self._at(self.alphas, t, x_t)
        return (abar_prev.sqrt() * beta / (1 - abar) * x0
                + alpha.sqrt() * (1 - abar_prev) / (1 - abar) * x_t)

    def ddpm_step(self, eps: torch.Tensor, t: int | torch.Tensor, x_t: torch.Tensor,
                  noise: torch.Tensor | None = None, generator: torch.Generator | None = None,
                  clip_x0: float | None = None) -> torch.Tensor:
        """One ancestral step ``x_t -> x_{t-1} = mu_t(x0_hat, x_t) + sqrt(beta_tilde_t) z``
        (Ho et al. 2020, eq. 7 through the predicted x0, variance ``beta_tilde``; no noise at
        t = 0). ``noise`` is ``z`` (drawn from ``generator`` when None); ``clip_x0`` clamps
        ``x0_hat`` to ``[-clip_x0, clip_x0]`` (for data known to lie there, like images)."""
        x0 = self.predict_x0(eps, t, x_t)
        if clip_x0 is not None:
            x0 = x0.clamp(-clip_x0, clip_x0)
        mean = self.posterior_mean(x0, t, x_t)
        std = self._at(self.posterior_variance, t, x_t).sqrt()  # 0 at t = 0
        if noise is None:
            noise = _randn(x_t, generator)
        _same_shape(noise, x_t, "noise", "x_t")
        return mean + std * noise

    def ddim_step(self, eps: torch.Tensor, t: int, t_prev: int, x_t: torch.Tensor,
                  eta: float = 0.0, noise: torch.Tensor | None = None,
                  generator: torch.Generator | None = None,
                  clip_x0: float | None = None) -> torch.Tensor:
        """One DDIM step ``x_t -> x_{t_prev}`` (Song et al. 2021, eq. 12 with sigma of eq. 16);
        ``t_prev = -1`` means the last step, to ``abar = 1``. ``eta = 0``: deterministic."""
        t = check_count(t, "t", 0)
        if isinstance(t_prev, bool) or not isinstance(t_prev, numbers.Integral) \
                or not -1 <= t_prev < t:
            raise ValueError(f"t_prev must be an int with -1 <= t_prev < t = {t}, got {t_prev!r}")
        if not eta >= 0:
            raise ValueError(f"eta must be >= 0, got {eta}")
        abar_t = self.alphas_cumprod[t]
        abar_prev = self.alphas_cumprod[t_prev] if t_prev >= 0 else abar_t.new_tensor(1.0)
        sigma = eta * ((1 - abar_prev) / (1 - abar_t) * (1 - abar_t / abar_prev)).sqrt()
        direction = (1 - abar_prev - sigma**2).clamp(min=0).sqrt()
        a_t, a_prev, direction, sigma = (v.to(dtype=x_t.dtype, device=x_t.device)
                                         for v in (abar_t, abar_prev, direction, sigma))
        x0 = self.predict_x0(eps, t, x_t)
        if clip_x0 is not None:
            x0 = x0.clamp(-clip_x0, clip_x0)
            eps = (x_t - a_t.sqrt() * x0) / (1 - a_t).sqrt()  # the noise consistent with x0
        out = a_prev.sqrt() * x0 + direction * eps
        if eta > 0:
            if noise is None:
                noise = _randn(x_t, generator)
            _same_shape(noise, x_t, "noise", "x_t")
            out = out + sigma * noise
        return out


def _same_shape(a: torch.Tensor, b: torch.Tensor, name_a: str, name_b: str) -> None:
    if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor):
        raise TypeError(f"{name_a} and {name_b} must be tensors")
    if a.shape != b.shape:
        raise ValueError(f"{name_a} must have the shape of {name_b} {tuple(b.shape)}, "
                         f"got {tuple(a.shape)}")


def _randn(like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Standard normal noise shaped like ``like``, drawn on the CPU (so a seed gives the same
    numbers on every device) and moved to ``like``'s device."""
    return torch.randn(like.shape, generator=generator, dtype=like.dtype).to(like.device)


def ddim_timesteps(T: int, steps: int) -> list[int]:
    """The ``steps`` decreasing steps a k-step DDIM sampler visits: ``i * (T // steps)`` for
    ``i = steps - 1, ..., 1, 0`` (the evenly spaced sub-sequence of Song et al. 2021, section
    4.2 and appendix D.2); ``steps = T`` gives every step, ``T - 1`` first.

    It does not start at ``T - 1``: there ``abar`` is nearly 0, and the predicted
    ``x0 = (x_t - sqrt(1 - abar) eps) / sqrt(abar)`` would multiply any error of the noise
    estimate by ``1 / sqrt(abar)`` (thousands with the cosine schedule), which a
    deterministic sampler with few steps never corrects.
    """
    T, steps = check_count(T, "T", 1), check_count(steps, "steps", 1)
    if steps > T:
        raise ValueError(f"steps must be <= T = {T}, got {steps}")
    stride = T // steps
    return [i * stride for i in reversed(range(steps))]


def guided_eps(eps_uncond: torch.Tensor, eps_cond: torch.Tensor, w: float) -> torch.Tensor:
    """Classifier-free guidance (Ho & Salimans 2022): ``eps_u + w (eps_c - eps_u)``."""
    _same_shape(eps_cond, eps_uncond, "eps_cond", "eps_uncond")
    return eps_uncond + w * (eps_cond - eps_uncond)


def _model_device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def _labels(labels: int | Sequence[int] | torch.Tensor | None, n: int, model: nn.Module
            ) -> torch.Tensor | None:
    if labels is None:
        return None
    num_classes = getattr(model, "num_classes", 0)
    if num_classes == 0:
        raise ValueError("labels given, but the model is unconditional (num_classes=0)")
    y = torch.as_tensor(labels, dtype=torch.long).reshape(-1)
    if y.numel() == 1:
        y = y.expand(n)
    if y.shape != (n,):
        raise ValueError(f"labels must be one int or {n} ints, got shape {tuple(y.shape)}")
    if y.min() < 0 or y.max() >= num_classes:
        raise ValueError(f"labels must lie in 0..{num_classes - 1}")
    return y


def predict_eps(model: nn.Module, x_t: torch.Tensor, t: int, labels: torch.Tensor | None = None,
                guidance_scale: float = 0.0) -> torch.Tensor:
    """The denoiser's noise estimate at step ``t`` for every row of ``x_t``, with
    classifier-free guidance when ``labels`` are given (:func:`guided_eps`: ``w = 0`` is the
    unconditional model, ``w = 1`` the conditional one; otherwise both run in one batch)."""
    n = x_t.shape[0]
    steps = torch.full((n,), t, dtype=torch.long, device=x_t.device)
    if labels is None or guidance_scale == 0:
        return model(x_t, steps, None)
    labels = labels.to(x_t.device)
    if guidance_scale == 1:
        return model(x_t, steps, labels)
    null = torch.full_like(labels, model.null_class)
    eps = model(torch.cat([x_t, x_t]), torch.cat([steps, steps]), torch.cat([null, labels]))
    return guided_eps(eps[:n], eps[n:], guidance_scale)


@torch.no_grad()
def sample(model: nn.Module, schedule: NoiseSchedule, n: int,
           labels: int | Sequence[int] | torch.Tensor | None = None, guidance_scale: float = 0.0,
           sampler: str = "ddpm", steps: int | None = None, seed: int | None = None,
           eta: float = 0.0, clip_x0: float | None = None, progress: bool | None = None,
           callback: StepCallback | None = None) -> torch.Tensor:
    """Draw ``n`` samples of shape ``model.data_shape`` from pure noise.

    ``sampler="ddpm"``: ancestral sampling through all ``T`` steps (Ho et al. 2020, Alg. 2);
    ``sampler="ddim"``: ``steps`` DDIM steps (default all T) at :func:`ddim_timesteps`, with
    ``eta`` (0: deterministic; Song et al. 2021). ``labels`` (one int or ``n``) and
    ``guidance_scale`` ``w`` give classifier-free guidance ``eps_u + w (eps_c - eps_u)``; with
    ``labels=None`` the model runs unconditionally. ``seed`` seeds the starting noise and every
    step's noise (one CPU generator), so the result does not depend on global random state.
    ``clip_x0`` clamps the predicted clean sample at each step (1.0 for images in [-1, 1]).
    ``callback(t, x_t, x0_hat)`` is called before each step, e.g. to record a trajectory.
    Shows a progress bar in full mode (``progress``) and leaves the model in eval mode.
    """
    n = check_count(n, "n", 1)
    if sampler not in ("ddpm", "ddim"):
        raise ValueError(f"sampler must be 'ddpm' or 'ddim', got {sampler!r}")
    if sampler == "ddpm" and steps not in (None, schedule.T):
        raise ValueError(f"DDPM takes all T = {schedule.T} steps; use sampler='ddim' for fewer")
    visit = ddim_timesteps(schedule.T, steps if steps is not None else schedule.T)
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    x = torch.randn((n, *model.data_shape), generator=generator)
    return _denoise(model, schedule, x, visit, labels, guidance_scale, sampler, generator, eta,
                    clip_x0, progress, callback)


@torch.no_grad()
def img2img(model: nn.Module, schedule: NoiseSchedule, images: torch.Tensor, strength: float,
            labels: int | Sequence[int] | torch.Tensor | None = None, guidance_scale: float = 0.0,
            steps: int = 50, seed: int | None = None, clip_x0: float | None = None,
            progress: bool | None = None) -> torch.Tensor:
    """Edit ``images`` by noising them part of the way and denoising again (SDEdit, Meng et al.
    2022; Stable Diffusion's image-to-image ``strength``): of the ``steps`` DDIM steps of
    :func:`ddim_timesteps`, keep the last ``round(strength * steps)`` (at least one), noise the
    images to the first of them with :meth:`NoiseSchedule.q_sample`, and run deterministic DDIM
    from there, with guidance towards ``labels`` as in :func:`sample`. ``strength`` near 0 keeps
    the image, 1 starts from (almost) pure noise."""
    if not 0 < strength <= 1:
        raise ValueError(f"strength must lie in (0, 1], got {strength}")
    if not isinstance(images, torch.Tensor) or tuple(images.shape[1:]) != tuple(model.data_shape):
        raise ValueError(f"images must have shape (N, {', '.join(map(str, model.data_shape))})")
    visit = ddim_timesteps(schedule.T, steps)
    visit = visit[-max(1, round(strength * steps)):]
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    x = schedule.q_sample(images.cpu(), visit[0], _randn(images.cpu(), generator))
    return _denoise(model, schedule, x, visit, labels, guidance_scale, "ddim", generator, 0.0,
                    clip_x0, progress, None)


def _denoise(model: nn.Module, schedule: NoiseSchedule, x: torch.Tensor, visit: list[int],
             labels: int | Sequence[int] | torch.Tensor | None, guidance_scale: float,
             sampler: str, generator: torch.Generator | None, eta: float, clip_x0: float | None,
             progress: bool | None, callback: StepCallback | None) -> torch.Tensor:
    """Run the reverse process from ``x`` (at step ``visit[0]``) through the steps ``visit``."""
    y = _labels(labels, x.shape[0], model)
    if y is None and guidance_scale != 0:
        raise ValueError("guidance_scale needs labels (the classes to guide towards)")
    model.eval()
    x = x.to(_model_device(model))
    show = run_mode() == "full" if progress is None else progress
    bar = tqdm(visit, desc=f"{sampler.upper()} sampling", disable=not show, leave=False)
    for i, t in enumerate(bar):
        eps = predict_eps(model, x, t, y, guidance_scale)
        if callback is not None:
            callback(t, x, schedule.predict_x0(eps, t, x))
        if sampler == "ddpm":
            x = schedule.ddpm_step(eps, t, x, generator=generator, clip_x0=clip_x0)
        else:
            t_prev = visit[i + 1] if i + 1 < len(visit) else -1
            x = schedule.ddim_step(eps, t, t_prev, x, eta=eta, generator=generator,
                                   clip_x0=clip_x0)
    bar.close()
    return x


def diffusion_loss(model: nn.Module, schedule: NoiseSchedule, x0: torch.Tensor,
                   labels: torch.Tensor | None = None, p_uncond: float = 0.0,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """DDPM's simplified objective (Ho et al. 2020, eq. 14):
    ``E_{t, eps} || eps - eps_theta(sqrt(abar_t) x0 + sqrt(1 - abar_t) eps, t) ||^2`` with
    ``t`` uniform on 0..T-1, averaged over every element. With ``labels``, each label is
    replaced by the null label with probability ``p_uncond`` (label dropout, so one network
    learns both the conditional and the unconditional model; Ho & Salimans 2022)."""
    if not 0 <= p_uncond <= 1:
        raise ValueError(f"p_uncond must lie in [0, 1], got {p_uncond}")
    n = x0.shape[0]
    t = torch.randint(schedule.T, (n,), generator=generator).to(x0.device)
    noise = _randn(x0, generator)
    if labels is not None:
        drop = torch.rand(n, generator=generator).to(x0.device) < p_uncond
        labels = torch.where(drop, torch.full_like(labels, model.null_class), labels)
    return F.mse_loss(model(schedule.q_sample(x0, t, noise), t, labels), noise)


def train_diffusion(model: nn.Module, schedule: NoiseSchedule, x: torch.Tensor,
                    labels: torch.Tensor | None = None, steps: int = 2000,
                    batch_size: int = 128, lr: float = 1e-3, seed: int = 0,
                    p_uncond: float = 0.1, progress: bool | None = None,
                    desc: str = "diffusion") -> History:
    """Fit a denoiser by :func:`diffusion_loss` with Adam, the learning rate decayed to 0 over
    ``steps`` on a cosine and gradients clipped to norm 1. Minibatches, steps and noise come
    from generators seeded with ``seed``; records ``loss`` per step; ends in eval mode."""
    if not isinstance(x, torch.Tensor) or tuple(x.shape[1:]) != tuple(model.data_shape):
        shape = ", ".join(map(str, model.data_shape))
        raise ValueError(f"x must be a tensor of shape (N, {shape}), got "
                         f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
    if labels is not None and labels.shape != x.shape[:1]:
        raise ValueError(f"labels must have shape ({x.shape[0]},), got {tuple(labels.shape)}")
    device = _model_device(model)
    params = list(model.parameters())
    opt = torch.optim.Adam(params, lr=lr)
    lr_schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(steps, 1))
    generator = torch.Generator().manual_seed(seed + 1)
    model.train()

    def step(xb: torch.Tensor, *yb: torch.Tensor) -> dict[str, float]:
        loss = diffusion_loss(model, schedule, xb, yb[0] if yb else None, p_uncond, generator)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        lr_schedule.step()
        return {"loss": loss.item()}

    tensors = (x, labels) if labels is not None else (x,)
    batches = minibatches(*tensors, batch_size=batch_size, seed=seed, device=device)
    history = run(step, batches, steps, desc=desc, progress=progress)
    model.eval()
    return history


@torch.no_grad()
def evaluate_loss(model: nn.Module, schedule: NoiseSchedule, x: torch.Tensor,
                  labels: torch.Tensor | None = None, repeats: int = 4, seed: int = 0) -> float:
    """Mean :func:`diffusion_loss` over ``repeats`` seeded passes through ``x`` (held-out)."""
    generator = torch.Generator().manual_seed(seed)
    device = _model_device(model)
    model.eval()
    losses = [diffusion_loss(model, schedule, x.to(device),
                             None if labels is None else labels.to(device), 0.0, generator).item()
              for _ in range(repeats)]
    return sum(losses) / len(losses)


class MLPDenoiser(nn.Module):
    """Noise predictor ``eps(x_t, t, y)`` for points of dimension ``dim`` (2-D toy data, or
    an autoencoder's latent codes): an input layer, ``n_blocks`` residual blocks
    ``h + W2 silu(W1 silu(h) + E emb(t, y))`` and an output layer, where ``emb`` is the
    sinusoidal time (and class) embedding of :class:`~genai_course.unet.ConditionEmbedding`."""

    def __init__(self, dim: int = 2, hidden: int = 128, n_blocks: int = 3, emb_dim: int = 64,
                 num_classes: int = 0, seed: int | None = None) -> None:
        super().__init__()
        dim = check_count(dim, "dim", 1)
        hidden = check_count(hidden, "hidden", 1)
        n_blocks = check_count(n_blocks, "n_blocks", 1)
        self.data_shape = (dim,)
        with seeded(seed):
            self.embed = ConditionEmbedding(emb_dim, num_classes)
            self.inp = nn.Linear(dim, hidden)
            self.blocks = nn.ModuleList(
                nn.ModuleDict({"fc1": nn.Linear(hidden, hidden), "emb": nn.Linear(emb_dim, hidden),
                               "fc2": nn.Linear(hidden, hidden)}) for _ in range(n_blocks))
            self.out = nn.Linear(hidden, dim)

    @property
    def num_classes(self) -> int:
        return self.embed.num_classes

    @property
    def null_class(self) -> int:
        return self.embed.null_class

    def forward(self, x: torch.Tensor, t: torch.Tensor,
                labels: torch.Tensor | None = None) -> torch.Tensor:
        """Predicted noise, shape (n, dim); ``t`` (n,) integer steps."""
        check_points(x, self.data_shape[0])
        emb = self.embed(t, labels)
        h = self.inp(x)
        for block in self.blocks:
            h = h + block["fc2"](F.silu(block["fc1"](F.silu(h)) + block["emb"](emb)))
        return self.out(F.silu(h))


#: The 2-D study of Chapter 4 and ``benchmarks/diffusion_tradeoffs.py``: an
#: :class:`MLPDenoiser` trained on ``toy2d.checkerboard`` (the data set's own defaults: a
#: 4 x 4 board on [-2, 2]^2) with a cosine schedule of T = 1000 steps.
CHECKERBOARD_DEMO = {"n_train": 10000, "hidden": 128, "n_blocks": 3, "T": 1000,
                     "steps": 6000, "batch_size": 256, "lr": 3e-3}


# -- measured trade-offs ---------------------------------------------------------------------

def sampling_study(model: nn.Module, schedule: NoiseSchedule, reference: torch.Tensor,
                   n: int = 2000, settings: Sequence[tuple[str, int | None]] = (
                       ("ddpm", None), ("ddim", 100), ("ddim", 50), ("ddim", 20), ("ddim", 10)),
                   seed: int = 0) -> list[dict[str, Any]]:
    """Sample ``n`` points with each ``(sampler, steps)`` of ``settings`` (same seed) and
    measure the wall time and two distances to ``reference`` (held-out data): the unbiased
    squared MMD and the sliced 1-Wasserstein distance (:mod:`genai_course.metrics`).
    Returns one dict per setting: sampler, steps, network evaluations, seconds, mmd,
    sliced_wasserstein, samples."""
    import time

    from .metrics import mmd_rbf, sliced_wasserstein

    rows = []
    for sampler, steps in settings:
        start = time.perf_counter()
        x = sample(model, schedule, n, sampler=sampler, steps=steps, seed=seed, progress=False)
        seconds = time.perf_counter() - start
        k = schedule.T if steps is None else steps
        rows.append({"sampler": sampler.upper(), "steps": k, "seconds": seconds,
                     "mmd": mmd_rbf(x, reference), "sliced_wasserstein": sliced_wasserstein(
                         x, reference), "samples": x.cpu()})
    return rows


def mean_pairwise_distance(x: torch.Tensor) -> float:
    """Mean Euclidean distance between distinct rows of ``x`` (flattened): a diversity
    measure (0 when every sample is the same)."""
    flat = x.detach().flatten(1).double()
    if len(flat) < 2:
        raise ValueError("need at least two samples")
    return float(torch.pdist(flat).mean())


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
    import time

    from .digit_classifier import predict
    from .metrics import mmd_rbf

    classes = int(model.num_classes)
    labels = torch.arange(classes).repeat_interleave(per_class)
    real_by_class = [real[real_labels == c] for c in range(classes)]
    real_spread = [mean_pairwise_distance(r) for r in real_by_class]
    rows = []
    for w in scales:
        start = time.perf_counter()
        x = sample(model, model.schedule, len(labels), labels=labels, guidance_scale=w,
                   sampler="ddim", steps=steps, seed=seed, clip_x0=1.0, progress=False).cpu()
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


# -- the shipped checkpoint ``ddpm-digits`` ------------------------------------------------

#: How ``ddpm-digits`` is built and trained (``genai-course retrain ddpm-digits``).
DDPM_DIGITS = {"schedule": "cosine", "T": 1000, "channels": (32, 64), "emb_dim": 64,
               "num_classes": 10, "steps": 5000, "batch_size": 128, "lr": 2e-3,
               "p_uncond": 0.1}


def schedule_from_config(config: dict[str, Any]) -> NoiseSchedule:
    """``NoiseSchedule.linear`` or ``.cosine`` with ``config["T"]`` steps."""
    kinds = {"linear": NoiseSchedule.linear, "cosine": NoiseSchedule.cosine}
    if config.get("schedule") not in kinds:
        raise ValueError(f"schedule must be one of {sorted(kinds)}, got {config.get('schedule')!r}")
    return kinds[config["schedule"]](config["T"])


def train_ddpm_digits(seed: int = 0, config: dict[str, Any] | None = None,
                      device: str | torch.device = "cpu") -> dict[str, Any]:
    """Train the class-conditional U-Net on the training digits (the checkpoint's trainer;
    ``config`` overrides entries of :data:`DDPM_DIGITS`, ``device`` is where it trains)."""
    from .data.digits import load_digits

    cfg = {**DDPM_DIGITS, **(config or {})}
    torch.manual_seed(seed)
    x, y = load_digits("train")
    x_test, y_test = load_digits("test")
    schedule = schedule_from_config(cfg)
    model = UNet((1, 8, 8), channels=cfg["channels"], emb_dim=cfg["emb_dim"],
                 num_classes=cfg["num_classes"], seed=seed).to(device)
    history = train_diffusion(model, schedule, x, y, steps=cfg["steps"],
                              batch_size=cfg["batch_size"], lr=cfg["lr"], seed=seed,
                              p_uncond=cfg["p_uncond"], desc="ddpm-digits")
    state = {k: v.cpu().to(torch.float16) if v.is_floating_point() else v.cpu()
             for k, v in model.state_dict().items()}
    return {"config": {**cfg, "channels": list(cfg["channels"])}, "state_dict": state,
            "extra": {},
            "metrics": {"train_loss_last_500": history.smoothed("loss", 500),
                        "test_loss": evaluate_loss(model, schedule, x_test, y_test)}}


def load_ddpm_digits(payload: dict[str, Any]) -> UNet:
    """Rebuild the U-Net from a ``ddpm-digits`` payload; its schedule is ``model.schedule``."""
    cfg = payload["config"]
    model = UNet((1, 8, 8), channels=tuple(cfg["channels"]), emb_dim=cfg["emb_dim"],
                 num_classes=cfg["num_classes"])
    model.load_state_dict({k: v.float() if v.is_floating_point() else v
                           for k, v in payload["state_dict"].items()})
    model.schedule = schedule_from_config(cfg)
    return model
