"""Image-generation metrics on a judge network's features, built from their definitions.

* :func:`frechet_distance` -- the Fréchet (2-Wasserstein) distance between two Gaussians,
  ``|mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2))`` (Dowson & Landau 1982), the formula of
  FID (Heusel et al., "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash
  Equilibrium", NeurIPS 2017). The trace of the matrix square root comes from the
  eigenvalues of the symmetric matrix ``S1^(1/2) S2 S1^(1/2)`` (:func:`sqrtm_psd` by
  ``eigh``), which has the same eigenvalues as ``S1 S2``: no general ``sqrtm``, no complex
  round-off to discard.
* :func:`fid` -- the Fréchet distance between the Gaussians fitted to two feature sets;
  :func:`digit_features` gives the features (the shipped digit classifier's penultimate layer,
  this course's stand-in for Inception-v3's pool3 layer).
* :func:`kid` -- the kernel inception distance (Bińkowski et al., "Demystifying MMD GANs",
  ICLR 2018): unbiased MMD^2 with the cubic polynomial kernel, averaged over subsets.
* :func:`inception_score` -- ``exp(E_x KL(p(y|x) || p(y)))`` (Salimans et al., "Improved
  Techniques for Training GANs", 2016), between 1 and the number of classes.
* :func:`precision_recall` -- k-NN manifold precision and recall (Kynkäänniemi et al.,
  "Improved Precision and Recall Metric for Assessing Generative Models", NeurIPS 2019).
* :func:`nearest_distances` -- distance of each sample to its nearest training example
  (what exposes a memoriser that every other metric here rewards).

Features are float64 inside; inputs are tensors or arrays of shape (n, d).

Used in: chapter 8.
"""

from __future__ import annotations

import math

import torch
from numpy.typing import ArrayLike
from torch import nn

from genai_course.evaluation.distances import _points

Matrix = torch.Tensor | ArrayLike


def _square(a: Matrix, name: str) -> torch.Tensor:
    t = torch.as_tensor(a, dtype=torch.float64)
    if t.ndim != 2 or t.shape[0] != t.shape[1]:
        raise ValueError(f"{name} must be a square matrix, got shape {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} contains NaN or inf")
    return t


def sqrtm_psd(a: Matrix) -> torch.Tensor:
    """The symmetric square root of a symmetric positive semi-definite matrix, by its
    eigendecomposition ``a = V diag(w) V^T`` -> ``V diag(sqrt(w)) V^T``; round-off
    eigenvalues below zero are set to zero. Float64."""
    a = _square(a, "a")
    a = (a + a.T) / 2
    w, v = torch.linalg.eigh(a)
    return (v * w.clamp(min=0).sqrt()) @ v.T


def trace_sqrt_product(sigma1: Matrix, sigma2: Matrix) -> float:
    """``tr((S1 S2)^(1/2))`` for covariance matrices: the sum of the square roots of the
    eigenvalues of the symmetric PSD matrix ``S1^(1/2) S2 S1^(1/2)`` (similar to ``S1 S2``)."""
    root = sqrtm_psd(sigma1)
    middle = root @ _square(sigma2, "sigma2") @ root
    w = torch.linalg.eigvalsh((middle + middle.T) / 2)
    return float(w.clamp(min=0).sqrt().sum())


def frechet_distance(mu1: Matrix, sigma1: Matrix, mu2: Matrix, sigma2: Matrix) -> float:
    """``|mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2))``: the squared 2-Wasserstein
    distance between N(mu1, S1) and N(mu2, S2) (Dowson & Landau 1982; FID, Heusel 2017).
    Zero for identical Gaussians; ``d`` for N(0, I) against N(1, I) in d dimensions."""
    m1 = torch.as_tensor(mu1, dtype=torch.float64).flatten()
    m2 = torch.as_tensor(mu2, dtype=torch.float64).flatten()
    s1, s2 = _square(sigma1, "sigma1"), _square(sigma2, "sigma2")
    if not len(m1) == len(m2) == s1.shape[0] == s2.shape[0]:
        raise ValueError(f"dimensions differ: mu1 {len(m1)}, sigma1 {s1.shape[0]}, "
                         f"mu2 {len(m2)}, sigma2 {s2.shape[0]}")
    value = (m1 - m2).square().sum() + s1.trace() + s2.trace()
    return max(float(value) - 2 * trace_sqrt_product(s1, s2), 0.0)


def gaussian_stats(features: Matrix) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (d,) and unbiased covariance (d, d) (divisor n - 1, as ``numpy.cov``) of
    ``features`` (n, d), float64."""
    x = _points(features, "features", 2)
    return x.mean(0), torch.cov(x.T).reshape(x.shape[1], x.shape[1])


def fid(features_a: Matrix, features_b: Matrix) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (n, d) and (m, d).
    Biased upwards at small n and m: compare FIDs only at equal sample sizes."""
    return frechet_distance(*gaussian_stats(features_a), *gaussian_stats(features_b))


def kid(features_a: Matrix, features_b: Matrix, n_subsets: int = 50, subset_size: int = 200,
        seed: int = 0) -> tuple[float, float]:
    """Kernel inception distance (Bińkowski et al. 2018): the unbiased MMD^2 with the kernel
    ``k(x, y) = (x.y / d + 1)^3``, averaged over ``n_subsets`` random subsets of
    ``min(subset_size, n, m)`` points from each set. Returns ``(mean, std over subsets)``.
    Unbiased: near 0 for two samples of one distribution at any sample size."""
    a, b = _points(features_a, "features_a", 2), _points(features_b, "features_b", 2)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature dimensions differ: {a.shape[1]} and {b.shape[1]}")
    if isinstance(n_subsets, bool) or not isinstance(n_subsets, int) or n_subsets < 1:
        raise ValueError(f"n_subsets must be an int >= 1, got {n_subsets!r}")
    size = min(subset_size, len(a), len(b))
    d = a.shape[1]
    generator = torch.Generator().manual_seed(seed)
    values = []
    for _ in range(n_subsets):
        x = a[torch.randperm(len(a), generator=generator)[:size]]
        y = b[torch.randperm(len(b), generator=generator)[:size]]
        kxx, kyy = (x @ x.T / d + 1) ** 3, (y @ y.T / d + 1) ** 3
        kxy = (x @ y.T / d + 1) ** 3
        off = size * (size - 1)
        values.append(float((kxx.sum() - kxx.trace()) / off + (kyy.sum() - kyy.trace()) / off
                            - 2 * kxy.mean()))
    mean = math.fsum(values) / len(values)
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / max(1, len(values) - 1))
    return mean, std


def inception_score(probs: Matrix, splits: int = 1) -> float:
    """``exp(E_x KL(p(y|x) || p(y)))`` from class probabilities (n, C) (Salimans 2016),
    averaged over ``splits`` equal parts as in the original code. Between 1 (every image
    gets the same prediction) and C (confident predictions, all classes equally often)."""
    p = _points(probs, "probs")
    if (p < 0).any() or not torch.allclose(p.sum(1), torch.ones(len(p), dtype=p.dtype),
                                           atol=1e-6):
        raise ValueError("probs must be probabilities: rows >= 0 that sum to 1")
    if isinstance(splits, bool) or not isinstance(splits, int) or not 1 <= splits <= len(p):
        raise ValueError(f"splits must be an int in [1, {len(p)}], got {splits!r}")
    scores = []
    for part in torch.tensor_split(p, splits):
        marginal = part.mean(0, keepdim=True)
        kl = torch.where(part > 0, part * (part.log() - marginal.log()), 0.0).sum(1)
        scores.append(math.exp(float(kl.mean())))
    return math.fsum(scores) / len(scores)


def _kth_radius(x: torch.Tensor, k: int) -> torch.Tensor:
    """Distance of each row of ``x`` to its k-th nearest other row."""
    dist = torch.cdist(x, x)
    return dist.kthvalue(k + 1, dim=1).values  # +1: the point itself is at distance 0


def precision_recall(real: Matrix, fake: Matrix, k: int = 3) -> dict[str, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019).

    Each set's manifold is the union of balls around its points whose radius is the
    distance to the k-th nearest neighbour in the same set. ``precision`` is the share of
    ``fake`` points inside the real manifold (quality), ``recall`` the share of ``real``
    points inside the fake manifold (coverage of the real distribution)."""
    r, f = _points(real, "real", 2), _points(fake, "fake", 2)
    if r.shape[1] != f.shape[1]:
        raise ValueError(f"feature dimensions differ: {r.shape[1]} and {f.shape[1]}")
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k < min(len(r), len(f)):
        raise ValueError(f"k must be an int in [1, {min(len(r), len(f)) - 1}], got {k!r}")
    cross = torch.cdist(f, r)  # (n_fake, n_real)
    precision = (cross <= _kth_radius(r, k)[None, :]).any(1).double().mean()
    recall = (cross <= _kth_radius(f, k)[:, None]).any(0).double().mean()
    return {"precision": float(precision), "recall": float(recall)}


def nearest_distances(samples: Matrix, training: Matrix) -> torch.Tensor:
    """Euclidean distance (n,) of each sample to its nearest training example: 0 for a
    copy. Compare with the same for held-out real data to see memorisation."""
    s, t = _points(samples, "samples"), _points(training, "training")
    if s.shape[1] != t.shape[1]:
        raise ValueError(f"dimensions differ: {s.shape[1]} and {t.shape[1]}")
    return torch.cdist(s, t).min(1).values


@torch.no_grad()
def digit_features(classifier: nn.Module, images: torch.Tensor, batch_size: int = 1024
                   ) -> torch.Tensor:
    """The digit classifier's penultimate-layer activations (N, hidden) of images
    (N, 1, 8, 8) in [-1, 1]: the features FID, KID and precision/recall compare here, as
    Inception-v3's 2048-d pool features are for photographs."""
    classifier.eval()
    device = next(classifier.parameters()).device
    penultimate = classifier.head[:-1]  # Linear -> ReLU -> Dropout (identity in eval mode)
    return torch.cat([penultimate(classifier.features(images[i:i + batch_size].to(device)))
                      .double().cpu() for i in range(0, len(images), batch_size)])


@torch.no_grad()
def digit_probs(classifier: nn.Module, images: torch.Tensor, batch_size: int = 1024
                ) -> torch.Tensor:
    """The digit classifier's class probabilities (N, 10), float64: the input of the
    Inception-style score."""
    classifier.eval()
    device = next(classifier.parameters()).device
    return torch.cat([classifier(images[i:i + batch_size].to(device)).double().softmax(1).cpu()
                      for i in range(0, len(images), batch_size)])
