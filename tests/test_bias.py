"""The bias study: WEAT against a direct implementation of Caliskan et al.'s formula and its
permutation test against brute force; the corpus's skew, exact entropy and augmentation
cost against independent computations."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from genai_course.safety import bias


def _weat_direct(X, Y, A, B):
    """Caliskan et al. (2017): s(w, A, B) = mean_a cos(w, a) - mean_b cos(w, b); effect size
    (mean_x s - mean_y s) / std_{X u Y} s, written word by word."""
    X, Y, A, B = (np.asarray(M, dtype=np.float64) for M in (X, Y, A, B))

    def cos(u, v):
        return float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v)))

    def s(w):
        return np.mean([cos(w, a) for a in A]) - np.mean([cos(w, b) for b in B])

    sx, sy = [s(x) for x in X], [s(y) for y in Y]
    return (np.mean(sx) - np.mean(sy)) / np.std(sx + sy, ddof=1), sx + sy


def test_weat_effect_size_matches_the_formula():
    g = torch.Generator().manual_seed(0)
    for shape in [(4, 4, 4, 4, 16), (3, 5, 2, 7, 8), (6, 6, 1, 1, 2)]:
        X, Y, A, B = (torch.randn(n, shape[-1], generator=g) for n in shape[:4])
        assert bias.weat_effect_size(X, Y, A, B) == pytest.approx(_weat_direct(X, Y, A, B)[0],
                                                                  abs=1e-9)


def test_weat_permutation_p_value_against_brute_force():
    g = torch.Generator().manual_seed(1)
    X, Y, A, B = (torch.randn(4, 8, generator=g) for _ in range(4))
    X = X + A.mean(0)  # an association to find
    effect, p_value = bias.weat_test(X, Y, A, B)
    _, s = _weat_direct(X, Y, A, B)
    observed = sum(s[:4]) - sum(s[4:])
    splits = list(itertools.combinations(range(8), 4))
    stats = [sum(s[i] for i in idx) - sum(s[i] for i in range(8) if i not in idx) for idx in splits]
    assert p_value == pytest.approx(np.mean([t >= observed - 1e-12 for t in stats]), abs=1e-12)
    assert effect > 0
    # sampled permutations agree with the exact value within Monte Carlo error
    _, sampled = bias.weat_test(X, Y, A, B, n_permutations=20)
    assert abs(sampled - p_value) < 0.35
    with pytest.raises(ValueError):
        bias.weat_test(X[:3], Y, A, B)


def test_corpus_skew_follows_the_designed_probabilities():
    sentences = bias.bias_sentences(20_000, seed=5)
    rates = bias.female_rate_in_data(sentences)
    for job, p in bias.JOB_SKEW.items():
        n = sum(job in s.split(" ") and bias._gender_of(s) is not None for s in sentences)
        assert abs(rates[job] - p) < 4 * math.sqrt(p * (1 - p) / n) + 1e-9, job


def _log_prob(sentence: str) -> float:
    """The generator's probability of one sentence, from its choices (an independent
    computation of what bias_sentences draws)."""
    words = sentence.split(" ")
    job = next(w for w in words if w in bias.JOB_SKEW)
    for template, slot in bias.TEMPLATES:
        pattern = template.split(" ")
        if len(pattern) != len(words):
            continue
        logp = -math.log(len(bias.TEMPLATES)) - math.log(len(bias.JOB_SKEW))
        ok = True
        for p, w in zip(pattern, words, strict=True):
            if p == "{g}":
                if w not in slot:
                    ok = False
                p_f = bias.JOB_SKEW[job]
                logp += math.log(p_f if w == slot[1] else 1 - p_f)
            elif p in ("{adj}", "{thing}", "{count}"):
                logp -= math.log({"{adj}": 4, "{thing}": 5, "{count}": 2}[p])
            elif p == "{place}":
                ok = ok and w == bias.WORKPLACES[job]
            elif p != "{job}" and p != w:
                ok = False
        if ok:
            return logp
    raise AssertionError(sentence)


def test_exact_entropy_matches_a_monte_carlo_estimate():
    sentences = bias.bias_sentences(20_000, seed=6)
    surprise = np.array([-_log_prob(s) for s in sentences])
    for s in sentences[:500]:
        assert bias.sentence_log_prob(s) == pytest.approx(_log_prob(s), abs=1e-12)
    assert bias.sentence_log_prob("the nurse said that it was tired .") == -math.inf
    se = surprise.std(ddof=1) / math.sqrt(len(surprise))
    assert abs(surprise.mean() - bias.entropy_per_sentence()) < 4 * se


def test_augmentation_makes_every_job_even_and_costs_the_kl_divergence():
    sentences = bias.bias_sentences(2000, seed=7)
    augmented = bias.augment(sentences)
    assert all(r == 0.5 for r in bias.female_rate_in_data(augmented).values())
    assert bias.counterfactual(bias.counterfactual(sentences[0])) == sentences[0]
    kl = np.mean([p * math.log(2 * p) + (1 - p) * math.log(2 * (1 - p))
                  for p in bias.JOB_SKEW.values()])
    assert bias.augmentation_cost() == pytest.approx(4 / 5 * kl, rel=1e-12)
    assert bias.entropy_per_sentence({j: 0.5 for j in bias.JOB_SKEW}) == pytest.approx(
        bias.entropy_per_sentence() + bias.augmentation_cost(), rel=1e-12)


def test_word_tokenizer_gives_one_token_per_word():
    sentences = bias.bias_sentences(500, seed=8)
    tokenizer = bias.word_tokenizer(sentences)
    for s in sentences[:50]:
        assert tokenizer.decode(tokenizer.encode(s)) == s
        assert len(tokenizer.encode(s)) == len(s.split(" "))
