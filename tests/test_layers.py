import pytest
import torch
from torch import nn

from genai_course.core.layers import mlp, widths


def test_widths_accepts_ints_and_sequences_and_rejects_the_rest():
    assert widths(64) == (64,)
    assert widths([32, 16]) == (32, 16)
    for bad in ([], [0], [True], 2.5, [8, -1]):
        with pytest.raises(ValueError, match="hidden must be"):
            widths(bad)


def test_mlp_layers_and_no_final_activation():
    net = mlp((3, 5, 7, 2), activation=nn.Tanh)
    kinds = [type(m).__name__ for m in net]
    assert kinds == ["Linear", "Tanh", "Linear", "Tanh", "Linear"]
    assert net(torch.zeros(4, 3)).shape == (4, 2)
    assert [m.out_features for m in net if isinstance(m, nn.Linear)] == [5, 7, 2]
