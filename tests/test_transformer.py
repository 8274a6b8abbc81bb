"""The GPT: parameter count, causality, weight tying, generation with and without a KV cache,
training and the sliding-window loss."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from genai_course.llm.attention import KVCache, apply_rope
from genai_course.llm.decoding import top_k_logits
from genai_course.llm.transformer import (
    BLOCK_PARAMS,
    GPT,
    GPTConfig,
    block_output,
    block_params,
    block_qkv,
    count_parameters,
    evaluate_stream_loss,
    random_windows,
    train_lm,
    training_flops,
)

SMALL = dict(vocab_size=11, block_size=16, n_layer=2, n_head=2, n_embd=16)


@pytest.fixture(autouse=True)
def _threads(one_thread):
    yield


@pytest.mark.parametrize("overrides", [
    {}, {"positional": "rope"}, {"n_experts": 4, "moe_top_k": 2},
    {"vocab_size": 65, "block_size": 256, "n_layer": 3, "n_head": 4, "n_embd": 48},
])
def test_parameter_formula_matches_the_module(overrides: dict) -> None:
    config = GPTConfig(**{**SMALL, **overrides})
    assert GPTConfig(**config.to_dict()) == config
    model = GPT(config)
    assert model.num_parameters() == sum(p.numel() for p in model.parameters())
    assert count_parameters(config) == model.num_parameters()


def test_gpt2_small_has_124m_parameters() -> None:
    """The formula on GPT-2 small's sizes gives its well-known 124M (124,439,808)."""
    config = GPTConfig(vocab_size=50257, block_size=1024, n_layer=12, n_head=12, n_embd=768)
    assert count_parameters(config) == 124_439_808


def test_weights_are_tied_and_seeded() -> None:
    a, b = GPT(GPTConfig(**SMALL), seed=3), GPT(GPTConfig(**SMALL), seed=3)
    assert a.lm_head.weight is a.tok_emb.weight
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert not torch.equal(GPT(GPTConfig(**SMALL), seed=4).tok_emb.weight, a.tok_emb.weight)


@pytest.mark.parametrize("positional", ["learned", "rope"])
def test_logits_at_a_position_ignore_later_tokens(positional: str) -> None:
    model = GPT(GPTConfig(**SMALL, positional=positional), seed=0).eval()
    x = torch.randint(11, (2, 10), generator=torch.Generator().manual_seed(0))
    y = x.clone()
    y[:, 6:] = (y[:, 6:] + 1) % 11
    with torch.no_grad():
        lx, ly = model(x), model(y)
    assert lx.shape == (2, 10, 11)
    torch.testing.assert_close(lx[:, :6], ly[:, :6])
    assert not torch.allclose(lx[:, 6:], ly[:, 6:])


def test_loss_is_cross_entropy_and_starts_near_log_vocab() -> None:
    model = GPT(GPTConfig(**SMALL), seed=0)
    x = torch.randint(11, (4, 16), generator=torch.Generator().manual_seed(1))
    y = torch.randint(11, (4, 16), generator=torch.Generator().manual_seed(2))
    loss = model.loss(x, y)
    torch.testing.assert_close(loss, F.cross_entropy(model(x).flatten(0, 1), y.flatten()))
    assert abs(loss.item() - math.log(11)) < 0.1  # small initial weights: nearly uniform
    assert model.aux_loss().item() == 0.0


def test_forward_errors() -> None:
    model = GPT(GPTConfig(**SMALL))
    with pytest.raises(ValueError, match="block_size"):
        model(torch.zeros(1, 17, dtype=torch.long))
    with pytest.raises(ValueError, match="batch, time"):
        model(torch.zeros(5, dtype=torch.long))
    cache = KVCache(2)
    model(torch.zeros(1, 10, dtype=torch.long), cache)
    with pytest.raises(ValueError, match="exceed block_size"):
        model(torch.zeros(1, 7, dtype=torch.long), cache)


@pytest.mark.parametrize("bad", [
    {"vocab_size": 0}, {"n_embd": 15}, {"positional": "alibi"}, {"dropout": 1.0},
    {"n_experts": 2, "moe_top_k": 3}, {"block_size": 2.5},
])
def test_config_validation(bad: dict) -> None:
    with pytest.raises(ValueError):
        GPTConfig(**{**SMALL, **bad})


@pytest.mark.parametrize("positional", ["learned", "rope"])
@pytest.mark.parametrize("sampling", [
    {"temperature": 0.0}, {"temperature": 1.0}, {"temperature": 0.8, "top_k": 5},
    {"temperature": 1.2, "top_p": 0.9},
])
def test_cache_gives_the_same_tokens(positional: str, sampling: dict) -> None:
    """Greedy and seeded sampling, past block_size (16): 3 + 30 tokens."""
    model = GPT(GPTConfig(**SMALL, positional=positional), seed=0)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():  # larger random weights: varied, input-dependent greedy choices
        for p in model.parameters():
            if p.ndim == 2:
                p.normal_(0.0, 0.5, generator=g)
    prompt = torch.tensor([[1, 2, 3], [4, 5, 6]])
    runs = [model.generate(prompt, 30, use_cache=use, generator=torch.Generator().manual_seed(7),
                           **sampling) for use in (True, False)]
    assert runs[0].shape == (2, 33)
    assert torch.equal(runs[0][:, :3], prompt)
    assert torch.equal(runs[0], runs[1])
    assert len(set(runs[0][0, 3:].tolist())) > 1


def test_generate_leaves_the_training_mode_and_checks_arguments() -> None:
    model = GPT(GPTConfig(**SMALL), seed=0).train()
    out = model.generate(torch.tensor([[0]]), 0)
    assert out.tolist() == [[0]] and model.training
    with pytest.raises(ValueError, match="max_new_tokens"):
        model.generate(torch.tensor([[0]]), -1)
    with pytest.raises(ValueError, match="idx"):
        model.generate(torch.tensor([0]), 3)


def test_random_windows() -> None:
    ids = torch.arange(20)
    x, y = random_windows(ids, torch.tensor([0, 5]), 4)
    assert x.tolist() == [[0, 1, 2, 3], [5, 6, 7, 8]]
    assert y.tolist() == [[1, 2, 3, 4], [6, 7, 8, 9]]


def naive_stream_loss(model: GPT, ids: torch.Tensor, min_context: int) -> float:
    """Each token scored alone, from the last block_size tokens before it (at least
    min_context of them when available) — slow and obviously right."""
    block = model.config.block_size
    total = 0.0
    for t in range(1, len(ids)):
        start = max(0, t - block)
        with torch.no_grad():
            logits = model(ids[None, start:t])[0, -1]
        total -= logits.log_softmax(-1)[ids[t]].item()
    return total / (len(ids) - 1)


def test_stream_loss_scores_every_token_once_with_enough_context() -> None:
    model = GPT(GPTConfig(**SMALL), seed=0)
    ids = torch.randint(11, (60,), generator=torch.Generator().manual_seed(3))
    # with min_context = block_size - 1 every token sees the full window: the naive loss
    assert evaluate_stream_loss(model, ids, min_context=15) == pytest.approx(
        naive_stream_loss(model, ids, 15), abs=1e-5)
    # other strides give nearly the same number on a random model, and short streams work
    assert evaluate_stream_loss(model, ids) == pytest.approx(
        evaluate_stream_loss(model, ids, 15), abs=0.05)
    assert evaluate_stream_loss(model, ids[:5], min_context=3) == pytest.approx(
        naive_stream_loss(model, ids[:5], 3), abs=1e-5)
    with pytest.raises(ValueError, match="min_context"):
        evaluate_stream_loss(model, ids, min_context=16)


def test_training_learns_a_deterministic_sequence() -> None:
    """A repeating pattern of period 7 is learnable to (almost) zero loss."""
    ids = torch.tensor([1, 4, 2, 8, 5, 7, 3] * 60)
    model = GPT(GPTConfig(**SMALL), seed=0)
    history = train_lm(model, ids, steps=150, batch_size=8, lr=3e-3, warmup=10, progress=False)
    assert history.steps == 150 and not model.training
    assert history["loss"][0] > 2.0 and history.smoothed("loss", 10) < 0.3
    assert evaluate_stream_loss(model, ids[:100]) < 0.3
    with pytest.raises(ValueError, match="longer than block_size"):
        train_lm(model, ids[:10], steps=1)


def test_training_a_mixture_of_experts_records_the_balance_loss() -> None:
    ids = torch.tensor([1, 4, 2, 8, 5, 7, 3] * 40)
    model = GPT(GPTConfig(**SMALL, n_experts=4, moe_top_k=2), seed=0)
    history = train_lm(model, ids, steps=30, batch_size=4, warmup=5, progress=False)
    assert len(history["aux"]) == 30 and min(history["aux"]) >= 1.0 - 1e-6
    assert model.aux_loss().item() >= 1.0 - 1e-6


def test_training_flops() -> None:
    assert training_flops(10**6, 10**9) == 6e15


@pytest.mark.parametrize("positional", ["learned", "rope"])
def test_the_two_halves_are_the_block_as_a_function(positional: str) -> None:
    config = GPTConfig(**SMALL, positional=positional)
    block = GPT(config, seed=0).blocks[1]
    params = block_params(block)
    assert set(params) == set(BLOCK_PARAMS.values()) and params["fc_weight"] is block.mlp[0].weight
    x = torch.randn(3, 7, 16, generator=torch.Generator().manual_seed(1))
    positions = torch.arange(7)

    def attend(q, k, v):  # causal attention, with the block's positions
        if positional == "rope":
            q, k = apply_rope(q, positions), apply_rope(k, positions)
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)

    with torch.no_grad():
        q, k, v = block_qkv(x, params, config.n_head)
        assert q.shape == (3, 2, 7, 8)
        torch.testing.assert_close(block_output(x, attend(q, k, v), params), block(x))


def test_generate_uses_the_given_nucleus_filter() -> None:
    """A "nucleus filter" that keeps the top token only makes sampling greedy."""
    model = GPT(GPTConfig(**SMALL), seed=0)
    prompt = torch.tensor([[1, 2, 3]])
    greedy = model.generate(prompt, 12, temperature=0.0)
    sampled = model.generate(prompt, 12, temperature=1.0, top_p=0.5,
                             top_p_fn=lambda logits, p: top_k_logits(logits, 1),
                             generator=torch.Generator().manual_seed(0))
    assert torch.equal(sampled, greedy)
