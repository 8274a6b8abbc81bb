"""Tests for genai_course.classic.ngram, against nltk.lm and hand-computed values."""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nltk.lm import MLE
from nltk.lm.preprocessing import padded_everygram_pipeline
from nltk.util import ngrams

from genai_course.classic.ngram import (
    BOS,
    EOS,
    NGramLanguageModel,
    apply_temperature,
    pad_sentence,
    sample_index,
)

TINY = [["a", "b"], ["a", "c"]]
# Branching corpus: after "<s>" comes "x" (3/4) or "y" (1/4); sentences end after 1-3 words.
BRANCHING = [["x", "a"], ["x", "b", "a"], ["x", "a", "b"], ["y", "b"]] * 5

corpora = st.lists(
    st.lists(st.sampled_from("abcd"), min_size=0, max_size=7), min_size=1, max_size=12
)


def fit_nltk(n: int, sentences: list[list[str]]) -> MLE:
    train, vocab = padded_everygram_pipeline(n, sentences)  # generators: fresh ones per fit
    lm = MLE(n)
    lm.fit(train, vocab)
    return lm


def full_contexts(n: int, sentences: list[list[str]]) -> set[tuple[str, ...]]:
    """Every (n-1)-token context that precedes a token in the padded training sentences."""
    return {tuple(ngram[:-1]) for s in sentences for ngram in ngrams(pad_sentence(s, n), n)}


# --- nltk.lm.MLE as the reference -------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(sentences=corpora, n=st.integers(2, 4))
def test_prob_matches_nltk_mle(sentences: list[list[str]], n: int) -> None:
    ours = NGramLanguageModel(n).fit(sentences)
    ref = fit_nltk(n, sentences)
    contexts = [c for c in full_contexts(n, sentences) if EOS not in c]
    assert contexts
    for context in contexts:
        for token in ours.vocab:
            assert abs(ours.prob(token, context) - ref.score(token, list(context))) <= 1e-12


@pytest.mark.parametrize("n", [2, 3, 4])
def test_prob_matches_nltk_mle_on_seeded_corpus(n: int) -> None:
    rng = random.Random(n)
    sentences = [rng.choices("abc", k=rng.randint(0, 8)) for _ in range(200)]
    ours = NGramLanguageModel(n).fit(sentences)
    ref = fit_nltk(n, sentences)
    assert ours.vocab == {"a", "b", "c", EOS}
    contexts = full_contexts(n, sentences)
    assert len(contexts) > 3 ** (n - 2)
    for context in contexts:
        for token in sorted(ours.vocab):
            assert abs(ours.prob(token, context) - ref.score(token, list(context))) <= 1e-12
        assert ours.counts(context) == Counter(dict(ref.counts[list(context)]))


@pytest.mark.parametrize("n", [2, 3])
def test_perplexity_matches_nltk_on_single_end_marker_ngrams(n: int) -> None:
    # nltk pads n-1 "</s>", so its perplexity over padded_everygram_pipeline text differs.
    # Fed our n-grams (one "</s>"), whose contexts never contain "</s>", it must agree:
    # nltk computes 2 ** -mean(log2 p), we compute exp(-mean(ln p)).
    rng = random.Random(10 + n)
    sentences = [rng.choices("abc", k=rng.randint(1, 6)) for _ in range(100)]
    ours = NGramLanguageModel(n).fit(sentences)
    ref = fit_nltk(n, sentences)
    test = sentences[:20]
    test_ngrams = [g for s in test for g in ngrams(pad_sentence(s, n), n)]
    assert ours.perplexity(test) == pytest.approx(ref.perplexity(test_ngrams), rel=1e-12)


# --- hand-computed values ----------------------------------------------------------------


def test_tiny_bigram_by_hand() -> None:
    lm = NGramLanguageModel(2).fit(TINY)
    assert lm.vocab == {"a", "b", "c", EOS}
    assert lm.prob("a", [BOS]) == 1.0
    assert lm.prob("a") == 1.0  # empty context is padded with <s>
    assert lm.prob("b", ["a"]) == 0.5
    assert lm.prob("c", ["a"]) == 0.5
    assert lm.prob(EOS, ["b"]) == 1.0
    assert lm.prob("b", ["b"]) == 0.0
    assert lm.prob("zebra", ["a"]) == 0.0
    assert lm.prob("b", ["zebra"]) == 0.0  # unseen context, no smoothing, no back-off
    assert lm.counts(["a"]) == Counter({"b": 1, "c": 1})
    assert lm.distribution(["a"]) == {EOS: 0.0, "a": 0.0, "b": 0.5, "c": 0.5}
    assert lm.log_prob(["a", "b"]) == pytest.approx(math.log(0.5))
    assert lm.log_prob(["a", "a"]) == -math.inf
    expected = math.exp(-(math.log(1) + math.log(0.5) + math.log(1)) / 3)
    assert lm.perplexity([["a", "b"]]) == pytest.approx(expected, rel=1e-15)
    assert lm.perplexity([["a", "b"]]) == pytest.approx(2 ** (1 / 3))
    assert lm.perplexity([["a", "b"], ["b"]]) == math.inf


def test_perplexity_hand_formula() -> None:
    lm = NGramLanguageModel(2).fit(BRANCHING)
    test = [["x", "a"], ["y", "b"], ["x", "b", "a"]]
    # Bigram MLEs read off BRANCHING by hand, one factor per predicted token incl. </s>.
    probs = [3 / 4, 2 / 3, 2 / 3] + [1 / 4, 1, 2 / 3] + [3 / 4, 1 / 3, 1 / 3, 2 / 3]
    expected = math.exp(-sum(math.log(p) for p in probs) / len(probs))
    assert lm.perplexity(test) == pytest.approx(expected, rel=1e-12)
    assert lm.log_prob(["x", "b", "a"]) == pytest.approx(math.log(3 / 4 * 1 / 3 * 1 / 3 * 2 / 3))


def test_unigram_is_counts_over_total() -> None:
    sentences = [["a", "b", "a"], ["c"], [], ["a"]]
    lm = NGramLanguageModel(1).fit(sentences)
    counts = Counter({"a": 3, "b": 1, "c": 1, EOS: 4})
    total = sum(counts.values())
    assert lm.vocab == set(counts)
    for token, count in counts.items():
        assert lm.prob(token) == count / total
        assert lm.prob(token, ["whatever", "context"]) == count / total
    assert lm.prob(BOS) == 0.0
    assert lm.log_prob(["a"]) == pytest.approx(math.log(3 / 9) + math.log(4 / 9))


def test_padding_is_textbook_single_end_marker() -> None:
    assert pad_sentence(["a", "b"], 3) == [BOS, BOS, "a", "b", EOS]
    assert pad_sentence([], 1) == [EOS]


def test_context_is_padded_and_truncated() -> None:
    lm = NGramLanguageModel(3).fit(BRANCHING)
    assert lm.prob("a", ["x"]) == lm.prob("a", [BOS, "x"])
    assert lm.prob("a", ["y", "b", "x"]) == lm.prob("a", ["b", "x"])
    assert lm.prob("a", ["b", "x"]) == 0.0  # "b x" never occurs
    assert lm.prob("b", [BOS, "x"]) == pytest.approx(1 / 3)


def test_distribution_sums_to_one_for_seen_contexts() -> None:
    lm = NGramLanguageModel(3).fit(BRANCHING)
    for context in full_contexts(3, BRANCHING):
        assert math.fsum(lm.distribution(context).values()) == pytest.approx(1.0, abs=1e-12)


# --- add-k smoothing ---------------------------------------------------------------------


@pytest.mark.parametrize("k", [0.01, 0.5, 1.0, 2.0])
@pytest.mark.parametrize("n", [1, 2, 3])
def test_add_k_sums_to_one_for_seen_and_unseen_contexts(k: float, n: int) -> None:
    lm = NGramLanguageModel(n, add_k=k).fit(BRANCHING)
    for context in [*full_contexts(n, BRANCHING), ("zebra", "zebra"), ("a", "a")]:
        assert math.fsum(lm.distribution(context).values()) == pytest.approx(1.0, abs=1e-12)


def test_add_k_by_hand() -> None:
    lm = NGramLanguageModel(2, add_k=0.5).fit(TINY)
    v = 4  # a, b, c, </s>
    assert lm.prob("b", ["a"]) == pytest.approx((1 + 0.5) / (2 + 0.5 * v))
    assert lm.prob("a", ["a"]) == pytest.approx(0.5 / (2 + 0.5 * v))
    assert lm.prob("a", ["zebra"]) == pytest.approx(1 / v)
    assert lm.perplexity([["a", "a"]]) < math.inf


# --- generation --------------------------------------------------------------------------


def test_generate_is_reproducible_and_seed_dependent() -> None:
    lm = NGramLanguageModel(2).fit(BRANCHING)
    runs = {seed: lm.generate(20, seed=seed) for seed in range(30)}
    assert all(lm.generate(20, seed=seed) == out for seed, out in runs.items())
    assert len({tuple(out) for out in runs.values()}) > 3


def test_generate_only_produces_possible_ngrams_and_stops_at_end() -> None:
    lm = NGramLanguageModel(3).fit(BRANCHING)
    for seed in range(50):
        out = lm.generate(1000, seed=seed)
        assert 1 <= len(out) <= 3 and EOS not in out and BOS not in out
        padded = pad_sentence(out, 3)
        assert lm.log_prob(out) > -math.inf
        for *context, token in ngrams(padded, 3):
            assert lm.prob(token, context) > 0


def test_generate_respects_num_tokens_and_context() -> None:
    lm = NGramLanguageModel(2).fit([["a"] * 50])
    assert lm.generate(7, temperature=0) == ["a"] * 7
    assert lm.generate(0, seed=0) == []
    lm = NGramLanguageModel(2).fit(BRANCHING)
    assert lm.generate(5, temperature=0, context=["y"]) == ["b"]  # P(b | y) = 1, then </s>


def test_generate_first_token_frequencies_match_model() -> None:
    lm = NGramLanguageModel(2).fit(BRANCHING)
    trials = 4000
    firsts = Counter(lm.generate(1, seed=seed)[0] for seed in range(trials))
    p = lm.prob("x")
    assert p == 0.75
    assert abs(firsts["x"] / trials - p) < 4 * math.sqrt(p * (1 - p) / trials)
    # At temperature 0.5 the odds 3:1 become 9:1.
    hot = Counter(lm.generate(1, seed=seed, temperature=0.5)[0] for seed in range(trials))
    assert abs(hot["x"] / trials - 0.9) < 4 * math.sqrt(0.9 * 0.1 / trials)


def test_greedy_and_low_temperature() -> None:
    lm = NGramLanguageModel(2).fit(TINY)
    assert lm.generate(10, temperature=0) == ["a", "b"]  # b and c tie: smaller token wins
    lm = NGramLanguageModel(2).fit(BRANCHING)
    greedy = lm.generate(10, temperature=0)
    assert greedy == ["x", "a"]  # P(x|<s>)=3/4, P(a|x)=2/3, P(</s>|a)=2/3
    assert all(lm.generate(10, seed=s, temperature=1e-3) == greedy for s in range(20))


def test_generate_backs_off_on_unseen_context() -> None:
    lm = NGramLanguageModel(3).fit(BRANCHING)
    assert lm.prob("a", ["b", "y"]) == 0.0 and not lm.counts(["b", "y"])
    out = lm.generate(5, seed=1, context=["b", "y"])  # backs off to P(. | y): always "b"
    assert out[0] == "b"


def test_generate_matches_a_hand_written_sampler() -> None:
    # Inverse CDF over the sorted next tokens, one random.Random(seed).random() per step:
    # the output depends only on the seed, never on set or hash order.
    lm = NGramLanguageModel(2).fit(BRANCHING)
    for seed in range(20):
        rng = random.Random(seed)
        expected: list[str] = []
        prev = BOS
        while True:
            counts = lm.counts([prev])
            tokens = sorted(counts)
            cdf = list(itertools.accumulate(counts[t] / sum(counts.values()) for t in tokens))
            u = rng.random()
            token = tokens[next(i for i, c in enumerate(cdf) if c > u)]
            if token == EOS:
                break
            expected.append(token)
            prev = token
        assert lm.generate(10, seed=seed) == expected


# --- apply_temperature and sample_index ----------------------------------------------------


def entropy(p: np.ndarray) -> float:
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def test_apply_temperature_analytic() -> None:
    p = np.array([0.5, 0.3, 0.2, 0.0])
    np.testing.assert_allclose(apply_temperature(p, 1.0), p, rtol=1e-15)
    np.testing.assert_allclose(apply_temperature(p, 0.5), p**2 / (p**2).sum(), rtol=1e-12)
    np.testing.assert_allclose(apply_temperature(p, 2.0), p**0.5 / (p**0.5).sum(), rtol=1e-12)
    assert apply_temperature(p, 0.5).dtype == np.float64
    assert entropy(apply_temperature(p, 0.5)) < entropy(p) < entropy(apply_temperature(p, 2.0))
    np.testing.assert_array_equal(apply_temperature(p, 1e-300), [1.0, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(apply_temperature(p, 1e6), [1 / 3, 1 / 3, 1 / 3, 0], rtol=1e-5)
    np.testing.assert_allclose(apply_temperature([2.0, 6.0], 1.0), [0.25, 0.75])  # weights


@settings(max_examples=100, deadline=None)
@given(
    p=st.lists(st.floats(0, 1), min_size=1, max_size=8).filter(lambda xs: sum(xs) > 1e-6),
    t=st.floats(0.05, 20),
)
def test_apply_temperature_properties(p: list[float], t: float) -> None:
    q = apply_temperature(p, t)
    assert math.isclose(q.sum(), 1.0, abs_tol=1e-12)
    assert np.all(q[np.asarray(p) == 0] == 0)
    probs = np.asarray(p) / sum(p)
    if t < 1:
        assert entropy(q) <= entropy(probs) + 1e-9
    else:
        assert entropy(q) >= entropy(probs) - 1e-9


@pytest.mark.parametrize("t", [0.0, -1.0, float("nan")])
def test_apply_temperature_rejects_non_positive(t: float) -> None:
    with pytest.raises(ValueError, match="temperature"):
        apply_temperature([0.5, 0.5], t)


def test_sample_index_boundaries() -> None:
    p = [0.25, 0.25, 0.5]  # cumsum 0.25, 0.5, 1.0 exactly
    below = np.nextafter
    assert sample_index(p, 0.0) == 0
    assert sample_index(p, below(0.25, 0)) == 0
    assert sample_index(p, 0.25) == 1
    assert sample_index(p, below(0.5, 0)) == 1
    assert sample_index(p, 0.5) == 2
    assert sample_index(p, below(1.0, 0)) == 2
    assert sample_index([0.0, 0.5, 0.0, 0.5], 0.0) == 1  # zero-probability slots are skipped
    assert sample_index([0.0, 0.5, 0.0, 0.5], 0.5) == 3
    assert sample_index([0.1] * 10, below(1.0, 0)) == 9  # cumsum ends just below 1
    for u in [-0.1, 1.0, 1.5]:
        with pytest.raises(ValueError):
            sample_index(p, u)
    with pytest.raises(ValueError):
        sample_index([0.5, 0.2], 0.1)


@settings(max_examples=200, deadline=None)
@given(
    weights=st.lists(st.integers(0, 5), min_size=1, max_size=6).filter(any),
    u=st.floats(0, 1, exclude_max=True),
)
def test_sample_index_matches_linear_scan(weights: list[int], u: float) -> None:
    p = [w / sum(weights) for w in weights]
    cdf = list(itertools.accumulate(p))
    expected = next((i for i, c in enumerate(cdf) if c > u), None)
    if expected is None:  # u beyond a round-off cumsum below 1: last possible index
        expected = max(i for i, w in enumerate(weights) if w)
    assert sample_index(p, u) == expected
    assert weights[sample_index(p, u)] > 0


# --- errors and repr ------------------------------------------------------------------------


def test_bad_inputs() -> None:
    for n in [0, -1, 1.5, True]:
        with pytest.raises(ValueError, match="n must be"):
            NGramLanguageModel(n)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="add_k"):
        NGramLanguageModel(2, add_k=-1)
    lm = NGramLanguageModel(2)
    with pytest.raises(TypeError, match="list of sentences"):
        lm.fit("the cat sat on the mat")
    with pytest.raises(TypeError, match="list of sentences"):
        lm.fit(["the cat sat", "the dog ran"])
    with pytest.raises(TypeError, match="list of sentences"):
        lm.fit([1, 2])
    with pytest.raises(ValueError, match="empty corpus"):
        lm.fit([])
    with pytest.raises(ValueError, match="must not contain"):
        lm.fit([["a", EOS]])
    with pytest.raises(RuntimeError, match="fit"):
        lm.prob("a", ["b"])
    lm.fit(TINY)
    with pytest.raises(TypeError, match="context"):
        lm.prob("b", "a")
    with pytest.raises(ValueError, match="temperature"):
        lm.generate(3, temperature=-1)
    with pytest.raises(ValueError, match="num_tokens"):
        lm.generate(-1)
    with pytest.raises(ValueError, match="at least one sentence"):
        lm.perplexity([])


def test_refit_replaces_counts_and_repr() -> None:
    lm = NGramLanguageModel(2).fit(BRANCHING)
    lm.fit(TINY)
    assert lm.vocab == {"a", "b", "c", EOS}
    assert repr(lm) == "NGramLanguageModel(n=2, add_k=0.0, vocab_size=4, ngrams=5)"


def test_unknown_words_make_smoothed_perplexity_finite() -> None:
    from genai_course.classic.ngram import UNK, build_vocab, map_unknown

    train = [["a", "b", "a"], ["a", "c"], ["b", "a"]]
    vocab = build_vocab(train, min_count=2)
    assert vocab == {"a", "b"}
    mapped = map_unknown(train, vocab)
    assert mapped[1] == ["a", UNK]
    lm = NGramLanguageModel(2, add_k=0.5).fit(mapped)
    unseen = [["a", "zebra", "b"]]
    assert NGramLanguageModel(2, add_k=0.5).fit(train).perplexity(unseen) == math.inf
    assert math.isfinite(lm.perplexity(map_unknown(unseen, vocab)))
    with pytest.raises(ValueError, match="min_count"):
        build_vocab(train, min_count=0)
