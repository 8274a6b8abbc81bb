"""Memorisation and privacy: exposure against a brute-force rank, the brute-force candidate
scores against scoring each candidate on its own, DP-SGD's gradient against per-example
autograd, and the Renyi-DP accountant against the closed form and numerical integration."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate

from genai_course.llm.transformer import GPT, GPTConfig, random_windows
from genai_course.safety import memorization as mem


def test_exposure_against_a_brute_force_rank():
    g = torch.Generator().manual_seed(0)
    for n in (1, 7, 100, 10_000):
        log_probs = torch.randn(n, generator=g, dtype=torch.float64).round(decimals=1)
        for i in (0, n // 3, n - 1):
            canary = float(log_probs[i])
            rank = sorted(log_probs.tolist(), reverse=True).index(canary) + 1
            assert mem.exposure_from_log_probs(canary, log_probs) == pytest.approx(
                math.log2(n) - math.log2(rank), abs=1e-12)
    with pytest.raises(TypeError):
        mem.exposure_from_log_probs(0.0, [0.0, 1.0])
    with pytest.raises(ValueError):
        mem.exposure_from_log_probs(0.0, torch.zeros(2, 2))


def test_expected_exposure_of_a_random_rank():
    for n in (1, 10, 10_000):
        direct = np.mean([math.log2(n) - math.log2(r) for r in range(1, n + 1)])
        assert mem.expected_random_exposure(n) == pytest.approx(direct, abs=1e-9)
    assert mem.expected_random_exposure(10 ** 6) == pytest.approx(1 / math.log(2), abs=1e-4)


def test_candidate_scores_match_scoring_each_candidate_alone():
    tokenizer = mem.canary_tokenizer(" .abcdefghiklmnopqrstuvwxyz\n")
    model = GPT(GPTConfig(vocab_size=tokenizer.vocab_size, block_size=40, n_layer=1, n_head=2,
                          n_embd=16), seed=0).eval()
    prefix = "the code of the king is "
    scores = mem.candidate_log_probs(model, tokenizer, prefix, 2, batch_size=3)
    assert scores.shape == (100,)
    context = tokenizer.encode("\n" + prefix)
    with torch.no_grad():
        for secret in ("00", "07", "42", "99"):
            ids = torch.tensor([context + tokenizer.encode(secret)])
            logp = torch.log_softmax(model(ids[:, :-1]), -1)[0]
            direct = sum(logp[len(context) - 1 + k, ids[0, len(context) + k]]
                         for k in range(2))
            assert scores[int(secret)].item() == pytest.approx(direct.item(), abs=1e-5)
    assert torch.logsumexp(scores, 0).item() <= 1e-5  # probabilities of disjoint events


def test_canaries_are_inserted_as_often_as_asked_and_deduplication_keeps_one():
    canaries = mem.make_canaries([0, 1, 3, 5], seed=2)
    text = mem.insert_canaries(["a.", "b.", "a."], canaries, seed=0)
    for c in canaries:
        assert text.count(c.sentence) == c.repetitions
    deduped = mem.deduplicate(text)
    assert sorted(deduped) == sorted({"a.", "b."} | {c.sentence for c in canaries[1:]})
    assert deduped.index("a.") < deduped.index("b.")  # first appearances keep their order
    assert len({c.secret for c in canaries}) == 4 and all(len(c.secret) == 4 for c in canaries)


@pytest.fixture()
def tiny():
    model = GPT(GPTConfig(vocab_size=12, block_size=8, n_layer=1, n_head=2, n_embd=16), seed=0)
    ids = torch.randint(12, (200,), generator=torch.Generator().manual_seed(0))
    x, y = random_windows(ids, torch.arange(0, 50, 10), 8)
    return model, x, y


def _per_example_grads(model, x, y):
    grads = []
    for i in range(len(x)):
        model.zero_grad()
        model.loss(x[i:i + 1], y[i:i + 1]).backward()
        grads.append({k: p.grad.clone() for k, p in model.named_parameters()})
    return grads


def test_private_gradient_without_clipping_or_noise_is_the_mean_gradient(tiny):
    model, x, y = tiny
    private = mem.private_gradients(model, x, y, clip=1e9, noise_multiplier=0.0)
    grads = _per_example_grads(model, x, y)
    for name, value in private.items():
        torch.testing.assert_close(value, sum(g[name] for g in grads) / len(x), atol=1e-6,
                                   rtol=1e-5)


def test_private_gradient_clips_each_example_then_adds_noise(tiny):
    model, x, y = tiny
    grads = _per_example_grads(model, x, y)
    clip = 0.01
    expected = {}
    for name in grads[0]:
        total = 0
        for g in grads:
            norm = torch.sqrt(sum(v.pow(2).sum() for v in g.values()))
            total = total + g[name] * min(1.0, clip / norm.item())
        expected[name] = total / len(x)
    private = mem.private_gradients(model, x, y, clip=clip, noise_multiplier=0.0)
    for name in expected:
        torch.testing.assert_close(private[name], expected[name], atol=1e-7, rtol=1e-4)
    noisy = mem.private_gradients(model, x, y, clip=clip, noise_multiplier=2.0,
                                  generator=torch.Generator().manual_seed(0))
    noise = torch.cat([(noisy[k] - expected[k]).flatten() for k in expected]) * len(x)
    assert noise.std().item() == pytest.approx(2.0 * clip, rel=0.05)


def test_rdp_without_subsampling_is_the_gaussian_mechanism():
    for sigma in (0.5, 1.0, 3.0):
        for alpha in (2, 5, 32):
            assert mem.rdp_sampled_gaussian(1.0, sigma, alpha) == pytest.approx(
                alpha / (2 * sigma ** 2), rel=1e-12)


def test_rdp_of_the_sampled_gaussian_matches_numerical_integration():
    """Renyi divergence of order alpha between (1-q) N(0, s^2) + q N(1, s^2) and N(0, s^2)."""
    for q, sigma, alpha in [(0.1, 1.0, 2), (0.01, 0.8, 8), (0.3, 2.0, 5)]:
        def integrand(x, q=q, sigma=sigma, alpha=alpha):
            mu0 = np.exp(-x ** 2 / (2 * sigma ** 2)) / (sigma * np.sqrt(2 * np.pi))
            ratio = (1 - q) + q * np.exp((2 * x - 1) / (2 * sigma ** 2))
            return mu0 * ratio ** alpha

        value, _ = integrate.quad(integrand, -40 * sigma, 40 * sigma, limit=400)
        assert mem.rdp_sampled_gaussian(q, sigma, alpha) == pytest.approx(
            math.log(value) / (alpha - 1), rel=1e-6)


def test_epsilon_falls_with_noise_and_rises_with_steps():
    eps = [mem.dp_epsilon(0.01, s, 1000, 1e-5) for s in (0.7, 1.0, 2.0)]
    assert eps[0] > eps[1] > eps[2] > 0
    assert mem.dp_epsilon(0.01, 1.0, 4000, 1e-5) > eps[1]
