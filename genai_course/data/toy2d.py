"""Seeded 2-D toy distributions (float32 points, int64 labels) and their exact densities.

Every generator takes ``seed`` and uses its own ``numpy.random.default_rng(seed)``, so
the same call returns the same array on every platform and does not touch global state.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import logsumexp

from genai_course.core.checks import check_int, check_number

#: Component parameters of :func:`two_class_blobs`: class 0 is one Gaussian, class 1 an
#: equal mixture of two Gaussians (so a single Gaussian per class is visibly wrong).
BLOB_MEANS = ((0.0, 0.0), (2.0, 1.6), (2.0, -1.6))
BLOB_STDS = (0.8, 0.5, 0.5)


def _shuffled(rng: np.random.Generator, x: np.ndarray, y: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    order = rng.permutation(len(x))
    return x[order].astype(np.float32), y[order].astype(np.int64)


def two_class_blobs(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two classes, ``n // 2`` of class 0 and the rest of class 1, shuffled.

    Class 0 ~ N((0, 0), 0.8^2 I); class 1 ~ 1/2 N((2, 1.6), 0.5^2 I) + 1/2 N((2, -1.6),
    0.5^2 I) (see :data:`BLOB_MEANS`, :data:`BLOB_STDS`). Returns ``X`` (n, 2) float32 and
    ``y`` (n,) int64.
    """
    n = check_int(n, "n", 2)
    seed = check_int(seed, "seed", 0)
    rng = np.random.default_rng(seed)
    n0 = n // 2
    component = np.concatenate([np.zeros(n0, dtype=np.int64), 1 + rng.integers(0, 2, n - n0)])
    means = np.asarray(BLOB_MEANS)[component]
    stds = np.asarray(BLOB_STDS)[component, None]
    x = means + stds * rng.standard_normal((n, 2))
    return _shuffled(rng, x, (component > 0).astype(np.int64))


def moons(n: int = 400, noise: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles, the same curves as ``sklearn.datasets.make_moons``.

    ``n // 2`` points of class 0 on ``(cos t, sin t)`` and the rest of class 1 on
    ``(1 - cos t, 0.5 - sin t)``, ``t`` evenly spaced on [0, pi], plus N(0, noise^2 I)
    noise; shuffled. Returns ``X`` (n, 2) float32 and ``y`` (n,) int64.
    """
    n = check_int(n, "n", 2)
    noise = check_number(noise, "noise")
    seed = check_int(seed, "seed", 0)
    rng = np.random.default_rng(seed)
    n0 = n // 2
    t0, t1 = np.linspace(0, np.pi, n0), np.linspace(0, np.pi, n - n0)
    x = np.concatenate([np.stack([np.cos(t0), np.sin(t0)], 1),
                        np.stack([1 - np.cos(t1), 0.5 - np.sin(t1)], 1)])
    x = x + noise * rng.standard_normal(x.shape)
    y = np.concatenate([np.zeros(n0, dtype=np.int64), np.ones(n - n0, dtype=np.int64)])
    return _shuffled(rng, x, y)


def ring_means(k: int = 8, radius: float = 2.0) -> np.ndarray:
    """The ``k`` means ``radius * (cos 2 pi j / k, sin 2 pi j / k)``, shape (k, 2) float64."""
    k = check_int(k, "k", 1)
    radius = check_number(radius, "radius")
    angles = 2 * np.pi * np.arange(k) / k
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def ring_of_gaussians(n: int = 1000, k: int = 8, radius: float = 2.0, std: float = 0.05,
                      seed: int = 0) -> np.ndarray:
    """``n`` draws from the equal mixture of N(m_j, std^2 I) over :func:`ring_means`.

    The classic mode-collapse test for GANs. Returns (n, 2) float32.
    """
    n = check_int(n, "n", 1)
    std = check_number(std, "std", positive=True)
    seed = check_int(seed, "seed", 0)
    means = ring_means(k, radius)
    rng = np.random.default_rng(seed)
    x = means[rng.integers(0, k, n)] + std * rng.standard_normal((n, 2))
    return x.astype(np.float32)


def gaussian_mixture_log_density(x: ArrayLike, means: ArrayLike, stds: ArrayLike,
                                 weights: ArrayLike) -> np.ndarray:
    """log p(x) for p = sum_j w_j N(m_j, s_j^2 I), evaluated with logsumexp.

    ``log N(x; m, s^2 I) = -d/2 log(2 pi s^2) - |x - m|^2 / (2 s^2)``. ``x`` is (n, d) or
    (d,), ``means`` (k, d), ``stds`` a scalar or (k,), ``weights`` (k,) non-negative and
    summing to 1. Returns float64 of shape (n,) (a NumPy float for a single point).
    """
    mu = np.asarray(means, dtype=np.float64)
    if mu.ndim != 2 or mu.shape[0] == 0:
        raise ValueError(f"means must have shape (k, d) with k >= 1, got {mu.shape}")
    k, d = mu.shape
    pts = np.asarray(x, dtype=np.float64)
    single = pts.ndim == 1
    pts = pts[None] if single else pts
    if pts.ndim != 2 or pts.shape[1] != d:
        raise ValueError(f"x must have shape (n, {d}) or ({d},), got {np.shape(x)}")
    s = np.asarray(stds, dtype=np.float64)
    s = np.full(k, s) if s.ndim == 0 else s
    if s.shape != (k,) or not np.all(np.isfinite(s)) or np.any(s <= 0):
        raise ValueError(f"stds must be a positive scalar or have shape ({k},)")
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (k,) or np.any(w < 0) or not np.isclose(w.sum(), 1.0, rtol=0, atol=1e-6):
        raise ValueError(f"weights must have shape ({k},), be >= 0 and sum to 1")
    sq = ((pts[:, None, :] - mu[None]) ** 2).sum(-1)
    with np.errstate(divide="ignore"):
        log_w = np.log(w)
    log_comp = log_w - 0.5 * d * np.log(2 * np.pi * s**2) - sq / (2 * s**2)
    out = logsumexp(log_comp, axis=1)
    return out[0] if single else out


def ring_log_density(x: ArrayLike, k: int = 8, radius: float = 2.0,
                     std: float = 0.05) -> np.ndarray:
    """Exact log density of :func:`ring_of_gaussians` at ``x`` ((n, 2) -> (n,) float64)."""
    std = check_number(std, "std", positive=True)
    return gaussian_mixture_log_density(x, ring_means(k, radius), std, np.full(k, 1.0 / k))


def checkerboard(n: int = 1000, k: int = 4, extent: float = 2.0, seed: int = 0) -> np.ndarray:
    """``n`` points uniform on the dark squares of a ``k`` x ``k`` checkerboard covering
    [-extent, extent]^2 (square (i, j) from the bottom-left is dark when i + j is even).

    A standard 2-D benchmark for diffusion and flow models (e.g. Grathwohl et al. 2019,
    "FFJORD"): sharp edges, several disconnected pieces. Returns (n, 2) float32.
    """
    n = check_int(n, "n", 1)
    k = check_int(k, "k", 1)
    extent = check_number(extent, "extent", positive=True)
    seed = check_int(seed, "seed", 0)
    rng = np.random.default_rng(seed)
    dark = np.array([(i, j) for i in range(k) for j in range(k) if (i + j) % 2 == 0])
    cell = dark[rng.integers(0, len(dark), n)]
    side = 2 * extent / k
    x = -extent + side * (cell + rng.random((n, 2)))
    return x.astype(np.float32)


def checkerboard_log_density(x: ArrayLike, k: int = 4, extent: float = 2.0) -> np.ndarray:
    """Exact log density of :func:`checkerboard`: ``-log(dark area)`` on the dark squares,
    ``-inf`` elsewhere ((n, 2) -> (n,) float64)."""
    k = check_int(k, "k", 1)
    extent = check_number(extent, "extent", positive=True)
    pts = np.asarray(x, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"x must have shape (n, 2), got {pts.shape}")
    side = 2 * extent / k
    ij = np.floor((pts + extent) / side)
    inside = np.all((ij >= 0) & (ij < k), axis=1)
    dark = inside & (ij.sum(axis=1) % 2 == 0)
    n_dark = (k * k + 1) // 2
    return np.where(dark, -np.log(n_dark * side**2), -np.inf)
