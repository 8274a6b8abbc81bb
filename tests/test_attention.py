"""Attention against PyTorch's, causal masks, multi-head attention, and position encodings."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from genai_course.llm.attention import (
    KVCache,
    MultiHeadAttention,
    apply_rope,
    attend_with_cache,
    causal_attention,
    causal_mask,
    merge_heads,
    rope_angles,
    scaled_dot_product_attention,
    sinusoidal_positions,
    split_heads,
)


def qkv(*shape_q: int, s: int | None = None, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    *batch, length, d = shape_q
    s = length if s is None else s
    q = torch.randn(*batch, length, d, generator=g)
    k = torch.randn(*batch, s, d, generator=g)
    v = torch.randn(*batch, s, d + 3, generator=g)
    return q, k, v, g


def test_matches_pytorch_without_a_mask() -> None:
    q, k, v, _ = qkv(2, 3, 5, 8, s=7)
    torch.testing.assert_close(scaled_dot_product_attention(q, k, v),
                               F.scaled_dot_product_attention(q, k, v), atol=1e-5, rtol=0)


@pytest.mark.parametrize("s", [6, 9])
def test_matches_pytorch_with_bool_float_and_causal_masks(s: int) -> None:
    q, k, v, g = qkv(2, 4, 6, 16, s=s)
    bool_mask = torch.rand(6, s, generator=g) < 0.7
    bool_mask[:, 0] = True  # every query may attend somewhere
    float_mask = torch.randn(2, 1, 6, s, generator=g)
    for kwargs in ({"mask": bool_mask}, {"mask": float_mask}, {"is_causal": True}):
        ref_kwargs = {"attn_mask": kwargs["mask"]} if "mask" in kwargs else kwargs
        torch.testing.assert_close(scaled_dot_product_attention(q, k, v, **kwargs),
                                   F.scaled_dot_product_attention(q, k, v, **ref_kwargs),
                                   atol=1e-5, rtol=0)


def test_returns_the_weights_of_the_formula() -> None:
    q, k, v, _ = qkv(3, 4, 8)
    out, w = scaled_dot_product_attention(q, k, v, is_causal=True, return_weights=True)
    scores = q @ k.mT / math.sqrt(8)
    scores[:, torch.triu(torch.ones(4, 4, dtype=torch.bool), 1)] = -math.inf
    torch.testing.assert_close(w, torch.softmax(scores, -1), atol=1e-6, rtol=0)
    torch.testing.assert_close(out, w @ v, atol=1e-6, rtol=0)
    assert torch.all(w.triu(1) == 0) and torch.allclose(w.sum(-1), torch.ones(3, 4))


def test_gradients_match_pytorch() -> None:
    q, k, v, _ = qkv(2, 5, 4)
    ours = [t.clone().requires_grad_() for t in (q, k, v)]
    ref = [t.clone().requires_grad_() for t in (q, k, v)]
    scaled_dot_product_attention(*ours, is_causal=True).square().sum().backward()
    F.scaled_dot_product_attention(*ref, is_causal=True).square().sum().backward()
    for a, b in zip(ours, ref, strict=True):
        torch.testing.assert_close(a.grad, b.grad, atol=1e-5, rtol=0)


def test_attention_errors() -> None:
    q, k, v, _ = qkv(3, 4)
    with pytest.raises(ValueError, match="last dimension"):
        scaled_dot_product_attention(q, k[:, :3], v)
    with pytest.raises(ValueError, match="number of positions"):
        scaled_dot_product_attention(q, k, v[:2])
    with pytest.raises(ValueError, match="either mask or is_causal"):
        scaled_dot_product_attention(q, k, v, mask=causal_mask(3), is_causal=True)


def test_causal_mask() -> None:
    assert torch.equal(causal_mask(3), torch.tensor([[1, 0, 0], [1, 1, 0], [1, 1, 1]]).bool())
    # two new queries after three cached keys see everything up to their own position
    assert torch.equal(causal_mask(2, 5), torch.tensor([[1, 1, 1, 1, 0], [1, 1, 1, 1, 1]]).bool())
    with pytest.raises(ValueError, match="q_len"):
        causal_mask(4, 2)


def test_dropout_on_the_weights_is_random_and_rescaled() -> None:
    q, k, v, _ = qkv(1, 64, 8)
    torch.manual_seed(0)
    _, w = scaled_dot_product_attention(q, k, v, dropout_p=0.5, return_weights=True)
    _, w0 = scaled_dot_product_attention(q, k, v, return_weights=True)
    kept = w != 0
    assert 0.3 < kept.float().mean() < 0.7
    torch.testing.assert_close(w[kept], 2 * w0[kept])


def reference_mha(m: MultiHeadAttention, x: torch.Tensor) -> torch.Tensor:
    """Multi-head attention written with torch.nn.MultiheadAttention's weights."""
    ref = torch.nn.MultiheadAttention(x.shape[-1], m.n_head, batch_first=True)
    with torch.no_grad():
        ref.in_proj_weight.copy_(m.qkv.weight)
        ref.in_proj_bias.copy_(m.qkv.bias)
        ref.out_proj.weight.copy_(m.proj.weight)
        ref.out_proj.bias.copy_(m.proj.bias)
    mask = ~causal_mask(x.shape[1]) if m.causal else None  # torch: True = blocked
    return ref(x, x, x, attn_mask=mask, need_weights=False)[0]


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("keep_weights", [True, False])
def test_multi_head_attention_matches_torch(causal: bool, keep_weights: bool) -> None:
    torch.manual_seed(0)
    m = MultiHeadAttention(16, 4, causal=causal).eval()
    m.keep_weights = keep_weights
    x = torch.randn(2, 7, 16)
    torch.testing.assert_close(m(x), reference_mha(m, x), atol=1e-5, rtol=0)
    assert (m.last_weights is not None) == keep_weights
    if keep_weights:
        assert m.last_weights.shape == (2, 4, 7, 7)


@pytest.mark.parametrize("rope", [False, True])
def test_cache_gives_the_same_outputs_as_the_full_sequence(rope: bool) -> None:
    torch.manual_seed(0)
    m = MultiHeadAttention(16, 2, rope=rope).eval()
    x = torch.randn(1, 6, 16)
    full = m(x)
    cache = KVCache(1)
    parts = [m(x[:, :3], cache), m(x[:, 3:5], cache), m(x[:, 5:], cache)]
    assert cache.length() == 6
    torch.testing.assert_close(torch.cat(parts, 1), full, atol=1e-5, rtol=0)
    m.keep_weights = True
    cache = KVCache(1)
    torch.testing.assert_close(torch.cat([m(x[:, :4], cache), m(x[:, 4:], cache)], 1), full,
                               atol=1e-5, rtol=0)


def test_multi_head_attention_errors() -> None:
    with pytest.raises(ValueError, match="divisible"):
        MultiHeadAttention(10, 3)
    with pytest.raises(ValueError, match="even head size"):
        MultiHeadAttention(6, 2, rope=True)


def test_sinusoidal_positions_follow_the_formula() -> None:
    pe = sinusoidal_positions(50, 16)
    assert pe.shape == (50, 16)
    for pos, i in [(0, 0), (3, 2), (49, 7)]:
        angle = pos / 10000 ** (2 * i / 16)
        assert pe[pos, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-6)
        assert pe[pos, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-6)
    # PE[pos + k] is a fixed linear (rotation) function of PE[pos] for each frequency
    assert torch.allclose(pe.norm(dim=1), torch.full((50,), math.sqrt(8)), atol=1e-5)
    with pytest.raises(ValueError, match="even dim"):
        sinusoidal_positions(4, 5)


def test_rope_is_a_rotation_of_each_pair() -> None:
    x = torch.randn(2, 5, 8)
    pos = torch.arange(5)
    y = apply_rope(x, pos)
    theta = rope_angles(pos, 8)  # (5, 4)
    assert theta[3, 1].item() == pytest.approx(3 * 10000 ** (-2 / 8))
    # pair i at position t: [[cos, -sin], [sin, cos]] @ (x_2i, x_2i+1)
    c, s = theta.cos(), theta.sin()
    torch.testing.assert_close(y[..., 0::2], x[..., 0::2] * c - x[..., 1::2] * s)
    torch.testing.assert_close(y[..., 1::2], x[..., 0::2] * s + x[..., 1::2] * c)
    torch.testing.assert_close(y.norm(dim=-1), x.norm(dim=-1))
    torch.testing.assert_close(apply_rope(x, torch.zeros(5, dtype=torch.long)), x)
    with pytest.raises(ValueError, match="positions"):
        apply_rope(x, torch.arange(4))
    with pytest.raises(ValueError, match="even"):
        rope_angles(pos, 7)


def test_rope_dot_product_depends_only_on_the_offset() -> None:
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(1, 32, generator=g), torch.randn(1, 32, generator=g)

    def score(m: int, n: int) -> float:
        qm = apply_rope(q, torch.tensor([m]))
        kn = apply_rope(k, torch.tensor([n]))
        return (qm @ kn.T).item()

    for m, n in [(5, 2), (40, 3), (0, 9)]:
        for shift in (1, 17, 100):
            assert score(m + shift, n + shift) == pytest.approx(score(m, n), abs=1e-4)
    assert score(5, 2) != pytest.approx(score(5, 3), abs=1e-3)  # but it does see the offset


def test_split_heads_gives_each_head_its_slice_of_channels() -> None:
    x = torch.randn(2, 5, 12, generator=torch.Generator().manual_seed(0))
    heads = split_heads(x, 3)
    assert heads.shape == (2, 3, 5, 4)
    for h in range(3):
        assert torch.equal(heads[:, h], x[..., 4 * h:4 * h + 4])
    assert torch.equal(merge_heads(heads), x)
    with pytest.raises(ValueError, match="divisible"):
        split_heads(x, 5)


@pytest.mark.parametrize("t_past", [0, 1, 4])
def test_attend_with_cache_gives_the_last_rows_of_causal_attention(t_past: int) -> None:
    q, k, v, _ = qkv(2, 3, 6, 8)
    v = v[..., :8]
    full = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    out, k_all, v_all = attend_with_cache(q[:, :, t_past:], k[:, :, t_past:], v[:, :, t_past:],
                                          k[:, :, :t_past], v[:, :, :t_past])
    assert torch.equal(k_all, k) and torch.equal(v_all, v)
    torch.testing.assert_close(out, full[:, :, t_past:])


def test_causal_attention_returns_pytorchs_output_and_lower_triangular_weights() -> None:
    q, k, v, _ = qkv(2, 5, 4)
    out, weights = causal_attention(q, k, v)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, is_causal=True))
    assert torch.equal(weights.triu(1), torch.zeros_like(weights))
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 5))
