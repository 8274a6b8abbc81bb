"""RealNVP, a normalising flow with an exact likelihood (Dinh, Sohl-Dickstein & Bengio 2017).

A flow is an invertible map ``f`` from data ``x`` to a latent ``z = f(x)`` with a simple
base density ``p_Z = N(0, I)``. The change-of-variables formula gives the exact density::

    log p(x) = log p_Z(f(x)) + log |det df/dx|                    (RealNVP eq. 3)

An affine coupling layer (RealNVP eq. 4-6) keeps the dimensions where ``mask = 1`` and
transforms the others with a scale and shift computed from the kept ones::

    y = x_m + (1 - m) * (x * exp(s(x_m)) + t(x_m)),   x_m = m * x

Its Jacobian is triangular, so ``log |det dy/dx| = sum_{i: m_i = 0} s_i(x_m)`` (eq. 6), and
its inverse is just as cheap: ``x = y_m + (1 - m) * (y - t(y_m)) * exp(-s(y_m))``.
Stacking layers with alternating masks lets every dimension be transformed.

Sampling runs the flow backwards: ``z ~ N(0, I)``, ``x = f^{-1}(z)``.

Used in: chapter 2.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from numpy.typing import ArrayLike
from torch import nn

from genai_course.core.checks import check_points
from genai_course.core.train import History, fit
from genai_course.runtime import seeded

LOG_2PI = math.log(2 * math.pi)

#: ``(x, mask, s, t) -> (y, log_det)``: one affine coupling step for given ``s`` and ``t``
#: (:func:`coupling_forward`, :func:`coupling_inverse`, or a student's own).
CouplingFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
                      tuple[torch.Tensor, torch.Tensor]]


def coupling_forward(x: torch.Tensor, mask: torch.Tensor, s: torch.Tensor, t: torch.Tensor
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """RealNVP eq. 4-6 for given scale and shift: ``y = m x + (1 - m)(x exp(s) + t)`` and
    ``log|det dy/dx| = sum_i (1 - m_i) s_i`` per row, shapes (n, dim) and (n,)."""
    free = 1 - mask
    return mask * x + free * (x * torch.exp(s) + t), (free * s).sum(-1)


def coupling_inverse(y: torch.Tensor, mask: torch.Tensor, s: torch.Tensor, t: torch.Tensor
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """The inverse of :func:`coupling_forward` for the same ``s`` and ``t`` (RealNVP eq. 8-9):
    ``x = m y + (1 - m)(y - t) exp(-s)`` and ``log|det dx/dy| = -sum_i (1 - m_i) s_i``."""
    free = 1 - mask
    return mask * y + free * (y - t) * torch.exp(-s), -(free * s).sum(-1)


def standard_normal_log_prob(z: torch.Tensor) -> torch.Tensor:
    """``log N(z; 0, I) = -|z|^2 / 2 - d/2 log(2 pi)`` per row, shape (n,)."""
    return -0.5 * (z**2).sum(-1) - 0.5 * z.shape[-1] * LOG_2PI


class AffineCoupling(nn.Module):
    """One affine coupling layer (RealNVP eq. 4-6).

    ``mask`` (shape ``(dim,)``, zeros and ones) marks the dimensions that pass through
    unchanged and condition the scale ``s`` and shift ``t`` of the others. As in the
    paper, ``s = scale * tanh(raw_s)`` keeps the log-scale bounded early in training.
    """

    def __init__(self, dim: int, mask: torch.Tensor, hidden: int = 64) -> None:
        super().__init__()
        mask = torch.as_tensor(mask, dtype=torch.float32)
        if mask.shape != (dim,) or not torch.all((mask == 0) | (mask == 1)):
            raise ValueError(f"mask must be a 0/1 tensor of shape ({dim},), got {mask}")
        if mask.sum() == 0 or mask.sum() == dim:
            raise ValueError("mask must keep at least one and transform at least one dimension")
        self.dim = dim
        self.register_buffer("mask", mask)
        self.net = nn.Sequential(
            nn.Linear(dim, hidden), nn.SiLU(),
            nn.Linear(hidden, hidden), nn.SiLU(),
            nn.Linear(hidden, 2 * dim),
        )
        self.scale = nn.Parameter(torch.ones(dim))

    def _s_t(self, kept: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raw_s, t = self.net(kept).chunk(2, dim=-1)
        free = 1 - self.mask
        return free * self.scale * torch.tanh(raw_s), free * t

    def forward(self, x: torch.Tensor, coupling: CouplingFn | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(y, log|det dy/dx|)``, shapes (n, dim) and (n,), computed by ``coupling``
        (default :func:`coupling_forward`) from ``s`` and ``t`` of the kept coordinates."""
        check_points(x, self.dim)
        s, t = self._s_t(x * self.mask)
        return (coupling or coupling_forward)(x, self.mask, s, t)

    def inverse(self, y: torch.Tensor, coupling_inverse_fn: CouplingFn | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x, log|det dx/dy|)`` by ``coupling_inverse_fn`` (default
        :func:`coupling_inverse`): the kept coordinates pass unchanged, so ``s`` and ``t``
        computed from ``y``'s are those of the forward pass."""
        check_points(y, self.dim, "y")
        s, t = self._s_t(y * self.mask)
        return (coupling_inverse_fn or coupling_inverse)(y, self.mask, s, t)


def alternating_masks(dim: int, n_layers: int) -> list[torch.Tensor]:
    """Checkerboard masks over the coordinates, flipped from one layer to the next."""
    even = (torch.arange(dim) % 2 == 0).to(torch.float32)
    return [even if i % 2 == 0 else 1 - even for i in range(n_layers)]


class RealNVP(nn.Module):
    """A stack of :class:`AffineCoupling` layers on top of a standard normal base.

    ``forward`` is the normalising direction ``x -> z``, ``inverse`` the generative one.
    ``seed`` makes the initial weights reproducible without touching global RNG state.
    """

    def __init__(self, dim: int = 2, n_layers: int = 6, hidden: int = 64,
                 seed: int | None = None) -> None:
        super().__init__()
        if dim < 2:
            raise ValueError(f"a coupling flow needs dim >= 2, got {dim}")
        if n_layers < 1:
            raise ValueError(f"n_layers must be >= 1, got {n_layers}")
        self.dim = dim
        with seeded(seed):
            self.layers = nn.ModuleList(
                AffineCoupling(dim, m, hidden) for m in alternating_masks(dim, n_layers)
            )

    def forward(self, x: torch.Tensor, coupling: CouplingFn | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """``z = f(x)`` and ``log|det df/dx|`` (the sum over layers), shapes (n, dim), (n,);
        ``coupling`` replaces :func:`coupling_forward` in every layer."""
        check_points(x, self.dim)
        log_det = x.new_zeros(x.shape[0])
        for layer in self.layers:
            x, ld = layer(x, coupling)
            log_det = log_det + ld
        return x, log_det

    def inverse(self, z: torch.Tensor, coupling_inverse_fn: CouplingFn | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """``x = f^{-1}(z)`` and ``log|det df^{-1}/dz|``; ``coupling_inverse_fn`` replaces
        :func:`coupling_inverse` in every layer."""
        check_points(z, self.dim, "z")
        log_det = z.new_zeros(z.shape[0])
        for layer in reversed(self.layers):
            z, ld = layer.inverse(z, coupling_inverse_fn)
            log_det = log_det + ld
        return z, log_det

    def log_prob(self, x: torch.Tensor, coupling: CouplingFn | None = None) -> torch.Tensor:
        """Exact ``log p(x) = log N(f(x); 0, I) + log|det df/dx|`` (nats), shape (n,)."""
        z, log_det = self(x, coupling)
        return standard_normal_log_prob(z) + log_det

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None,
               coupling_inverse_fn: CouplingFn | None = None) -> torch.Tensor:
        """``n`` samples ``f^{-1}(z)``, ``z ~ N(0, I)``, shape (n, dim)."""
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        device = next(self.parameters()).device
        z = torch.randn(n, self.dim, generator=generator,
                        device=generator.device if generator is not None else device)
        return self.inverse(z.to(device), coupling_inverse_fn)[0]


def as_float_tensor(x: ArrayLike | torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """Training data as a float32 (n, d) tensor (NumPy arrays are converted)."""
    t = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    t = t.to(torch.float32)
    if t.ndim != 2 or t.shape[0] == 0 or (dim is not None and t.shape[1] != dim):
        want = f"(n, {dim})" if dim is not None else "(n, d)"
        raise ValueError(f"training data must have shape {want} with n >= 1, got {tuple(t.shape)}")
    return t


def train_flow(model: RealNVP, x_train: ArrayLike | torch.Tensor, steps: int = 2000,
               batch_size: int = 256, lr: float = 2e-3, seed: int = 0,
               progress: bool | None = None, cosine: bool = True,
               coupling: CouplingFn | None = None) -> History:
    """Maximum likelihood: minimise the mean negative log-likelihood ``-log p(x)`` (nats)
    with Adam, the learning rate decayed to 0 over ``steps`` on a cosine when ``cosine``
    (Loshchilov & Hutter 2017). Records ``loss`` (the minibatch NLL) per step.
    ``coupling`` replaces :func:`coupling_forward` in every layer (e.g. a student's own)."""
    return fit(model, lambda xb: -model.log_prob(xb, coupling).mean(),
               as_float_tensor(x_train, model.dim),
               steps=steps, batch_size=batch_size, lr=lr, seed=seed,
               lr_schedule="cosine" if cosine else None, clip_norm=10.0, desc="RealNVP",
               progress=progress)
