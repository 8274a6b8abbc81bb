"""The U-Net and the time/class embedding shared by the denoisers."""

from __future__ import annotations

import math

import pytest
import torch

from genai_course.diffusion.denoisers import ConditionEmbedding, ResBlock, UNet, timestep_embedding


def test_timestep_embedding_is_the_transformer_sinusoid() -> None:
    t = torch.tensor([0, 1, 999])
    emb = timestep_embedding(t, 8)
    assert emb.shape == (3, 8) and emb.dtype == torch.float32
    for row, step in enumerate(t.tolist()):
        for i in range(4):
            w = 10000 ** (-i / 4)
            assert emb[row, i].item() == pytest.approx(math.cos(step * w), abs=1e-5)
            assert emb[row, 4 + i].item() == pytest.approx(math.sin(step * w), abs=1e-5)
    with pytest.raises(ValueError, match="even int"):
        timestep_embedding(t, 7)
    with pytest.raises(ValueError, match="1-D tensor"):
        timestep_embedding(t[None], 8)


def test_condition_embedding_null_label_and_checks() -> None:
    emb = ConditionEmbedding(16, num_classes=3)
    t = torch.tensor([4, 4])
    assert emb.null_class == 3
    torch.testing.assert_close(emb(t), emb(t, torch.tensor([3, 3])))
    assert not torch.allclose(emb(t, torch.tensor([0, 0])), emb(t))
    with pytest.raises(ValueError, match="labels must lie in 0..3"):
        emb(t, torch.tensor([0, 4]))
    with pytest.raises(ValueError, match="labels must have shape"):
        emb(t, torch.tensor([0]))
    plain = ConditionEmbedding(16)
    assert plain(t).shape == (2, 16)
    with pytest.raises(ValueError, match="unconditional"):
        plain(t, torch.tensor([0, 0]))


def test_resblock_changes_channels_and_uses_the_embedding() -> None:
    torch.manual_seed(0)
    block = ResBlock(8, 16, emb_dim=4)
    x = torch.randn(2, 8, 4, 4)
    a, b = block(x, torch.zeros(2, 4)), block(x, torch.ones(2, 4))
    assert a.shape == (2, 16, 4, 4) and not torch.allclose(a, b)


def test_unet_shapes_seed_and_zero_output_at_init() -> None:
    net = UNet((1, 8, 8), channels=(8, 16), emb_dim=16, num_classes=10, seed=0)
    x, t = torch.randn(3, 1, 8, 8), torch.tensor([0, 10, 999])
    out = net(x, t, torch.tensor([1, 2, 10]))
    assert out.shape == x.shape
    assert torch.count_nonzero(out) == 0  # the output convolution starts at zero
    twin = UNet((1, 8, 8), channels=(8, 16), emb_dim=16, num_classes=10, seed=0)
    assert all(torch.equal(p, q) for p, q in zip(net.parameters(), twin.parameters(),
                                                   strict=True))
    assert net.num_classes == 10 and net.null_class == 10
    three = UNet((3, 8, 8), channels=(8, 8, 8), emb_dim=8)
    assert three(torch.randn(2, 3, 8, 8), torch.tensor([1, 2])).shape == (2, 3, 8, 8)


def test_unet_skip_connections_carry_every_pixel() -> None:
    """With the output layer made non-zero, each output pixel depends on the input."""
    torch.manual_seed(0)
    net = UNet((1, 8, 8), channels=(8, 16), emb_dim=16)
    torch.nn.init.normal_(net.conv_out.weight)
    x = torch.randn(1, 1, 8, 8, requires_grad=True)
    net(x, torch.tensor([5]))[0, 0, 3, 4].backward()
    assert x.grad[0, 0, 3, 4] != 0 and torch.count_nonzero(x.grad) > 16


def test_unet_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match="divisible by 2\\*\\*2"):
        UNet((1, 6, 6), channels=(8, 8, 8))
    with pytest.raises(ValueError, match="data_shape must be"):
        UNet((8, 8))
    with pytest.raises(ValueError, match="channels must"):
        UNet(channels=())
    with pytest.raises(ValueError, match="channels must be an int"):
        UNet(channels=(8, 0))
    with pytest.raises(ValueError, match="x must have shape"):
        UNet(channels=(8,))(torch.zeros(2, 1, 4, 4), torch.tensor([1, 2]))
