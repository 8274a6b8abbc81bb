"""Greedy, temperature, top-k and top-p (nucleus) filtering, written against the definitions."""

from __future__ import annotations

import math

import pytest
import torch

from genai_course.llm.decoding import (
    apply_temperature,
    greedy,
    next_token_distribution,
    sample_next,
    top_k_logits,
    top_p_logits,
)

INF = float("-inf")


def logits_of(probs: list[float]) -> torch.Tensor:
    return torch.tensor(probs, dtype=torch.float64).log()


def nucleus_by_definition(probs: list[float], p: float) -> set[int]:
    """Smallest set of most probable tokens whose mass reaches p, by brute force over sizes."""
    order = sorted(range(len(probs)), key=lambda i: -probs[i])
    for size in range(1, len(probs) + 1):
        if sum(probs[i] for i in order[:size]) >= p - 1e-12:
            return set(order[:size])
    return set(order)


def test_greedy_and_temperature() -> None:
    logits = torch.tensor([[0.1, 2.0, -1.0], [3.0, 3.0, 0.0]])
    assert greedy(logits).tolist() == [1, 0]
    torch.testing.assert_close(apply_temperature(logits, 0.5), logits * 2)
    flat = next_token_distribution(logits, temperature=100.0)
    assert torch.allclose(flat, torch.full_like(flat, 1 / 3), atol=0.01)
    sharp = next_token_distribution(logits[:1], temperature=0.01)
    assert sharp[0, 1] > 0.999
    assert next_token_distribution(logits, temperature=0).tolist() == [[0, 1, 0], [1, 0, 0]]
    with pytest.raises(ValueError, match="temperature"):
        apply_temperature(logits, 0.0)
    with pytest.raises(TypeError, match="floating-point"):
        greedy(torch.tensor([1, 2]))


def test_top_k() -> None:
    logits = torch.tensor([[1.0, 4.0, 3.0, 2.0], [0.0, -1.0, 5.0, 5.0]])
    out = top_k_logits(logits, 2)
    assert out.tolist() == [[INF, 4.0, 3.0, INF], [INF, INF, 5.0, 5.0]]
    assert top_k_logits(torch.tensor([1.0, 2.0, 2.0, 0.0]), 2).tolist() == [INF, 2.0, 2.0, INF]
    assert top_k_logits(torch.tensor([2.0, 2.0, 2.0]), 1).tolist() == [2.0, 2.0, 2.0]  # ties
    torch.testing.assert_close(top_k_logits(logits, 10), logits)
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match="k must"):
            top_k_logits(logits, bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("p", [0.05, 0.3, 0.5, 0.7, 0.85, 0.95, 0.999])
def test_top_p_matches_the_definition_on_random_rows(p: float) -> None:
    g = torch.Generator().manual_seed(0)
    logits = 2 * torch.randn(50, 12, generator=g, dtype=torch.float64)
    out = top_p_logits(logits, p)
    assert out.shape == logits.shape
    probs = logits.softmax(-1).tolist()
    for row in range(50):
        kept = {i for i in range(12) if out[row, i] != INF}
        assert kept == nucleus_by_definition(probs[row], p)
        assert all(out[row, i] == logits[row, i] for i in kept)


def test_top_p_edge_cases() -> None:
    # the token that crosses p is kept: 0.5 + 0.3 >= 0.6
    assert top_p_logits(logits_of([0.5, 0.3, 0.2]), 0.6).isinf().tolist() == [False, False, True]
    # exactly reaching p needs no more tokens
    assert top_p_logits(logits_of([0.5, 0.25, 0.25]), 0.5).isinf().tolist() == [
        False, True, True]
    # at least one token, even for a tiny p
    assert top_p_logits(logits_of([0.2, 0.7, 0.1]), 1e-6).isinf().tolist() == [True, False, True]
    # ties at the cut are kept together, whatever their order in the vocabulary
    assert top_p_logits(logits_of([0.3, 0.4, 0.3]), 0.5).isinf().tolist() == [False, False, False]
    # p = 1 keeps everything; -inf inputs stay removed
    row = torch.tensor([0.0, INF, 1.0])
    assert top_p_logits(row, 1.0).tolist() == row.tolist()
    assert top_p_logits(row, 0.99).isinf().tolist() == [False, True, False]
    # batched over leading dimensions
    batch = torch.stack([logits_of([0.6, 0.4]), logits_of([0.1, 0.9])]).view(2, 1, 2)
    assert top_p_logits(batch, 0.5).isinf().view(2, 2).tolist() == [[False, True], [True, False]]
    for bad in (0.0, 1.5, -0.1):
        with pytest.raises(ValueError, match="p must"):
            top_p_logits(row, bad)


def test_filters_then_sampling_follow_the_distribution() -> None:
    logits = logits_of([0.5, 0.3, 0.15, 0.05]).float().expand(20000, 4)
    g = torch.Generator().manual_seed(0)
    draws = sample_next(logits, top_p=0.75, generator=g)
    assert draws.shape == (20000, 1)
    freq = torch.bincount(draws.flatten(), minlength=4) / 20000
    torch.testing.assert_close(freq, torch.tensor([0.625, 0.375, 0.0, 0.0]), atol=0.015, rtol=0)
    dist = next_token_distribution(logits[:1], temperature=1.0, top_k=3, top_p=0.9)
    torch.testing.assert_close(dist, torch.tensor([[0.5, 0.3, 0.15, 0.0]]) / 0.95)
    assert sample_next(logits[:3], temperature=0).flatten().tolist() == [0, 0, 0]
    same = sample_next(logits[:50], generator=torch.Generator().manual_seed(1))
    assert torch.equal(same, sample_next(logits[:50], generator=torch.Generator().manual_seed(1)))
    assert math.isclose(dist.sum().item(), 1.0, rel_tol=1e-6)


def test_next_token_explorer_widget_follows_the_sliders() -> None:
    from genai_course.llm.tokenizers import CharTokenizer
    from genai_course.llm.transformer import GPT, GPTConfig
    from genai_course.viz.widgets import next_token_explorer

    tokenizer = CharTokenizer("ab<c ")
    model = GPT(GPTConfig(vocab_size=5, block_size=8, n_layer=1, n_head=1, n_embd=8), seed=0)
    model.tokenizer = tokenizer
    box = next_token_explorer(model, "a <b", k=5)
    temperature, top_k, top_p = box.children[0].children
    table = box.children[1]
    assert "5 of 5 tokens" in table.value and "&lt;b" in table.value
    top_k.value = 2
    assert "2 of 5 tokens" in table.value
    top_k.value, top_p.value = 0, 0.05
    assert "1 of 5 tokens" in table.value
    top_p.value, temperature.value = 1.0, 0.1
    assert "5 of 5 tokens" in table.value
