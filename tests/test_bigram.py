"""The dictionary bigram generator (chapter 1's reference answers) against nltk and closed
forms."""

from __future__ import annotations

import math
from collections import Counter

import pytest
from nltk.lm import MLE
from nltk.lm.preprocessing import pad_both_ends
from nltk.util import bigrams

from genai_course.classic import bigram
from genai_course.classic.growth import doubling_time

CORPUS = [["the", "cat", "sat"], ["the", "dog", "sat", "down"], ["a", "cat"], []]


def nltk_model() -> MLE:
    lm = MLE(2)
    padded = [list(bigrams(pad_both_ends(s, n=2))) for s in CORPUS]
    lm.fit(padded, vocabulary_text=["<s>", "</s>"] + [t for s in CORPUS for t in s])
    return lm


def test_counts_match_nltk_bigrams_of_padded_sentences():
    expected = Counter(b for s in CORPUS for b in bigrams(pad_both_ends(s, n=2)))
    assert bigram.count_bigrams(CORPUS) == dict(expected)
    assert bigram.count_bigrams([]) == {}


def test_next_token_distribution_matches_nltk_mle():
    lm, counts = nltk_model(), bigram.count_bigrams(CORPUS)
    for previous in ["<s>", "the", "cat", "sat"]:
        dist = bigram.next_token_distribution(counts, previous)
        assert sum(dist.values()) == pytest.approx(1.0)
        for token, p in dist.items():
            assert p == pytest.approx(lm.score(token, [previous]), abs=1e-12)
    with pytest.raises(ValueError, match="zebra"):
        bigram.next_token_distribution(counts, "zebra")


def test_perplexity_matches_nltk_and_is_infinite_on_an_unseen_pair():
    lm, counts = nltk_model(), bigram.count_bigrams(CORPUS)
    probs = {pair: lm.score(pair[1], [pair[0]]) for pair in counts}
    test = [["the", "cat", "sat"], ["a", "cat"]]
    expected = lm.perplexity([b for s in test for b in bigrams(pad_both_ends(s, n=2))])
    assert bigram.perplexity(probs, test) == pytest.approx(expected, rel=1e-12)
    assert bigram.perplexity(probs, [["dog", "the"]]) == math.inf
    with pytest.raises(ValueError, match="no sentences"):
        bigram.perplexity(probs, [])


def test_temperature_is_the_closed_form_and_rejects_nonpositive_values():
    dist = {"a": 0.1, "b": 0.3, "c": 0.6, "z": 0.0}
    z = sum(p ** 0.5 for p in dist.values())
    got = bigram.apply_temperature(dist, 2.0)
    assert got == pytest.approx({t: p ** 0.5 / z for t, p in dist.items()}, abs=1e-12)
    assert all(type(v) is float for v in got.values())
    for bad in (0.0, -1.0):
        with pytest.raises(ValueError):
            bigram.apply_temperature(dist, bad)


def test_sampling_frequencies_on_a_uniform_grid_are_exact():
    dist = {"r": 0.5, "q": 0.125, "p": 0.375, "never": 0.0}
    grid = [(i + 0.5) / 1000 for i in range(1000)]
    assert Counter(bigram.sample_token(dist, u) for u in grid) == {"p": 375, "q": 125, "r": 500}
    assert bigram.sample_token({"b": 0.5, "a": 0.25, "c": 0.25}, 0.25) == "b"  # boundary
    with pytest.raises(ValueError):
        bigram.sample_token(dist, 1.0)


def test_doubling_time_of_exact_exponential_growth():
    years = [2000, 2001, 2002, 2003]
    assert doubling_time(years, [3 * 2 ** ((y - 2000) / 1.5) for y in years]) == \
        pytest.approx(1.5, rel=1e-12)
