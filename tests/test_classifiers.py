"""Generative (GDA) and discriminative (logistic regression) classifiers vs references."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
from sklearn.discriminant_analysis import QuadraticDiscriminantAnalysis
from sklearn.linear_model import LogisticRegression as SkLogisticRegression

from genai_course.classic.classifiers import GaussianClassConditional, LogisticRegression
from genai_course.data.toy2d import (
    BLOB_MEANS,
    BLOB_STDS,
    gaussian_mixture_log_density,
    two_class_blobs,
)


def _random_data(seed: int = 0, n: int = 300, d: int = 3, k: int = 3):
    """k anisotropic Gaussian classes with unequal sizes, labels 10, 20, 30 ..."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(n // (2 * k), 2 * n // k, size=k)
    X = np.concatenate([rng.normal(size=(m, d)) @ rng.normal(size=(d, d)) + 2 * rng.normal(size=d)
                        for m in sizes])
    y = np.repeat(10 * np.arange(1, k + 1), sizes)
    return X, y


def test_gda_parameters_are_the_mle() -> None:
    X, y = _random_data()
    model = GaussianClassConditional(reg=0.0).fit(X, y)
    np.testing.assert_array_equal(model.classes_, [10, 20, 30])
    for c, label in enumerate(model.classes_):
        Xc = X[y == label]
        assert model.priors_[c] == pytest.approx(len(Xc) / len(X))
        np.testing.assert_allclose(model.means_[c], Xc.mean(axis=0), rtol=1e-12)
        np.testing.assert_allclose(model.covariances_[c], np.cov(Xc.T, bias=True), rtol=1e-10)
    ridge = GaussianClassConditional().fit(X, y)
    np.testing.assert_allclose(ridge.covariances_ - model.covariances_,
                               np.broadcast_to(1e-6 * np.eye(3), (3, 3, 3)), atol=1e-14)


def test_gda_posterior_matches_sklearn_qda() -> None:
    X, y = _random_data(seed=1)
    qda = QuadraticDiscriminantAnalysis(reg_param=0.0, store_covariance=True).fit(X, y)
    # sklearn normalises covariances by n_c - 1 (ours: n_c, the MLE), so give our model
    # sklearn's parameters and check that Bayes' rule gives the same posterior.
    model = GaussianClassConditional(reg=0.0).fit(X, y)
    model.priors_ = qda.priors_
    model.means_ = qda.means_
    model.covariances_ = np.stack(qda.covariance_)
    test = _random_data(seed=2)[0]
    np.testing.assert_allclose(model.predict_proba(test), qda.predict_proba(test), atol=1e-6)
    np.testing.assert_array_equal(model.predict(test), qda.predict(test))
    # Fitted independently the two differ only by the n_c / (n_c - 1) factor.
    fitted = GaussianClassConditional(reg=0.0).fit(X, y)
    assert np.mean(fitted.predict(test) == qda.predict(test)) > 0.98


def test_gda_log_prob_matches_scipy_mixture() -> None:
    X, y = _random_data(seed=3)
    model = GaussianClassConditional().fit(X, y)
    test = _random_data(seed=4)[0]
    log_joint = np.stack([np.log(p) + multivariate_normal(m, c).logpdf(test)
                          for p, m, c in zip(model.priors_, model.means_, model.covariances_,
                                             strict=True)], axis=1)
    np.testing.assert_allclose(model.log_joint(test), log_joint, rtol=1e-10)
    np.testing.assert_allclose(model.log_prob(test), logsumexp(log_joint, axis=1), rtol=1e-10)
    proba = model.predict_proba(test)
    assert proba.shape == (len(test), 3) and proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)


def test_gda_sampling_recovers_parameters() -> None:
    X, y = _random_data(seed=5, d=2)
    model = GaussianClassConditional().fit(X, y)
    Xs, ys = model.sample(60_000, generator=np.random.default_rng(0))
    assert Xs.dtype == np.float32 and Xs.shape == (60_000, 2)
    assert ys.dtype == y.dtype and set(ys.tolist()) <= {10, 20, 30}
    freq = np.array([np.mean(ys == c) for c in model.classes_])
    np.testing.assert_allclose(freq, model.priors_, atol=0.01)
    for c, label in enumerate(model.classes_):
        Xc = Xs[ys == label].astype(np.float64)
        scale = np.sqrt(np.diag(model.covariances_[c]))
        np.testing.assert_allclose(Xc.mean(axis=0), model.means_[c], atol=0.05 * scale.max())
        np.testing.assert_allclose(np.cov(Xc.T), model.covariances_[c],
                                   atol=0.05 * scale.max() ** 2)
    Xl, yl = model.sample(50_000, generator=np.random.default_rng(1), label=20)
    assert np.all(yl == 20)
    np.testing.assert_allclose(Xl.mean(axis=0), model.means_[1], atol=0.05 * scale.max())
    np.testing.assert_array_equal(model.sample(10, generator=np.random.default_rng(7))[0],
                                  model.sample(10, generator=np.random.default_rng(7))[0])
    assert model.sample(0, generator=np.random.default_rng(0))[0].shape == (0, 2)


def test_gda_errors() -> None:
    model = GaussianClassConditional()
    for method in ("predict", "predict_proba", "log_prob", "log_joint"):
        with pytest.raises(RuntimeError):
            getattr(model, method)(np.zeros((2, 2)))
    with pytest.raises(RuntimeError):
        model.sample(3)
    with pytest.raises(ValueError, match="two classes"):
        model.fit(np.zeros((4, 2)), np.zeros(4))
    with pytest.raises(ValueError):
        model.fit(np.zeros((4, 2)), np.zeros(3))
    with pytest.raises(ValueError):
        GaussianClassConditional(reg=-1.0)
    X, y = two_class_blobs()
    model.fit(X, y)
    with pytest.raises(ValueError, match="features"):
        model.predict(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="label"):
        model.sample(5, label=7)
    with pytest.raises(ValueError):
        model.sample(-1)


def test_single_gaussian_is_visibly_imperfect_on_two_class_blobs() -> None:
    X, y = two_class_blobs(400, seed=0)
    model = GaussianClassConditional().fit(X, y)
    test, _ = two_class_blobs(4000, seed=1)
    true = gaussian_mixture_log_density(test, BLOB_MEANS, BLOB_STDS, [0.5, 0.25, 0.25])
    # The true density beats the single-Gaussian-per-class fit by > 0.15 nats per point.
    assert true.mean() - model.log_prob(test).mean() > 0.15
    # ... and the model puts class-1 samples in the empty gap between the two blobs.
    Xs, _ = model.sample(4000, generator=np.random.default_rng(0), label=1)
    assert np.mean(np.abs(Xs[:, 1]) < 0.5) > 0.15


def _sklearn_logreg(X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return SkLogisticRegression(C=1e6, max_iter=10_000).fit(X, y)


def test_logistic_regression_matches_sklearn_on_blobs() -> None:
    X, y = two_class_blobs(400, seed=0)
    test, y_test = two_class_blobs(4000, seed=1)
    ours = LogisticRegression().fit(X, y)
    ref = _sklearn_logreg(X, y)
    for A, b in ((X, y), (test, y_test)):
        assert abs(np.mean(ours.predict(A) == b) - np.mean(ref.predict(A) == b)) <= 0.02
    proba = ours.predict_proba(test)
    assert proba.shape == (4000, 2) and proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(proba, ref.predict_proba(test), atol=0.02)
    assert np.mean(ours.predict(test) == y_test) > 0.9


def test_logistic_regression_multiclass_and_quadratic() -> None:
    X, y = _random_data(seed=6, d=2)
    ours = LogisticRegression(l2=0.0).fit(X, y)
    ref = _sklearn_logreg(X, y)
    assert abs(np.mean(ours.predict(X) == y) - np.mean(ref.predict(X) == y)) <= 0.02
    np.testing.assert_array_equal(np.unique(ours.predict(X)), [10, 20, 30])
    quad = LogisticRegression(features="quadratic").fit(X, y)
    assert quad.coef_.shape == (5, 3)  # x1, x2, x1^2, x1 x2, x2^2
    assert np.mean(quad.predict(X) == y) >= np.mean(ours.predict(X) == y) - 0.01
    again = LogisticRegression(l2=0.0).fit(X, y)
    np.testing.assert_array_equal(again.coef_, ours.coef_)


def test_logistic_regression_cannot_sample_and_validates() -> None:
    assert not hasattr(LogisticRegression, "sample")
    with pytest.raises(ValueError):
        LogisticRegression(features="cubic")
    with pytest.raises(ValueError):
        LogisticRegression(l2=-1.0)
    for method in ("predict_proba", "predict"):
        with pytest.raises(RuntimeError):
            getattr(LogisticRegression(), method)(np.zeros((1, 2)))
    with pytest.raises(ValueError, match="finite"):
        LogisticRegression().fit(np.array([[0.0, np.nan], [1.0, 1.0]]), [0, 1])
