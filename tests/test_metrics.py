"""Sample-quality metrics: MMD against a brute-force loop, sliced Wasserstein against exact
and analytic values, mode coverage on constructed samples."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import wasserstein_distance

from genai_course.data.toy2d import ring_means, ring_of_gaussians
from genai_course.evaluation.distances import mmd_rbf, mode_coverage, sliced_wasserstein


def _mmd_brute_force(x: np.ndarray, y: np.ndarray, bandwidths: tuple[float, ...]) -> float:
    def k(a: np.ndarray, b: np.ndarray) -> float:
        return sum(math.exp(-float(np.sum((a - b) ** 2)) / (2 * s * s)) for s in bandwidths)

    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def test_mmd_equals_the_double_loop_of_gretton_eq3() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(7, 3)), rng.normal(0.5, 1.2, size=(5, 3))
    bw = (0.3, 1.0, 2.5)
    assert mmd_rbf(x, y, bw) == pytest.approx(_mmd_brute_force(x, y, bw), rel=1e-10)
    # torch input, float32, gives the same number (computed in float64 inside)
    got = mmd_rbf(torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32), bw)
    assert got == pytest.approx(_mmd_brute_force(x.astype(np.float32), y.astype(np.float32), bw),
                                rel=1e-6)
    assert isinstance(got, float)


def test_mmd_is_near_zero_for_one_distribution_and_grows_with_the_shift() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(400, 2)), rng.normal(size=(400, 2))
    same = mmd_rbf(x, y)
    assert abs(same) < 0.02  # unbiased: noise around 0, either sign
    values = [mmd_rbf(x, y + np.array([shift, 0.0])) for shift in (0.25, 0.5, 1.0, 2.0)]
    assert values[0] > 5 * abs(same) + 0.01
    assert all(a < b for a, b in zip(values, values[1:], strict=False))
    assert mmd_rbf(x, x) < 0  # identical sets: the unbiased estimate dips below 0


def test_mmd_is_symmetric_and_flattens_images() -> None:
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(6, 1, 2, 2)), rng.normal(size=(4, 1, 2, 2))
    assert mmd_rbf(x, y) == pytest.approx(mmd_rbf(y, x), rel=1e-12)
    assert mmd_rbf(x, y) == pytest.approx(mmd_rbf(x.reshape(6, 4), y.reshape(4, 4)), rel=1e-12)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: mmd_rbf(np.zeros((5, 2)), np.zeros((5, 3))), "same dimension"),
        (lambda: mmd_rbf(np.zeros((1, 2)), np.zeros((5, 2))), "at least 2"),
        (lambda: mmd_rbf(np.zeros((3, 2)), np.zeros((3, 2)), bandwidths=(0.0,)), "positive"),
        (lambda: mmd_rbf(np.full((3, 2), np.nan), np.zeros((3, 2))), "NaN"),
        (lambda: sliced_wasserstein(np.zeros((3, 2)), np.zeros((3, 2)), n_projections=0),
         "n_projections"),
        (lambda: sliced_wasserstein(np.zeros((3, 2)), np.zeros((3, 2)), p=0.5), "p must"),
        (lambda: mode_coverage(np.zeros((3, 2)), np.zeros((4, 3)), 1.0), "dimension"),
        (lambda: mode_coverage(np.zeros((3, 2)), np.zeros((4, 2)), 0.0), "radius"),
    ],
)
def test_bad_input_is_rejected_with_a_clear_message(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_sliced_wasserstein_of_point_masses_is_the_distance() -> None:
    for a, b in ((0.0, 3.0), (-1.5, 2.25)):
        x, y = np.full((10, 1), a), np.full((10, 1), b)
        assert sliced_wasserstein(x, y) == pytest.approx(abs(a - b), rel=1e-12)
        assert sliced_wasserstein(x, y, p=2) == pytest.approx(abs(a - b), rel=1e-12)
    # a 1-D input given as (n,) and unequal sample sizes
    assert sliced_wasserstein(np.zeros(4), np.ones(7)) == pytest.approx(1.0)


def test_sliced_wasserstein_in_1d_is_the_exact_wasserstein_distance() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=37), rng.normal(0.3, 2.0, size=51)  # unequal sizes: quantiles
    assert sliced_wasserstein(a, b) == pytest.approx(wasserstein_distance(a, b), rel=1e-10)
    c = rng.normal(size=37)
    assert sliced_wasserstein(a, c) == pytest.approx(wasserstein_distance(a, c), rel=1e-10)
    # W_2 between equal-size sets: root mean square of sorted differences
    w2 = np.sqrt(np.mean((np.sort(a) - np.sort(c)) ** 2))
    assert sliced_wasserstein(a, c, p=2) == pytest.approx(w2, rel=1e-10)


def test_sliced_wasserstein_of_a_shift_matches_the_analytic_value() -> None:
    # y = x + s e1: every projection shifts by s cos(theta), so W_1 = s |cos theta| exactly
    # and SW_1 = s E|cos theta| = 2 s / pi for theta uniform on the circle.
    rng = np.random.default_rng(4)
    x = rng.normal(size=(300, 2))
    shift = 1.5
    y = x + np.array([shift, 0.0])
    got = sliced_wasserstein(x, y, n_projections=4000, seed=0)
    assert got == pytest.approx(shift * 2 / np.pi, rel=0.03)
    # independent samples instead of the same points shifted: close, noisier
    y2 = rng.normal(size=(300, 2)) + np.array([shift, 0.0])
    assert sliced_wasserstein(x, y2, n_projections=1000) == pytest.approx(shift * 2 / np.pi,
                                                                        abs=0.12)


def test_sliced_wasserstein_is_seeded_symmetric_and_zero_on_itself() -> None:
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(50, 3)), rng.normal(size=(50, 3)) + 1
    assert sliced_wasserstein(x, y, seed=1) == sliced_wasserstein(x, y, seed=1)
    assert sliced_wasserstein(x, y, seed=1) != sliced_wasserstein(x, y, seed=2)
    assert sliced_wasserstein(x, y) == pytest.approx(sliced_wasserstein(y, x), rel=1e-12)
    assert sliced_wasserstein(x, x) == 0.0
    # order of the points does not matter
    assert sliced_wasserstein(x[::-1], y) == pytest.approx(sliced_wasserstein(x, y), rel=1e-12)


def test_mode_coverage_on_constructed_samples() -> None:
    means = ring_means(8, 2.0)
    # 3 samples exactly on mode 0, 2 near mode 3, 1 near mode 5, 4 far away (the origin)
    near = np.array([[0.05, 0.0], [0.0, -0.05]])
    samples = np.concatenate([np.repeat(means[[0]], 3, 0), means[3] + near, means[[5]] + 0.01,
                              np.zeros((4, 2))])
    hit, quality = mode_coverage(samples, means, radius=0.15)
    assert (hit, quality) == (3, 0.6)
    assert isinstance(hit, int) and isinstance(quality, float)
    assert mode_coverage(samples, means, radius=0.15, min_count=2) == (2, 0.6)
    assert mode_coverage(samples, means, radius=0.15, min_count=4) == (0, 0.6)
    assert mode_coverage(torch.tensor(samples), torch.tensor(means), radius=0.02) == (2, 0.4)
    # a radius that reaches the origin from every mode: all 8 modes hit by the far points
    assert mode_coverage(samples, means, radius=2.0) == (8, 1.0)


def test_mode_coverage_of_real_ring_data_is_full() -> None:
    x = ring_of_gaussians(n=2000, k=8, std=0.05, seed=0)
    hit, quality = mode_coverage(x, ring_means(8), radius=3 * 0.05)
    assert hit == 8 and quality > 0.98  # P(|N(0, I_2)| < 3) = 1 - exp(-4.5) = 0.989
