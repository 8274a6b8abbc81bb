"""FID against analytic Gaussian cases and SciPy, the Inception-style score's bounds, KID
against scikit-learn's kernel, precision/recall against a brute-force count."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import torch
from sklearn.metrics.pairwise import polynomial_kernel

from genai_course.evaluation import image_metrics as im


def random_spd(d, rng, scale=1.0):
    a = rng.normal(size=(d, d))
    return scale * (a @ a.T / d + 0.1 * np.eye(d))


@pytest.mark.parametrize("d", [1, 2, 10, 64])
def test_fid_of_shifted_standard_normals_is_d(d):
    eye = np.eye(d)
    assert im.frechet_distance(np.zeros(d), eye, np.ones(d), eye) == pytest.approx(d, abs=1e-9)


def test_fid_analytic_cases():
    rng = np.random.default_rng(0)
    # isotropic: d (a - b)^2 for N(0, a^2 I) vs N(0, b^2 I)
    d, a, b = 7, 0.5, 2.0
    assert im.frechet_distance(np.zeros(d), a**2 * np.eye(d), np.zeros(d), b**2 * np.eye(d)) \
        == pytest.approx(d * (a - b) ** 2)
    # diagonal covariances: sum (sqrt(s1) - sqrt(s2))^2 plus the mean term
    s1, s2 = rng.uniform(0.1, 3, 5), rng.uniform(0.1, 3, 5)
    m1, m2 = rng.normal(size=5), rng.normal(size=5)
    want = np.sum((m1 - m2) ** 2) + np.sum((np.sqrt(s1) - np.sqrt(s2)) ** 2)
    assert im.frechet_distance(m1, np.diag(s1), m2, np.diag(s2)) == pytest.approx(want)
    # identical Gaussians: 0 (up to round-off), a singular covariance included
    s = random_spd(6, rng)
    s[:, 0] = s[0, :] = 0.0
    mu = m1[:1].repeat(6)
    assert im.frechet_distance(mu, s, mu, s) == pytest.approx(0, abs=1e-9)


def test_fid_matches_scipy_sqrtm_on_non_commuting_covariances():
    rng = np.random.default_rng(1)
    for d in (2, 5, 30):
        s1, s2 = random_spd(d, rng), random_spd(d, rng, 3.0)
        m1, m2 = rng.normal(size=d), rng.normal(size=d)
        covmean = scipy.linalg.sqrtm(s1 @ s2).real  # the formula of the reference FID code
        want = np.sum((m1 - m2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)
        got = im.frechet_distance(m1, s1, m2, s2)
        assert got == pytest.approx(want, rel=1e-8)
        assert got == pytest.approx(im.frechet_distance(m2, s2, m1, s1), rel=1e-10)


def test_sqrtm_psd_squares_back():
    rng = np.random.default_rng(2)
    a = torch.from_numpy(random_spd(8, rng))
    root = im.sqrtm_psd(a)
    torch.testing.assert_close(root @ root, a, rtol=0, atol=1e-10)
    torch.testing.assert_close(root, root.T)


def test_fid_from_samples_approaches_the_analytic_value():
    g = torch.Generator().manual_seed(0)
    d, n = 4, 200_000
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    y = torch.randn(n, d, generator=g, dtype=torch.float64) + 1.0
    assert im.fid(x, y) == pytest.approx(d, rel=0.01)
    mu, cov = im.gaussian_stats(x[:50])
    torch.testing.assert_close(cov, torch.from_numpy(np.cov(x[:50].numpy(), rowvar=False)))


def test_fid_rejects_bad_shapes():
    with pytest.raises(ValueError, match="dimensions differ"):
        im.frechet_distance(np.zeros(2), np.eye(2), np.zeros(3), np.eye(3))
    with pytest.raises(ValueError, match="square"):
        im.frechet_distance(np.zeros(2), np.ones((2, 3)), np.zeros(2), np.eye(2))


def test_inception_score_bounds():
    c = 10
    uniform = torch.full((50, c), 1 / c, dtype=torch.float64)
    assert im.inception_score(uniform) == pytest.approx(1.0)
    same = torch.zeros(40, c, dtype=torch.float64)
    same[:, 3] = 1.0  # confident but always the same class
    assert im.inception_score(same) == pytest.approx(1.0)
    balanced = torch.eye(c, dtype=torch.float64).repeat(5, 1)  # confident and balanced
    assert im.inception_score(balanced) == pytest.approx(c)
    rng = np.random.default_rng(3)
    p = rng.dirichlet(np.full(c, 0.3), size=200)
    marginal = p.mean(0)
    want = math.exp(np.mean(np.sum(p * (np.log(p) - np.log(marginal)), 1)))
    got = im.inception_score(torch.from_numpy(p))
    assert got == pytest.approx(want) and 1 < got < c
    with pytest.raises(ValueError, match="probabilities"):
        im.inception_score(torch.ones(3, 2))


def test_kid_equals_the_unbiased_mmd_with_sklearns_kernel():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(60, 5)), rng.normal(size=(60, 5)) + 0.5
    kxx = polynomial_kernel(x, x, degree=3, gamma=1 / 5, coef0=1)
    kyy = polynomial_kernel(y, y, degree=3, gamma=1 / 5, coef0=1)
    kxy = polynomial_kernel(x, y, degree=3, gamma=1 / 5, coef0=1)
    m = 60
    want = ((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy))
            / (m * (m - 1)) - 2 * kxy.mean())
    mean, std = im.kid(x, y, n_subsets=3, subset_size=60)  # every subset is the full set
    assert mean == pytest.approx(want, rel=1e-10) and std == pytest.approx(0, abs=1e-12)


def test_kid_is_unbiased_where_fid_is_not():
    """Over many pairs of small samples of one distribution, KID averages to 0 (it is
    unbiased) while FID averages far above its true value 0."""
    g = torch.Generator().manual_seed(5)
    kids, fids = [], []
    for _ in range(100):
        a = torch.randn(40, 16, generator=g, dtype=torch.float64)
        b = torch.randn(40, 16, generator=g, dtype=torch.float64)
        kids.append(im.kid(a, b, n_subsets=1, subset_size=40)[0])
        fids.append(im.fid(a, b))
    assert abs(np.mean(kids)) < 3 * np.std(kids) / np.sqrt(len(kids))
    assert np.mean(fids) > 3.0 and min(fids) > 0


def brute_force_pr(real, fake, k):
    def radii(s):
        return [sorted(np.linalg.norm(s - p, axis=1))[k] for p in s]

    rr, fr = radii(real), radii(fake)
    precision = np.mean([any(np.linalg.norm(f - r) <= rad for r, rad in zip(real, rr, strict=True))
                         for f in fake])
    recall = np.mean([any(np.linalg.norm(r - f) <= rad for f, rad in zip(fake, fr, strict=True))
                      for r in real])
    return precision, recall


def test_precision_recall_against_brute_force():
    rng = np.random.default_rng(6)
    for k in (1, 3, 5):
        real = rng.normal(size=(40, 3))
        fake = rng.normal(size=(35, 3)) * 1.5 + 0.3
        got = im.precision_recall(real, fake, k)
        p, r = brute_force_pr(real, fake, k)
        assert got == pytest.approx({"precision": p, "recall": r})


def test_precision_recall_separate_quality_from_coverage():
    rng = np.random.default_rng(7)
    real = np.concatenate([rng.normal(size=(200, 2)), rng.normal(size=(200, 2)) + 10])
    collapsed = rng.normal(size=(200, 2))  # one of the two modes only
    out = im.precision_recall(real, collapsed, k=3)
    assert out["precision"] > 0.9 and 0.4 < out["recall"] < 0.6
    same = im.precision_recall(real, real, k=3)
    assert same == {"precision": 1.0, "recall": 1.0}


def test_digit_features_are_the_penultimate_layer():
    from genai_course.evaluation.digit_classifier import DigitClassifier

    model = DigitClassifier(seed=0).eval()
    x = torch.rand(5, 1, 8, 8) * 2 - 1
    feats = im.digit_features(model, x)
    assert feats.shape == (5, 128) and feats.dtype == torch.float64
    with torch.no_grad():
        logits = model.head[-1](feats.float())
        torch.testing.assert_close(logits, model(x), rtol=1e-5, atol=1e-5)
        probs = im.digit_probs(model, x)
    torch.testing.assert_close(probs, torch.softmax(model(x).double(), 1))


def test_nearest_distances_find_copies():
    train = torch.randn(20, 4, generator=torch.Generator().manual_seed(8))
    copies = train[[3, 7]]
    assert im.nearest_distances(copies, train).tolist() == [0.0, 0.0]
    assert (im.nearest_distances(train + 10, train) > 5).all()
