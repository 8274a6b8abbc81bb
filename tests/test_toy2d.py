"""2-D toy data: shapes, dtypes, seeding, and exact densities against scipy/sklearn."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import multivariate_normal
from sklearn.datasets import make_moons

from genai_course.data.toy2d import (
    BLOB_MEANS,
    gaussian_mixture_log_density,
    moons,
    ring_log_density,
    ring_means,
    ring_of_gaussians,
    two_class_blobs,
)


def _check_xy(X: np.ndarray, y: np.ndarray, n: int) -> None:
    assert X.dtype == np.float32 and X.shape == (n, 2)
    assert y.dtype == np.int64 and y.shape == (n,)
    assert np.all(np.isfinite(X))


@pytest.mark.parametrize("make", [two_class_blobs, moons])
def test_seeded_and_balanced(make) -> None:
    X, y = make(n=301, seed=3)
    _check_xy(X, y, 301)
    assert np.bincount(y).tolist() == [150, 151]
    X2, y2 = make(n=301, seed=3)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(X, make(n=301, seed=4)[0])
    assert 0 < y[:150].sum() < 150  # shuffled, not sorted by class


def test_class_one_is_not_a_single_gaussian() -> None:
    X, y = two_class_blobs(n=4000, seed=1)
    c1 = X[y == 1].astype(np.float64)
    np.testing.assert_allclose(c1.mean(axis=0), [2.0, 0.0], atol=0.1)
    # A Gaussian with this spread along x2 (std ~ 1.68) puts ~23% of its mass in
    # |x2 - 0| < 0.5; the two-blob class has almost none there.
    assert c1[:, 1].std() > 1.5
    assert np.mean(np.abs(c1[:, 1]) < 0.5) < 0.05
    np.testing.assert_allclose(X[y == 0].mean(axis=0), BLOB_MEANS[0], atol=0.1)
    np.testing.assert_allclose(X[y == 0].std(axis=0), [0.8, 0.8], rtol=0.1)


def test_moons_match_sklearn_curves() -> None:
    for n in (10, 11):
        X, y = moons(n=n, noise=0.0, seed=0)
        ref_X, ref_y = make_moons(n_samples=n, noise=0.0, shuffle=False)
        ours, theirs = np.lexsort((X[:, 1], X[:, 0])), np.lexsort((ref_X[:, 1], ref_X[:, 0]))
        np.testing.assert_allclose(X[ours], ref_X[theirs], atol=1e-6)
        np.testing.assert_array_equal(y[ours], ref_y[theirs])


def test_moons_noise_level() -> None:
    X, y = moons(n=20000, noise=0.1, seed=0)
    # Outer moon: distance from (0, 0) is 1 + radial noise; inner: from (1, 0.5).
    r0 = np.linalg.norm(X[y == 0], axis=1)
    r1 = np.linalg.norm(X[y == 1] - np.array([1.0, 0.5], dtype=np.float32), axis=1)
    for r in (r0, r1):
        assert abs(np.median(r) - 1.0) < 0.01
        assert 0.09 < r.std() < 0.11


def test_ring_of_gaussians() -> None:
    k, radius, std = 8, 2.0, 0.05
    X = ring_of_gaussians(n=8000, k=k, radius=radius, std=std, seed=0)
    assert X.dtype == np.float32 and X.shape == (8000, 2)
    means = ring_means(k, radius)
    np.testing.assert_allclose(np.linalg.norm(means, axis=1), radius)
    d = np.linalg.norm(X[:, None, :] - means[None], axis=2)
    nearest = d.argmin(axis=1)
    assert d.min(axis=1).max() < 6 * std
    counts = np.bincount(nearest, minlength=k)
    assert np.all(np.abs(counts - 1000) < 4 * np.sqrt(1000))
    resid = X - means[nearest]
    np.testing.assert_allclose(resid.std(axis=0), [std, std], rtol=0.05)
    np.testing.assert_array_equal(X, ring_of_gaussians(n=8000, k=k, radius=radius, std=std))


def test_ring_log_density_matches_scipy_and_integrates_to_one() -> None:
    k, radius, std = 5, 1.5, 0.3
    pts = np.random.default_rng(0).normal(size=(50, 2)) * 2
    ref = np.log(sum(multivariate_normal(m, std**2 * np.eye(2)).pdf(pts) / k
                     for m in ring_means(k, radius)))
    np.testing.assert_allclose(ring_log_density(pts, k, radius, std), ref, rtol=1e-10)
    grid = np.linspace(-4, 4, 401)
    g0, g1 = np.meshgrid(grid, grid)
    dens = np.exp(ring_log_density(np.column_stack([g0.ravel(), g1.ravel()]), k, radius, std))
    assert dens.sum() * (grid[1] - grid[0]) ** 2 == pytest.approx(1.0, abs=1e-6)


def test_mixture_log_density_general_and_stable() -> None:
    means = np.array([[0.0, 0.0, 0.0], [1.0, 2.0, 3.0]])
    stds, weights = np.array([0.5, 2.0]), np.array([0.3, 0.7])
    pts = np.random.default_rng(1).normal(size=(20, 3))
    ref = np.log(0.3 * multivariate_normal(means[0], 0.25 * np.eye(3)).pdf(pts)
                 + 0.7 * multivariate_normal(means[1], 4.0 * np.eye(3)).pdf(pts))
    out = gaussian_mixture_log_density(pts, means, stds, weights)
    assert out.dtype == np.float64 and out.shape == (20,)
    np.testing.assert_allclose(out, ref, rtol=1e-10)
    single = gaussian_mixture_log_density(pts[0], means, stds, weights)
    assert np.ndim(single) == 0 and single == pytest.approx(ref[0])
    # Far from every mode the naive log(sum(exp)) underflows to -inf; logsumexp does not.
    far = gaussian_mixture_log_density([[1000.0, 0.0]], ring_means(8, 2.0), 0.05,
                                       np.full(8, 1 / 8))
    expected = np.log(1 / 8) - np.log(2 * np.pi * 0.05**2) - 998.0**2 / (2 * 0.05**2)
    assert far[0] == pytest.approx(expected, rel=1e-9)
    # A zero weight switches a component off.
    zero = gaussian_mixture_log_density(pts, means, stds, [0.0, 1.0])
    np.testing.assert_allclose(
        zero, multivariate_normal(means[1], 4.0 * np.eye(3)).logpdf(pts), rtol=1e-10)


@pytest.mark.parametrize(("call", "error"), [
    (lambda: two_class_blobs(n=1), ValueError),
    (lambda: two_class_blobs(n=10.0), TypeError),
    (lambda: two_class_blobs(seed=-1), ValueError),
    (lambda: moons(noise=-0.1), ValueError),
    (lambda: moons(noise=float("nan")), ValueError),
    (lambda: moons(n=True), TypeError),
    (lambda: ring_of_gaussians(k=0), ValueError),
    (lambda: ring_of_gaussians(std=0.0), ValueError),
    (lambda: ring_of_gaussians(n=0), ValueError),
    (lambda: ring_log_density(np.zeros((3, 2)), std=-1.0), ValueError),
    (lambda: gaussian_mixture_log_density(np.zeros((3, 2)), np.zeros((2, 3)), 1.0,
                                          [0.5, 0.5]), ValueError),
    (lambda: gaussian_mixture_log_density(np.zeros((3, 2)), np.zeros((2, 2)), 1.0,
                                          [0.5, 0.6]), ValueError),
    (lambda: gaussian_mixture_log_density(np.zeros((3, 2)), np.zeros((2, 2)), [1.0, 0.0],
                                          [0.5, 0.5]), ValueError),
    (lambda: gaussian_mixture_log_density(np.zeros((3, 2)), np.zeros(2), 1.0, [1.0]),
     ValueError),
])
def test_rejects_bad_arguments(call, error) -> None:
    with pytest.raises(error):
        call()


def test_checkerboard_points_lie_on_dark_squares_with_their_exact_density() -> None:
    from genai_course.data.toy2d import checkerboard, checkerboard_log_density

    x = checkerboard(4000, seed=0)
    assert x.dtype == np.float32 and x.shape == (4000, 2)
    np.testing.assert_array_equal(x, checkerboard(4000, seed=0))
    log_p = checkerboard_log_density(x)
    np.testing.assert_allclose(log_p, -np.log(8.0))  # 8 dark unit squares on a 4 x 4 board
    # every dark square gets about 1/8 of the points
    cells = np.floor(x.astype(np.float64) + 2).astype(int)
    counts = np.bincount(cells[:, 0] * 4 + cells[:, 1], minlength=16)
    dark = [i * 4 + j for i in range(4) for j in range(4) if (i + j) % 2 == 0]
    assert counts[[c for c in range(16) if c not in dark]].sum() == 0
    np.testing.assert_allclose(counts[dark] / 4000, 1 / 8, atol=0.02)
    # the density integrates to one on a grid over the board
    g = np.linspace(-2.5, 2.5, 501)[:-1] + 0.005
    grid = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
    assert np.exp(checkerboard_log_density(grid)).sum() * 0.01**2 == pytest.approx(1.0, abs=0.01)
    assert checkerboard_log_density([[0.5, -0.5], [3.0, 0.0]]).tolist() == [-np.inf, -np.inf]
    with pytest.raises(ValueError, match="x must have shape"):
        checkerboard_log_density([1.0, 2.0])

