import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits as sk_load_digits

from genai_course.data.digits import binarize, load_digits


def test_splits_partition_the_real_dataset():
    x_tr, y_tr = load_digits("train")
    x_te, y_te = load_digits("test")
    x_all, y_all = load_digits("all")
    assert x_tr.shape == (1438, 1, 8, 8) and x_te.shape == (359, 1, 8, 8)
    assert x_all.shape == (1797, 1, 8, 8)
    assert x_tr.dtype == torch.float32 and y_tr.dtype == torch.int64
    ref = sk_load_digits()
    # "all" is the dataset itself, in its own order, rescaled from 0..16 to [-1, 1]
    assert np.array_equal(y_all.numpy(), ref.target)
    assert np.allclose(x_all.squeeze(1).numpy(), ref.images / 8.0 - 1.0)
    assert x_all.min() == -1.0 and x_all.max() == 1.0
    # train and test are disjoint and together are everything
    def rows(x, y):
        pairs = zip(x.flatten(1).tolist(), y.tolist(), strict=True)
        return sorted(tuple(r) + (int(c),) for r, c in pairs)

    assert rows(torch.cat([x_tr, x_te]), torch.cat([y_tr, y_te])) == rows(x_all, y_all)
    for digit in range(10):  # stratified: every class about 20% test
        share = (y_te == digit).sum().item() / (y_all == digit).sum().item()
        assert abs(share - 0.2) < 0.01


def test_split_is_deterministic_and_validated():
    a, _ = load_digits("test")
    b, _ = load_digits("test")
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match="split must be one of"):
        load_digits("validation")


def test_binarize():
    x = torch.tensor([-1.0, -0.5, 0.0, 0.25, 1.0, 1.2])
    assert binarize(x).tolist() == [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]
