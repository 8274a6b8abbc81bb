"""Tests for genai_course.data.corpora: the Python-docs corpus and the toy Markov chain."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from genai_course.classic.ngram import BOS, EOS, NGramLanguageModel
from genai_course.data.corpora import (
    TRANSITIONS,
    MarkovChainCorpus,
    _prose_paragraphs,
    python_docs_sentences,
    tokenize,
)

NUM_SAMPLES = 20_000


@pytest.fixture(scope="module")
def chain() -> MarkovChainCorpus:
    return MarkovChainCorpus()


@pytest.fixture(scope="module")
def samples(chain: MarkovChainCorpus) -> list[list[str]]:
    return chain.sample_sentences(NUM_SAMPLES, seed=1234)


# --- tokenize and python_docs_sentences -----------------------------------------------------


def test_tokenize_examples() -> None:
    assert tokenize("Python's built-in len() returns 3.") == [
        "python's", "built-in", "len", "(", ")", "returns", "3", "."
    ]  # fmt: skip
    assert tokenize("Version 3.12, e.g. __init__!") == [
        "version", "3.12", ",", "e", ".", "g", ".", "__init__", "!"
    ]  # fmt: skip
    assert tokenize("It\u2019s  ok...") == ["it's", "ok", ".", ".", "."]
    assert tokenize("") == []


def test_python_docs_sentences_shape_and_determinism() -> None:
    sentences = python_docs_sentences()
    # Python 3.11.7 gives 2,357 sentences and 47,973 tokens (2,721 types); the help text
    # changes a little between Python versions, hence the loose bound.
    assert len(sentences) > 1500
    assert sum(map(len, sentences)) > 30_000
    assert sentences == python_docs_sentences()
    assert python_docs_sentences(10) == sentences[:10]
    assert python_docs_sentences(0) == []
    for sentence in sentences:
        assert 3 <= len(sentence) <= 60
        assert all(isinstance(t, str) and t and t == t.lower() for t in sentence)
        assert BOS not in sentence and EOS not in sentence
    vocab = Counter(t for s in sentences for t in s)
    assert vocab["statement"] > 50 and vocab["the"] > 1000
    joined = {" ".join(s) for s in sentences}
    assert 'the " if " statement is used for conditional execution :' in joined
    assert not any("> > >" in s for s in joined)  # interactive examples are dropped
    assert not any(": : =" in s for s in joined)  # so are grammar rules ("::=")


HELP_TEXT = """\
The "if" statement
******************

The "if" statement is used for
conditional execution:

   if_stmt ::= "if" expression ":" suite

>>> if x: pass
It selects one suite. Then it stops.

* A bullet item that
  wraps onto a second line.

  * A nested item
    that also wraps.

       nested_code = 1

1. A numbered item
   that wraps too.

+-----+-----+
| a   | b   |
+-----+-----+
Last line."""


def test_prose_paragraphs_drop_headings_code_and_tables() -> None:
    assert _prose_paragraphs(HELP_TEXT) == [
        'The "if" statement is used for conditional execution:',
        "It selects one suite. Then it stops.",
        "A bullet item that wraps onto a second line.",
        "A nested item that also wraps.",
        "A numbered item that wraps too.",
        "Last line.",
    ]


def test_python_docs_sentences_cannot_corrupt_the_cache() -> None:
    first = python_docs_sentences(5)
    first[0].append("MUTATED")
    first.clear()
    assert "MUTATED" not in python_docs_sentences(5)[0]
    assert len(python_docs_sentences(5)) == 5
    with pytest.raises(ValueError):
        python_docs_sentences(-1)


def test_bigram_model_on_python_docs() -> None:
    sentences = python_docs_sentences()
    train, test = sentences[::2], sentences[1::2]
    lm = NGramLanguageModel(2, add_k=0.01).fit(train)
    unigram = NGramLanguageModel(1, add_k=0.01).fit(train)
    # Both finite thanks to smoothing, except for tokens never seen in training (prob 0).
    seen = [s for s in test if set(s) <= lm.vocab]
    assert len(seen) > 200
    assert lm.perplexity(seen) < unigram.perplexity(seen)


# --- the Markov chain ---------------------------------------------------------------------


def test_transition_rows_sum_to_one() -> None:
    assert BOS in TRANSITIONS and EOS not in TRANSITIONS
    words = set(TRANSITIONS) - {BOS}
    assert 15 <= len(words) <= 25
    for row in TRANSITIONS.values():
        assert math.fsum(row.values()) == pytest.approx(1.0, abs=1e-12)
        assert all(p > 0 for p in row.values())
        assert set(row) <= words | {EOS}


def test_samples_are_reproducible_and_valid(
    chain: MarkovChainCorpus, samples: list[list[str]]
) -> None:
    assert chain.sample_sentences(50, seed=7) == chain.sample_sentences(50, seed=7)
    assert chain.sample_sentences(50, seed=7) != chain.sample_sentences(50, seed=8)
    assert samples[:50] == chain.sample_sentences(50, seed=1234)
    for sentence in samples:
        assert sentence and BOS not in sentence and EOS not in sentence
        assert chain.log_prob(sentence) > -math.inf
    assert chain.log_prob(["cat", "the"]) == -math.inf
    assert chain.log_prob(["the", "dog", "ran"]) == pytest.approx(
        math.log(0.6 * 0.35 * 0.45 * 0.25)
    )


def test_empirical_bigram_frequencies_match_transitions(samples: list[list[str]]) -> None:
    counts: dict[str, Counter[str]] = {}
    for sentence in samples:
        padded = [BOS, *sentence, EOS]
        for prev, token in zip(padded, padded[1:], strict=False):
            counts.setdefault(prev, Counter())[token] += 1
    assert set(counts) == set(TRANSITIONS)
    for prev, row in TRANSITIONS.items():
        total = sum(counts[prev].values())
        assert set(counts[prev]) == set(row)
        for token, p in row.items():
            # 5 binomial standard errors (~1e-6 chance per cell under the truth).
            assert abs(counts[prev][token] / total - p) < 5 * math.sqrt(p * (1 - p) / total) + 1e-12


def test_fitted_bigram_approaches_truth(chain: MarkovChainCorpus, samples: list[list[str]]) -> None:
    small = NGramLanguageModel(2).fit(samples[:200])
    large = NGramLanguageModel(2).fit(samples)

    def max_error(lm: NGramLanguageModel) -> float:
        return max(
            abs(lm.prob(token, [prev]) - chain.true_bigram_prob(token, prev))
            for prev in TRANSITIONS
            for token in [*TRANSITIONS, EOS]
            if token != BOS
        )

    assert max_error(large) < 0.02
    assert max_error(large) < max_error(small)
    # Held-out perplexity of the fitted model approaches the true per-token perplexity.
    held_out = chain.sample_sentences(5000, seed=99)
    assert large.perplexity(held_out) == pytest.approx(math.exp(chain.entropy_rate()), rel=0.02)


def test_expected_entropy_by_value_iteration(chain: MarkovChainCorpus) -> None:
    # h(s) = H(row s) + sum_t P(t|s) h(t), h(</s>) = 0, iterated to its fixed point:
    # an independent route to the linear-system answer.
    row_entropy = {s: -sum(p * math.log(p) for p in row.values()) for s, row in TRANSITIONS.items()}
    h = dict.fromkeys([*TRANSITIONS, EOS], 0.0)
    length = dict.fromkeys([*TRANSITIONS, EOS], 0.0)
    for _ in range(2000):
        for s, row in TRANSITIONS.items():
            h[s] = row_entropy[s] + sum(p * h[t] for t, p in row.items())
            length[s] = sum(p * ((t != EOS) + length[t]) for t, p in row.items())
    assert chain.expected_sentence_entropy() == pytest.approx(h[BOS], rel=1e-10)
    assert chain.expected_length() == pytest.approx(length[BOS], rel=1e-10)
    assert 6 <= chain.expected_length() <= 10


def test_expected_entropy_matches_monte_carlo(
    chain: MarkovChainCorpus, samples: list[list[str]]
) -> None:
    nll = np.array([-chain.log_prob(s) for s in samples])
    lengths = np.array([len(s) for s in samples])
    se = nll.std(ddof=1) / math.sqrt(len(nll))
    assert abs(nll.mean() - chain.expected_sentence_entropy()) < 3 * se
    se_len = lengths.std(ddof=1) / math.sqrt(len(lengths))
    assert abs(lengths.mean() - chain.expected_length()) < 3 * se_len
    per_token = nll.sum() / (lengths.sum() + len(samples))
    assert per_token == pytest.approx(chain.entropy_rate(), rel=0.01)


def test_invalid_transition_tables() -> None:
    with pytest.raises(ValueError, match="sum"):
        MarkovChainCorpus({BOS: {"a": 0.5}, "a": {EOS: 1.0}})
    with pytest.raises(ValueError, match="never reach"):
        MarkovChainCorpus({BOS: {"a": 1.0}, "a": {"b": 1.0}, "b": {"a": 1.0}})
    with pytest.raises(ValueError, match="unknown"):
        MarkovChainCorpus({BOS: {"a": 1.0}, "a": {"z": 1.0}})
    with pytest.raises(ValueError, match="row"):
        MarkovChainCorpus({"a": {EOS: 1.0}})
    tiny = MarkovChainCorpus({BOS: {"a": 1.0}, "a": {"a": 0.5, EOS: 0.5}})
    assert tiny.expected_length() == pytest.approx(2.0)  # geometric number of "a"s
    assert tiny.expected_sentence_entropy() == pytest.approx(2 * math.log(2))
