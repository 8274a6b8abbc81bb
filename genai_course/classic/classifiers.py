"""Generative vs discriminative classifiers on small tabular data (NumPy, float64 inside).

* :class:`GaussianClassConditional` models the joint p(x, y) = p(y) p(x | y) and so can
  both classify (Bayes' rule) and generate (ancestral sampling).
* :class:`LogisticRegression` models only p(y | x): it classifies but cannot generate.

Reference: K. P. Murphy, *Machine Learning: A Probabilistic Perspective* (2012),
section 4.2 (Gaussian discriminant analysis) and chapter 8 (logistic regression).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.linalg import solve_triangular
from scipy.optimize import minimize
from scipy.special import logsumexp


def _check_X(X: ArrayLike, d: int | None = None) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"X must have shape (n, d) with n >= 1, got {X.shape}")
    if d is not None and X.shape[1] != d:
        raise ValueError(f"X has {X.shape[1]} features, the model was fitted on {d}")
    if not np.all(np.isfinite(X)):
        raise ValueError("X must be finite")
    return X


def _check_Xy(X: ArrayLike, y: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X = _check_X(X)
    y = np.asarray(y)
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must have shape ({X.shape[0]},), got {y.shape}")
    classes, y_index = np.unique(y, return_inverse=True)
    if classes.size < 2:
        raise ValueError("need at least two classes")
    return X, classes, y_index


class GaussianClassConditional:
    """Gaussian discriminant analysis (a.k.a. QDA), a generative classifier.

    ``p(y = c) = pi_c`` and ``p(x | y = c) = N(x; mu_c, Sigma_c)`` with full covariances.
    :meth:`fit` uses the maximum-likelihood estimates (class frequencies, class means,
    covariances normalised by n_c) plus ``reg * I`` on each covariance so that it stays
    positive definite (e.g. for a class with fewer than d + 1 points).

    Fitted attributes: ``classes_`` (C,), ``priors_`` (C,), ``means_`` (C, d),
    ``covariances_`` (C, d, d), all float64 except ``classes_``.
    """

    def __init__(self, reg: float = 1e-6) -> None:
        if not reg >= 0:
            raise ValueError(f"reg must be >= 0, got {reg}")
        self.reg = float(reg)

    def fit(self, X: ArrayLike, y: ArrayLike) -> GaussianClassConditional:
        """Estimate pi_c, mu_c, Sigma_c by maximum likelihood; returns ``self``."""
        X, self.classes_, idx = _check_Xy(X, y)
        d = X.shape[1]
        counts = np.bincount(idx, minlength=self.classes_.size)
        self.priors_ = counts / counts.sum()
        self.means_ = np.stack([X[idx == c].mean(axis=0) for c in range(self.classes_.size)])
        covs = []
        for c in range(self.classes_.size):
            centred = X[idx == c] - self.means_[c]
            covs.append(centred.T @ centred / counts[c] + self.reg * np.eye(d))
        self.covariances_ = np.stack(covs)
        return self

    def _fitted(self) -> None:
        if not hasattr(self, "means_"):
            raise RuntimeError("call fit(X, y) before using the model")

    def log_joint(self, X: ArrayLike) -> np.ndarray:
        """``log pi_c + log N(x; mu_c, Sigma_c)`` for every class, shape (n, C) float64.

        With Sigma_c = L L^T (Cholesky): ``log N = -(d log 2 pi + 2 sum log diag L +
        |L^{-1}(x - mu_c)|^2) / 2``.
        """
        self._fitted()
        X = _check_X(X, self.means_.shape[1])
        d = X.shape[1]
        out = np.empty((X.shape[0], self.classes_.size))
        for c, (mu, cov) in enumerate(zip(self.means_, self.covariances_, strict=True)):
            chol = np.linalg.cholesky(cov)
            z = solve_triangular(chol, (X - mu).T, lower=True)
            log_det = 2.0 * np.log(np.diag(chol)).sum()
            out[:, c] = np.log(self.priors_[c]) - 0.5 * (
                d * np.log(2 * np.pi) + log_det + (z**2).sum(axis=0))
        return out

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Bayes' rule: ``p(c | x) = pi_c N(x; mu_c, Sigma_c) / p(x)``, shape (n, C)."""
        joint = self.log_joint(X)
        return np.exp(joint - logsumexp(joint, axis=1, keepdims=True))

    def predict(self, X: ArrayLike) -> np.ndarray:
        """The most probable class for each row (values from ``classes_``)."""
        best = np.argmax(self.log_joint(X), axis=1)
        return self.classes_[best]

    def log_prob(self, X: ArrayLike) -> np.ndarray:
        """Marginal log density ``log p(x) = logsumexp_c log p(x, c)``, shape (n,) float64."""
        return logsumexp(self.log_joint(X), axis=1)

    def sample(self, n: int, *, generator: np.random.Generator | None = None,
               label: object = None) -> tuple[np.ndarray, np.ndarray]:
        """Ancestral sampling: ``c ~ Categorical(pi)`` (or ``c = label``), then
        ``x = mu_c + L_c z`` with ``z ~ N(0, I)`` and ``Sigma_c = L_c L_c^T``, drawing from
        ``generator`` (a fresh unseeded one when None).

        Returns ``X`` (n, d) float32 and ``y`` (n,) with the dtype of the training labels.
        """
        self._fitted()
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
            raise ValueError(f"n must be an int >= 0, got {n!r}")
        rng = generator if generator is not None else np.random.default_rng()
        if label is None:
            comp = rng.choice(self.classes_.size, size=n, p=self.priors_)
        else:
            matches = np.flatnonzero(self.classes_ == label)
            if matches.size != 1:
                raise ValueError(f"label {label!r} is not one of {self.classes_.tolist()}")
            comp = np.full(n, matches[0])
        chol = np.linalg.cholesky(self.covariances_)
        z = rng.standard_normal((n, self.means_.shape[1]))
        x = self.means_[comp] + np.einsum("nij,nj->ni", chol[comp], z)
        return x.astype(np.float32), self.classes_[comp]


def _features(X: np.ndarray, kind: str) -> np.ndarray:
    if kind == "linear":
        return X
    i, j = np.triu_indices(X.shape[1])
    return np.concatenate([X, X[:, i] * X[:, j]], axis=1)


class LogisticRegression:
    """Multinomial logistic regression, a discriminative classifier.

    ``p(y = c | x) = softmax(W phi(x) + b)_c`` with ``phi(x) = x`` (``"linear"``) or
    ``x`` plus all products ``x_i x_j, i <= j`` (``"quadratic"``). Features are
    standardised with the training mean and std; :meth:`fit` minimises the mean
    cross-entropy plus ``l2 / 2 * |W|^2`` (bias not penalised; the small default keeps
    the weights finite on separable data) with L-BFGS from zero, so it is deterministic.

    There is deliberately no ``sample`` method: the model describes only p(y | x), not
    p(x), so it has nothing from which to draw new inputs.
    """

    def __init__(self, features: str = "linear", l2: float = 1e-4, max_iter: int = 1000,
                 tol: float = 1e-10) -> None:
        if features not in ("linear", "quadratic"):
            raise ValueError(f"features must be 'linear' or 'quadratic', got {features!r}")
        if not l2 >= 0:
            raise ValueError(f"l2 must be >= 0, got {l2}")
        self.features, self.l2, self.max_iter, self.tol = features, float(l2), max_iter, tol

    def _design(self, X: np.ndarray) -> np.ndarray:
        return (_features(X, self.features) - self.shift_) / self.scale_

    def fit(self, X: ArrayLike, y: ArrayLike) -> LogisticRegression:
        """Fit by L-BFGS on the penalised mean cross-entropy; returns ``self``."""
        X, self.classes_, idx = _check_Xy(X, y)
        self.n_features_in_ = X.shape[1]
        phi = _features(X, self.features)
        self.shift_ = phi.mean(axis=0)
        self.scale_ = np.where(phi.std(axis=0) > 0, phi.std(axis=0), 1.0)
        phi = (phi - self.shift_) / self.scale_
        n, p = phi.shape
        k = self.classes_.size
        onehot = np.eye(k)[idx]

        def loss_grad(theta: np.ndarray) -> tuple[float, np.ndarray]:
            W, b = theta[: p * k].reshape(p, k), theta[p * k:]
            logits = phi @ W + b
            log_z = logsumexp(logits, axis=1, keepdims=True)
            loss = float(np.mean(log_z[:, 0] - (logits * onehot).sum(1))) \
                + 0.5 * self.l2 * float((W**2).sum())
            err = (np.exp(logits - log_z) - onehot) / n
            grad_W = phi.T @ err + self.l2 * W
            return loss, np.concatenate([grad_W.ravel(), err.sum(axis=0)])

        result = minimize(loss_grad, np.zeros(p * k + k), jac=True, method="L-BFGS-B",
                          options={"maxiter": self.max_iter, "gtol": self.tol,
                                   "ftol": self.tol})
        self.coef_ = result.x[: p * k].reshape(p, k)
        self.intercept_ = result.x[p * k:]
        self.n_iter_ = int(result.nit)
        return self

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """``p(c | x)``, shape (n, C) float64; rows sum to 1."""
        if not hasattr(self, "coef_"):
            raise RuntimeError("call fit(X, y) before using the model")
        logits = self._design(_check_X(X, self.n_features_in_)) @ self.coef_ + self.intercept_
        return np.exp(logits - logsumexp(logits, axis=1, keepdims=True))

    def predict(self, X: ArrayLike) -> np.ndarray:
        """The most probable class for each row (values from ``classes_``)."""
        best = np.argmax(self.predict_proba(X), axis=1)
        return self.classes_[best]
