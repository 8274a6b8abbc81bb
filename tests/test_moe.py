"""Mixture of experts: routing against a dense reference, the balance loss, expert usage."""

from __future__ import annotations

import pytest
import torch

from genai_course.llm.moe import MoEFeedForward, load_balancing_loss


def dense_reference(moe: MoEFeedForward, x: torch.Tensor) -> torch.Tensor:
    """Every expert on every token, weighted by the renormalised top-k router softmax."""
    flat = x.reshape(-1, x.shape[-1])
    probs = torch.softmax(flat @ moe.router.weight.T, dim=-1)
    all_out = torch.stack([e(flat) for e in moe.experts], dim=1)  # (N, E, d)
    keep = torch.zeros_like(probs)
    for n in range(len(flat)):
        top = probs[n].argsort(descending=True)[: moe.top_k]
        keep[n, top] = probs[n, top] / probs[n, top].sum()
    return (keep[..., None] * all_out).sum(1).view_as(x)


@pytest.mark.parametrize("top_k", [1, 2, 4])
def test_moe_matches_the_dense_reference(top_k: int) -> None:
    torch.manual_seed(0)
    moe = MoEFeedForward(8, n_experts=4, top_k=top_k, hidden=16)
    x = torch.randn(3, 5, 8)
    torch.testing.assert_close(moe(x), dense_reference(moe, x), atol=1e-6, rtol=0)
    assert moe.usage.sum().item() == 15 * top_k
    assert moe.usage.dtype == torch.long and moe.usage.shape == (4,)


def test_balance_loss_is_one_when_uniform_and_larger_when_skewed() -> None:
    uniform = torch.full((8, 4), 0.25)
    chosen = torch.tensor([[0], [1], [2], [3], [0], [1], [2], [3]])
    assert load_balancing_loss(uniform, chosen).item() == pytest.approx(1.0)
    skewed = torch.tensor([[0.7, 0.1, 0.1, 0.1]]).expand(8, 4)
    # all tokens to expert 0: 4 * (1 * 0.7) = 2.8
    assert load_balancing_loss(skewed, torch.zeros(8, 1, dtype=torch.long)).item() == \
        pytest.approx(2.8)
    # top-2: f = (1/2, 1/2, 0, 0), P = (0.7, 0.1, 0.1, 0.1): 4 * 0.4 = 1.6
    top2 = torch.tensor([[0, 1]]).expand(8, 2)
    assert load_balancing_loss(skewed, top2).item() == pytest.approx(1.6)


def test_gradients_reach_the_router_and_the_chosen_experts_only() -> None:
    torch.manual_seed(0)
    moe = MoEFeedForward(4, n_experts=3, top_k=1, hidden=8)
    x = torch.randn(1, 1, 4)
    (moe(x).sum() + moe.aux_loss).backward()
    assert moe.router.weight.grad is not None and moe.router.weight.grad.abs().sum() > 0
    used = int(moe.usage.argmax())
    for e, expert in enumerate(moe.experts):
        has_grad = expert[0].weight.grad is not None and expert[0].weight.grad.abs().sum() > 0
        assert has_grad == (e == used)


def test_moe_arguments() -> None:
    with pytest.raises(ValueError, match="top_k"):
        MoEFeedForward(4, n_experts=2, top_k=3)
    assert len(MoEFeedForward(4, n_experts=2).experts[0][0].weight) == 16  # 4 * n_embd
