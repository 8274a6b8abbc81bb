"""Sample-quality distances between two sets of points (float64 inside).

* :func:`mmd_rbf` -- unbiased squared maximum mean discrepancy with a sum of RBF kernels
  (Gretton et al., "A Kernel Two-Sample Test", JMLR 2012, eq. 3).
* :func:`sliced_wasserstein` -- sliced Wasserstein distance via sorted 1-D projections
  (Bonneel et al., "Sliced and Radon Wasserstein Barycenters of Measures", 2015).
* :func:`mode_coverage` -- modes hit and share of high-quality samples, the standard
  mode-collapse measure on a ring of Gaussians (Metz et al. 2017, "Unrolled GANs";
  Srivastava et al. 2017, "VEEGAN").
* :func:`mean_pairwise_distance` -- a diversity measure (0 when every sample is the same).

Inputs are torch tensors or NumPy arrays of shape (n, d); (n,) is read as n points in 1-D
and (n, d1, d2, ...) (e.g. images) is flattened to (n, d1 * d2 * ...).

Used in: chapters 2, 4, 8.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from numpy.typing import ArrayLike

Points = torch.Tensor | ArrayLike

#: Default RBF bandwidths of :func:`mmd_rbf`: from finer than the ring's modes
#: (std 0.05) to coarser than the whole ring (radius 2), and up to 8x8 digit distances.
DEFAULT_BANDWIDTHS = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


def _points(x: Points, name: str, min_n: int = 1) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        t = x.detach().cpu()
    else:
        t = torch.as_tensor(np.ascontiguousarray(x))
    if t.dtype == torch.bool or t.is_complex():
        raise TypeError(f"{name} must hold real numbers, got dtype {t.dtype}")
    t = t.to(torch.float64)
    if t.ndim == 0:
        raise ValueError(f"{name} must have shape (n, d), got a scalar")
    t = t.reshape(t.shape[0], -1) if t.ndim > 1 else t[:, None]
    if t.shape[0] < min_n:
        raise ValueError(f"{name} needs at least {min_n} points, got {t.shape[0]}")
    if t.shape[1] == 0:
        raise ValueError(f"{name} has zero features")
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} contains NaN or inf")
    return t


def _same_dim(x: torch.Tensor, y: torch.Tensor) -> None:
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same dimension, got {x.shape[1]} and {y.shape[1]}")


def _rbf_sum(a: torch.Tensor, b: torch.Tensor, bandwidths: torch.Tensor) -> torch.Tensor:
    """``sum_s exp(-|a_i - b_j|^2 / (2 s^2))``, shape (len(a), len(b))."""
    sq = torch.cdist(a, b).square()
    return torch.exp(-sq[None] / (2 * bandwidths[:, None, None] ** 2)).sum(0)


def mmd_rbf(x: Points, y: Points, bandwidths: Sequence[float] = DEFAULT_BANDWIDTHS) -> float:
    """Unbiased squared MMD between samples ``x`` (m, d) and ``y`` (n, d) (Gretton 2012, eq. 3).

    ``MMD^2_u = 1/(m(m-1)) sum_{i != j} k(x_i, x_j) + 1/(n(n-1)) sum_{i != j} k(y_i, y_j)
    - 2/(mn) sum_{i, j} k(x_i, y_j)`` with ``k(a, b) = sum_s exp(-|a - b|^2 / (2 s^2))``
    over ``bandwidths`` (a sum of kernels is a kernel, and it is sensitive at every
    scale). It is zero in expectation when x and y come from the same distribution, so
    a single estimate can be slightly negative. Needs m, n >= 2; memory is O((m + n)^2).
    """
    x, y = _points(x, "x", 2), _points(y, "y", 2)
    _same_dim(x, y)
    s = torch.as_tensor(bandwidths, dtype=torch.float64).flatten()
    if s.numel() == 0 or not torch.isfinite(s).all() or (s <= 0).any():
        raise ValueError(f"bandwidths must be positive and finite, got {list(bandwidths)}")
    m, n = len(x), len(y)
    kxx, kyy, kxy = _rbf_sum(x, x, s), _rbf_sum(y, y, s), _rbf_sum(x, y, s)
    xx = (kxx.sum() - kxx.diagonal().sum()) / (m * (m - 1))
    yy = (kyy.sum() - kyy.diagonal().sum()) / (n * (n - 1))
    return float(xx + yy - 2 * kxy.mean())


def _quantiles_wasserstein(px: torch.Tensor, py: torch.Tensor, p: float) -> torch.Tensor:
    """W_p^p between the 1-D empirical measures in the columns of ``px`` (m, L), ``py`` (n, L).

    ``W_p^p = int_0^1 |F^-1(t) - G^-1(t)|^p dt``; both quantile functions are step
    functions, constant between consecutive points of {i/m} U {j/n}, so the integral is
    an exact finite sum. With m == n this is the mean of |sorted x - sorted y|^p.
    """
    xs, ys = px.sort(dim=0).values, py.sort(dim=0).values
    m, n = len(xs), len(ys)
    if m == n:
        return (xs - ys).abs().pow(p).mean(0)
    # Breakpoints as exact fractions k / (m n), then the step index of each quantile.
    ticks = torch.unique(torch.cat([torch.arange(1, m + 1) * n, torch.arange(1, n + 1) * m]))
    widths = torch.diff(ticks, prepend=torch.zeros(1, dtype=ticks.dtype)).to(torch.float64)
    ix = torch.div(ticks - 1, n, rounding_mode="floor")  # quantile index in xs on (t-1, t]
    iy = torch.div(ticks - 1, m, rounding_mode="floor")
    diff = (xs[ix] - ys[iy]).abs().pow(p)
    return (widths[:, None] * diff).sum(0) / (m * n)


def sliced_wasserstein(x: Points, y: Points, n_projections: int = 256, p: float = 1,
                       seed: int = 0) -> float:
    """Sliced p-Wasserstein distance (Bonneel et al. 2015):
    ``SW_p(x, y) = (E_theta W_p^p(<theta, x>, <theta, y>))^(1/p)``.

    ``theta`` are ``n_projections`` random unit vectors (uniform on the sphere, drawn
    from a generator seeded with ``seed``, so the value is deterministic). Each 1-D
    W_p is exact for empirical measures: with equal sample sizes it is the mean of
    ``|sorted - sorted|^p``; unequal sizes are handled exactly through the quantile
    functions (see :func:`_quantiles_wasserstein`). In 1-D every projection is +-1, so
    the result is the exact W_p. Same units as the data; ``p >= 1``.
    """
    x, y = _points(x, "x"), _points(y, "y")
    _same_dim(x, y)
    if isinstance(n_projections, bool) or not isinstance(n_projections, int) or n_projections < 1:
        raise ValueError(f"n_projections must be an int >= 1, got {n_projections!r}")
    if not p >= 1:
        raise ValueError(f"p must be >= 1, got {p}")
    generator = torch.Generator().manual_seed(seed)
    theta = torch.randn(x.shape[1], n_projections, generator=generator, dtype=torch.float64)
    theta = theta / theta.norm(dim=0, keepdim=True)
    wpp = _quantiles_wasserstein(x @ theta, y @ theta, p)
    return float(wpp.mean() ** (1 / p))


def mode_coverage(samples: Points, means: Points, radius: float,
                  min_count: int = 1) -> tuple[int, float]:
    """``(n_modes_hit, fraction_high_quality)`` of ``samples`` (n, d) against ``means`` (k, d).

    A sample is *high quality* when it lies within ``radius`` (Euclidean) of some mode;
    a mode is *hit* when at least ``min_count`` samples lie within ``radius`` of it. On a
    ring of Gaussians with std s the usual radius is 3 s (Metz et al. 2017; Srivastava et
    al. 2017). A collapsed generator hits few modes; a blurry one has few high-quality
    samples.
    """
    x, mu = _points(samples, "samples"), _points(means, "means")
    if x.shape[1] != mu.shape[1]:
        raise ValueError(f"samples have dimension {x.shape[1]}, means {mu.shape[1]}")
    if not radius > 0:
        raise ValueError(f"radius must be > 0, got {radius}")
    if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
        raise ValueError(f"min_count must be an int >= 1, got {min_count!r}")
    dist = torch.cdist(x, mu, compute_mode="donot_use_mm_for_euclid_dist")
    close = dist <= radius  # (n, k)
    n_hit = int((close.sum(0) >= min_count).sum())
    return n_hit, float(close.any(1).double().mean())


def mean_pairwise_distance(x: torch.Tensor) -> float:
    """Mean Euclidean distance between distinct rows of ``x`` (flattened): a diversity
    measure (0 when every sample is the same)."""
    flat = x.detach().flatten(1).double()
    if len(flat) < 2:
        raise ValueError("need at least two samples")
    return float(torch.pdist(flat).mean())
