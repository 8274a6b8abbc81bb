"""A bigram text generator on plain dictionaries: counts, the maximum-likelihood next-token
distribution, inverse-CDF sampling, temperature and perplexity (Jurafsky & Martin, *SLP3*,
ch. 3, eqs. 3.11 and 3.16).

These are the reference versions of chapter 1's exercises 1-5, with the same signatures: the
chapter's generator cell runs the student's functions and falls back to these while an
exercise is unsolved (``grading.yours_or_reference``). They are thin wrappers over
:mod:`genai_course.classic.ngram`, whose array versions they share.

Used in: chapter 1.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

from genai_course.classic import ngram

Bigram = tuple[str, str]


def count_bigrams(sentences: Iterable[Sequence[str]]) -> dict[Bigram, int]:
    """Counts of ``(previous, token)`` pairs in sentences padded with ``<s>`` ... ``</s>``."""
    counts: dict[Bigram, int] = {}
    for sentence in sentences:
        padded = ngram.pad_sentence(sentence, 2)
        for pair in zip(padded[:-1], padded[1:], strict=False):
            counts[pair] = counts.get(pair, 0) + 1
    return counts


def next_token_distribution(counts: Mapping[Bigram, int], previous: str) -> dict[str, float]:
    """``p(token | previous) = c(previous, token) / c(previous)`` (SLP3 eq. 3.11).

    Raises ``ValueError`` naming ``previous`` when it is never followed by anything.
    """
    followers = {tok: c for (prev, tok), c in counts.items() if prev == previous}
    total = sum(followers.values())
    if total == 0:
        raise ValueError(f"the token {previous!r} is never followed by anything in counts")
    return {tok: c / total for tok, c in followers.items()}


def sample_token(distribution: Mapping[str, float], u: float) -> str:
    """Inverse-CDF sample from ``{token: probability}``, tokens taken in sorted order, for
    ``u`` in [0, 1) (see :func:`genai_course.classic.ngram.sample_index`)."""
    tokens = sorted(distribution)
    return tokens[ngram.sample_index([distribution[t] for t in tokens], u)]


def apply_temperature(distribution: Mapping[str, float], temperature: float) -> dict[str, float]:
    """Reshape ``{token: p}`` to ``{token: p ** (1 / T) / Z}``; ``ValueError`` for ``T <= 0``."""
    tokens = list(distribution)
    reshaped = ngram.apply_temperature([distribution[t] for t in tokens], temperature)
    return {t: float(p) for t, p in zip(tokens, reshaped, strict=True)}


def perplexity(bigram_probs: Mapping[Bigram, float], sentences: Iterable[Sequence[str]]) -> float:
    """``exp(-mean log p)`` over every predicted token (words and ``</s>``) of every sentence
    (SLP3 eq. 3.16); ``inf`` as soon as one predicted pair has probability 0."""
    log_sum, count = 0.0, 0
    for sentence in sentences:
        padded = ngram.pad_sentence(sentence, 2)
        for pair in zip(padded[:-1], padded[1:], strict=False):
            p = bigram_probs.get(pair, 0.0)
            if p <= 0.0:
                return math.inf
            log_sum += math.log(p)
            count += 1
    if count == 0:
        raise ValueError("no sentences to score")
    return math.exp(-log_sum / count)
