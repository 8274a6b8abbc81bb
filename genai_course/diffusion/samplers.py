"""Reverse-process samplers with one interface, and sampling with classifier-free guidance.

Every sampler holds a :class:`~genai_course.diffusion.schedule.NoiseSchedule` and offers

* ``timesteps(k)`` -- the decreasing steps a k-step run visits, and
* ``step(eps, t, t_prev, x, generator=None, noise=None)`` -- one move ``x_t -> x_{t_prev}``
  given the noise estimate ``eps`` (``t_prev = -1`` ends at clean data),

so :func:`sample` and :func:`img2img` run any of them the same way (the design of diffusers'
schedulers). The two here:

* :class:`DDPM` -- ancestral sampling (Ho et al. 2020, Alg. 2):
  ``x_{t-1} = mu_t(x0_hat, x_t) + sqrt(beta_tilde_t) z``, no noise at t = 0;
* :class:`DDIM` -- Song, Meng & Ermon (2021, eq. 12) from t to any earlier t':
  ``x_t' = sqrt(abar_t') x0_hat + sqrt(1 - abar_t' - sigma^2) eps_hat + sigma z`` with
  ``sigma = eta sqrt((1 - abar_t') / (1 - abar_t)) sqrt(1 - abar_t / abar_t')`` (eq. 16);
  ``eta = 0`` is deterministic, ``eta = 1`` with consecutive steps is DDPM.

Classifier-free guidance (Ho & Salimans 2022): ``eps = eps_uncond + w (eps_cond - eps_uncond)``;
``w = 0`` ignores the label, ``w = 1`` is the conditional model, ``w > 1`` pushes samples
further towards the label (Stable Diffusion's ``guidance_scale`` convention). Image-to-image
editing (SDEdit, Meng et al. 2022) noises an image part of the way, then denoises it with a
new condition (:func:`img2img`).

Denoisers are called as ``model(x_t, t, labels)`` with ``t`` (n,) int64 steps and ``labels``
(n,) int64 or ``None``, and expose ``data_shape`` and ``num_classes`` (0 for an unconditional
model; a conditional one reserves label ``num_classes`` as the null label).

A denoiser conditioned on something richer than a class index (chapter 5: a caption) defines
two methods instead, and everything here (sampling, guidance, label dropout in training)
uses them:

* ``condition(labels, n) -> tensor`` -- turns what the caller passed (one caption or ``n``,
  or ready token ids) into the batch of ``n`` conditions that ``model(x_t, t, ...)`` reads;
* ``null_condition(labels) -> tensor`` -- the "no condition" input of the same shape (the
  empty caption), used for the unconditional prediction of guidance (:func:`null_condition`).

Used in: chapters 4, 5, 9, 10.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence

import torch
from torch import nn
from tqdm.auto import tqdm

from genai_course.core.checks import check_int, check_same_shape
from genai_course.diffusion.schedule import NoiseSchedule
from genai_course.runtime import run_mode

StepCallback = Callable[[int, torch.Tensor, torch.Tensor], None]


def randn_like_cpu(like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Standard normal noise shaped like ``like``, drawn on the CPU (so a seed gives the same
    numbers on every device) and moved to ``like``'s device."""
    return torch.randn(like.shape, generator=generator, dtype=like.dtype).to(like.device)


#: The sub-sequences of steps a few-step sampler can visit (:func:`ddim_timesteps`).
SPACINGS = ("leading", "trailing")


def ddim_timesteps(T: int, k: int, spacing: str = "leading") -> list[int]:
    """The ``k`` decreasing steps out of ``0 .. T-1`` that a ``k``-step sampler visits
    (Lin et al. 2024, "Common diffusion noise schedules and sample steps are flawed", table 2):

    * ``"leading"`` -- ``i * (T // k)`` for ``i = k - 1, ..., 0`` (Song et al. 2021's evenly
      spaced sub-sequence): it starts at ``(k - 1) * (T // k)``, below ``T - 1`` (``k = 2``
      starts at ``T / 2``, where much of the signal is left, from pure noise);
    * ``"trailing"`` -- ``round(T - i * T / k) - 1`` for ``i = 0, ..., k - 1``: it starts at
      ``T - 1``, the step pure noise belongs to, and ends at ``T / k - 1``.

    Both give every step for ``k = T``."""
    T = check_int(T, "T", 1)
    k = check_int(k, "steps", 1)
    if k > T:
        raise ValueError(f"steps must be <= T = {T}, got {k}")
    if spacing == "leading":
        return [i * (T // k) for i in reversed(range(k))]
    if spacing == "trailing":
        return [round(T - i * T / k) - 1 for i in range(k)]
    raise ValueError(f"spacing must be one of {SPACINGS}, got {spacing!r}")


class Sampler:
    """What DDPM and DDIM share: the schedule, optional clipping of the predicted x0, and the
    prediction of x0 from the noise estimate."""

    name = "sampler"

    def __init__(self, schedule: NoiseSchedule, clip_x0: float | None = None) -> None:
        if not isinstance(schedule, NoiseSchedule):
            raise TypeError(f"schedule must be a NoiseSchedule, got {type(schedule).__name__}")
        if clip_x0 is not None and not clip_x0 > 0:
            raise ValueError(f"clip_x0 must be > 0 or None, got {clip_x0}")
        self.schedule = schedule
        self.clip_x0 = clip_x0

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.schedule!r}, clip_x0={self.clip_x0})"

    def timesteps(self, k: int | None = None) -> list[int]:
        raise NotImplementedError

    def step(self, eps: torch.Tensor, t: int | torch.Tensor, t_prev: int | torch.Tensor | None,
             x: torch.Tensor, generator: torch.Generator | None = None,
             noise: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError

    def predict_x0(self, eps: torch.Tensor, t: int | torch.Tensor, x: torch.Tensor
                   ) -> torch.Tensor:
        """``x0_hat`` (Ho et al. eq. 15), clamped to ``[-clip_x0, clip_x0]`` when set (for data
        known to lie there, like images)."""
        x0 = self.schedule.predict_x0(eps, t, x)
        return x0 if self.clip_x0 is None else x0.clamp(-self.clip_x0, self.clip_x0)

    def _noise(self, noise: torch.Tensor | None, x: torch.Tensor,
               generator: torch.Generator | None) -> torch.Tensor:
        if noise is None:
            return randn_like_cpu(x, generator)
        check_same_shape(noise, x, "noise", "x")
        return noise


class DDPM(Sampler):
    """Ancestral sampling through every step (Ho et al. 2020, Alg. 2; eq. 7 through the
    predicted x0, variance ``beta_tilde``)."""

    name = "ddpm"

    def timesteps(self, k: int | None = None) -> list[int]:
        """All ``T`` steps, ``T - 1`` first (``k`` must be None or ``T``)."""
        if k not in (None, self.schedule.T):
            raise ValueError(f"DDPM takes all T = {self.schedule.T} steps; use DDIM for fewer")
        return list(range(self.schedule.T - 1, -1, -1))

    def step(self, eps: torch.Tensor, t: int | torch.Tensor, t_prev: int | torch.Tensor | None,
             x: torch.Tensor, generator: torch.Generator | None = None,
             noise: torch.Tensor | None = None) -> torch.Tensor:
        """``x_t -> x_{t-1} = mu_t(x0_hat, x_t) + sqrt(beta_tilde_t) z`` (no noise at t = 0).
        ``t`` is an int or one step per row; ``t_prev`` must be ``t - 1`` (or None)."""
        if t_prev is not None and not torch.equal(torch.as_tensor(t_prev),
                                                  torch.as_tensor(t) - 1):
            raise ValueError(f"DDPM steps from t to t - 1, got t = {t}, t_prev = {t_prev}")
        s = self.schedule
        x0 = self.predict_x0(eps, t, x)
        mean = s.posterior_mean(x0, t, x)
        std = s._at(s.posterior_variance, t, x).sqrt()  # 0 at t = 0
        return mean + std * self._noise(noise, x, generator)


class DDIM(Sampler):
    """Denoising diffusion implicit models (Song, Meng & Ermon 2021): any sub-sequence of
    steps, deterministic at ``eta = 0``."""

    name = "ddim"

    def __init__(self, schedule: NoiseSchedule, eta: float = 0.0,
                 clip_x0: float | None = None, spacing: str = "leading") -> None:
        super().__init__(schedule, clip_x0)
        if not eta >= 0:
            raise ValueError(f"eta must be >= 0, got {eta}")
        if spacing not in SPACINGS:
            raise ValueError(f"spacing must be one of {SPACINGS}, got {spacing!r}")
        self.eta = float(eta)
        self.spacing = spacing

    def __repr__(self) -> str:
        return (f"DDIM({self.schedule!r}, eta={self.eta}, clip_x0={self.clip_x0}, "
                f"spacing={self.spacing!r})")

    def timesteps(self, k: int | None = None) -> list[int]:
        """The ``k`` decreasing steps of :func:`ddim_timesteps` with this sampler's spacing;
        ``k = T`` (the default) gives every step, ``T - 1`` first."""
        return ddim_timesteps(self.schedule.T, self.schedule.T if k is None else k, self.spacing)

    def step(self, eps: torch.Tensor, t: int | torch.Tensor, t_prev: int | torch.Tensor | None,
             x: torch.Tensor, generator: torch.Generator | None = None,
             noise: torch.Tensor | None = None) -> torch.Tensor:
        """One DDIM step ``x_t -> x_{t_prev}`` (eq. 12 with sigma of eq. 16); ``t_prev = -1``
        means the last step, to ``abar = 1``."""
        t = check_int(int(t) if isinstance(t, torch.Tensor) and t.ndim == 0 else t, "t", 0)
        if isinstance(t_prev, bool) or not isinstance(t_prev, numbers.Integral) \
                or not -1 <= t_prev < t:
            raise ValueError(f"t_prev must be an int with -1 <= t_prev < t = {t}, got {t_prev!r}")
        s = self.schedule
        abar_t = s.alphas_cumprod[t]
        abar_prev = s.alphas_cumprod[t_prev] if t_prev >= 0 else abar_t.new_tensor(1.0)
        sigma = self.eta * ((1 - abar_prev) / (1 - abar_t) * (1 - abar_t / abar_prev)).sqrt()
        direction = (1 - abar_prev - sigma**2).clamp(min=0).sqrt()
        a_t, a_prev, direction, sigma = (v.to(dtype=x.dtype, device=x.device)
                                         for v in (abar_t, abar_prev, direction, sigma))
        x0 = self.predict_x0(eps, t, x)
        if self.clip_x0 is not None:
            eps = (x - a_t.sqrt() * x0) / (1 - a_t).sqrt()  # the noise consistent with x0
        out = a_prev.sqrt() * x0 + direction * eps
        if self.eta > 0:
            out = out + sigma * self._noise(noise, x, generator)
        return out


def guided_eps(eps_uncond: torch.Tensor, eps_cond: torch.Tensor, w: float) -> torch.Tensor:
    """Classifier-free guidance (Ho & Salimans 2022): ``eps_u + w (eps_c - eps_u)``."""
    check_same_shape(eps_cond, eps_uncond, "eps_cond", "eps_uncond")
    return eps_uncond + w * (eps_cond - eps_uncond)


def _model_device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def _labels(labels: int | Sequence[int] | torch.Tensor | None, n: int, model: nn.Module
            ) -> torch.Tensor | None:
    if labels is None:
        return None
    condition = getattr(model, "condition", None)
    if condition is not None:  # a richer condition (captions): the model batches it
        return condition(labels, n)
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


def null_condition(model: nn.Module, labels: torch.Tensor) -> torch.Tensor:
    """The "no condition" input matching ``labels``: ``model.null_condition(labels)`` where the
    model defines it (the empty caption), else the null class ``model.null_class``."""
    make = getattr(model, "null_condition", None)
    return make(labels) if make is not None else torch.full_like(labels, model.null_class)


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
    null = null_condition(model, labels)
    eps = model(torch.cat([x_t, x_t]), torch.cat([steps, steps]), torch.cat([null, labels]))
    return guided_eps(eps[:n], eps[n:], guidance_scale)


def _generator(seed: int | None, generator: torch.Generator | None
               ) -> torch.Generator | None:
    if seed is not None and generator is not None:
        raise ValueError("give a seed or a generator, not both")
    return torch.Generator().manual_seed(seed) if seed is not None else generator


def _check_sampler(sampler: object) -> Sampler:
    if not isinstance(sampler, Sampler):
        raise TypeError(f"sampler must be a DDPM or DDIM sampler (holding the noise schedule), "
                        f"got {type(sampler).__name__}")
    return sampler


@torch.no_grad()
def sample(model: nn.Module, sampler: Sampler, n: int, *, steps: int | None = None,
           labels: int | Sequence[int] | torch.Tensor | None = None, guidance_scale: float = 0.0,
           seed: int | None = None, generator: torch.Generator | None = None,
           progress: bool | None = None, callback: StepCallback | None = None) -> torch.Tensor:
    """Draw ``n`` samples of shape ``model.data_shape`` from pure noise with ``sampler``
    (``DDPM(schedule)`` or ``DDIM(schedule, eta=..., clip_x0=...)``) over
    ``sampler.timesteps(steps)``.

    ``labels`` (one int or ``n``) and ``guidance_scale`` ``w`` give classifier-free guidance
    ``eps_u + w (eps_c - eps_u)``; with ``labels=None`` the model runs unconditionally.
    ``seed`` seeds the starting noise and every step's noise (one CPU generator), so the result
    does not depend on global random state; or pass a CPU ``generator`` to draw from.
    ``callback(t, x_t, x0_hat)`` is called before each step, e.g. to record a trajectory.
    Shows a progress bar in full mode (``progress``) and leaves the model in eval mode.
    """
    n = check_int(n, "n", 1)
    visit = _check_sampler(sampler).timesteps(steps)
    generator = _generator(seed, generator)
    x = torch.randn((n, *model.data_shape), generator=generator)
    return _denoise(model, sampler, x, visit, labels, guidance_scale, generator, progress,
                    callback)


@torch.no_grad()
def img2img(model: nn.Module, sampler: DDIM, images: torch.Tensor, strength: float, *,
            steps: int = 50, labels: int | Sequence[int] | torch.Tensor | None = None,
            guidance_scale: float = 0.0, seed: int | None = None,
            progress: bool | None = None) -> torch.Tensor:
    """Edit ``images`` by noising them part of the way and denoising again (SDEdit, Meng et al.
    2022; Stable Diffusion's image-to-image ``strength``): of the ``steps`` steps of
    ``sampler.timesteps(steps)``, keep the last ``round(strength * steps)`` (at least one),
    noise the images to the first of them with :meth:`NoiseSchedule.q_sample`, and run the
    sampler from there, with guidance towards ``labels`` as in :func:`sample`. ``strength``
    near 0 keeps the image, 1 starts from (almost) pure noise."""
    if not 0 < strength <= 1:
        raise ValueError(f"strength must lie in (0, 1], got {strength}")
    if not isinstance(images, torch.Tensor) or tuple(images.shape[1:]) != tuple(model.data_shape):
        raise ValueError(f"images must have shape (N, {', '.join(map(str, model.data_shape))})")
    visit = _check_sampler(sampler).timesteps(steps)
    visit = visit[-max(1, round(strength * len(visit))):]
    generator = _generator(seed, None)
    x = sampler.schedule.q_sample(images.cpu(), visit[0],
                                  randn_like_cpu(images.cpu(), generator))
    return _denoise(model, sampler, x, visit, labels, guidance_scale, generator, progress, None)


def _denoise(model: nn.Module, sampler: Sampler, x: torch.Tensor, visit: list[int],
             labels: int | Sequence[int] | torch.Tensor | None, guidance_scale: float,
             generator: torch.Generator | None, progress: bool | None,
             callback: StepCallback | None) -> torch.Tensor:
    """Run the reverse process from ``x`` (at step ``visit[0]``) through the steps ``visit``."""
    y = _labels(labels, x.shape[0], model)
    if y is None and guidance_scale != 0:
        raise ValueError("guidance_scale needs labels (the classes to guide towards)")
    model.eval()
    x = x.to(_model_device(model))
    show = run_mode() == "full" if progress is None else progress
    bar = tqdm(total=len(visit), desc=f"{sampler.name.upper()} sampling", disable=not show,
               leave=False)

    def eps_fn(x: torch.Tensor, t: int) -> torch.Tensor:
        eps = predict_eps(model, x, t, y, guidance_scale)
        if callback is not None:
            callback(t, x, sampler.schedule.predict_x0(eps, t, x))
        bar.update()
        return eps

    def step_fn(x: torch.Tensor, eps: torch.Tensor, t: int, t_prev: int) -> torch.Tensor:
        return sampler.step(eps, t, t_prev, x, generator=generator)

    x = sample_loop(step_fn, eps_fn, x, _moves(visit))
    bar.close()
    return x


def sampling_moves(T: int, k: int, spacing: str = "leading") -> list[tuple[int, int]]:
    """The ``k`` moves ``(t, t_prev)`` of a ``k``-step sampler: from each step of
    :func:`ddim_timesteps` to the next one it visits, and from the last to ``-1`` (clean
    data); ``k = T`` gives DDPM's ``(T-1, T-2), ..., (0, -1)``."""
    return _moves(ddim_timesteps(T, k, spacing))


def _moves(steps: Sequence[int]) -> list[tuple[int, int]]:
    """Each visited step paired with the next one, the last with ``-1`` (clean data)."""
    return list(zip(steps, [*steps[1:], -1], strict=True))


def sample_loop(step_fn: Callable[[torch.Tensor, torch.Tensor, int, int], torch.Tensor],
                eps_fn: Callable[[torch.Tensor, int], torch.Tensor], x_T: torch.Tensor,
                moves: Sequence[tuple[int, int]]) -> torch.Tensor:
    """The reverse process from ``x_T``: for each move ``(t, t_prev)`` of ``moves`` (see
    :func:`sampling_moves`), ``x = step_fn(x, eps_fn(x, t), t, t_prev)``. Returns the final
    ``x`` (Ho et al. 2020, Alg. 2; Song et al. 2021, section 4.2, for sub-sequences)."""
    x = x_T
    for t, t_prev in moves:
        x = step_fn(x, eps_fn(x, int(t)), int(t), int(t_prev))
    return x
