"""scikit-learn's 8x8 handwritten digits: real images that ship inside scikit-learn.

1,797 greyscale images of the digits 0-9 (UCI "Optical Recognition of Handwritten Digits",
pixel values 0..16). Here they are float32 tensors of shape (N, 1, 8, 8) scaled to
[-1, 1] (the range diffusion models and tanh decoders expect), with int64 labels, split
into train and test sets by a fixed, stratified permutation.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

SPLITS = ("train", "test", "all")
TEST_FRACTION = 0.2


@lru_cache(maxsize=1)
def _raw() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    data = load_digits()
    return data.images.astype(np.float32), data.target.astype(np.int64)


def _split_indices(labels: np.ndarray, split: str) -> np.ndarray:
    """A stratified split that is the same on every machine (fixed seed per class)."""
    rng = np.random.default_rng(0)
    train, test = [], []
    for digit in range(10):
        idx = rng.permutation(np.flatnonzero(labels == digit))
        n_test = int(round(TEST_FRACTION * idx.size))
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    chosen = {"train": train, "test": test, "all": train + test}[split]
    return np.sort(np.concatenate(chosen))


def load_digits(split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
    """Images (N, 1, 8, 8) float32 in [-1, 1] and labels (N,) int64 for ``split``
    (``"train"``: 1,438 images, ``"test"``: 359, ``"all"``: 1,797)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    images, labels = _raw()
    idx = _split_indices(labels, split)
    x = torch.from_numpy(images[idx] / 8.0 - 1.0).unsqueeze(1)
    return x.contiguous(), torch.from_numpy(labels[idx])


def binarize(images: torch.Tensor, threshold: float = 0.0) -> torch.Tensor:
    """Pixels above ``threshold`` (in the [-1, 1] scale) become 1.0, the rest 0.0."""
    return (images > threshold).to(torch.float32)
