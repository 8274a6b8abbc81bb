"""A maximum-likelihood n-gram language model (Jurafsky & Martin, *SLP3*, ch. 3).

An n-gram model approximates ``P(w_i | w_1 .. w_{i-1})`` by ``P(w_i | w_{i-n+1} .. w_{i-1})``,
the probability of a token given only the previous ``n-1`` tokens, estimated by counting::

    P(w | ctx) = c(ctx, w) / c(ctx)                      (MLE, SLP3 eq. 3.11)
    P(w | ctx) = (c(ctx, w) + k) / (c(ctx) + k * V)      (add-k smoothing, SLP3 eq. 3.25)

where ``V`` is the vocabulary size. Example::

    >>> lm = NGramLanguageModel(2).fit([["a", "b"], ["a", "c"]])
    >>> lm.prob("b", ["a"])
    0.5
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

BOS = "<s>"
EOS = "</s>"
UNK = "<unk>"


def pad_sentence(tokens: Sequence[str], n: int) -> list[str]:
    """Pad a sentence with ``n-1`` ``<s>`` at the start and exactly one ``</s>`` at the end.

    This is the textbook convention (SLP3 3.1). Note that nltk's
    ``padded_everygram_pipeline`` pads ``n-1`` end markers instead of one.
    """
    return [BOS] * (n - 1) + list(tokens) + [EOS]


def build_vocab(sentences: Iterable[Sequence[str]], min_count: int = 2) -> set[str]:
    """Tokens that occur at least ``min_count`` times; the rest will be mapped to ``<unk>``.

    Replacing rare training words by ``<unk>`` (SLP3 3.5.1) teaches the model how likely
    *some* unseen word is, so unseen words in new text get a probability above zero.
    """
    if min_count < 1:
        raise ValueError(f"min_count must be >= 1, got {min_count}")
    counts = Counter(token for sentence in sentences for token in sentence)
    return {token for token, count in counts.items() if count >= min_count}


def map_unknown(sentences: Iterable[Sequence[str]], vocab: set[str]) -> list[list[str]]:
    """Replace every token outside ``vocab`` by ``<unk>``."""
    return [[t if t in vocab else UNK for t in sentence] for sentence in sentences]


def apply_temperature(probs: Sequence[float] | np.ndarray, temperature: float) -> np.ndarray:
    """Return ``p_i^(1/T) / sum_j p_j^(1/T)`` as a float64 array, computed in log space.

    ``T < 1`` sharpens the distribution (towards argmax), ``T > 1`` flattens it (towards
    uniform over the tokens with ``p > 0``). ``probs`` are non-negative weights with a
    positive sum; they need not be normalised. Raises ``ValueError`` for ``T <= 0``.
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 1 or p.size == 0 or not np.all(np.isfinite(p)) or np.any(p < 0) or p.sum() <= 0:
        raise ValueError("probs must be a non-empty 1-D array of non-negative finite weights")
    with np.errstate(divide="ignore"):
        logp = np.log(p)
    # Subtract the max before dividing by T, so a tiny T gives 0 and -inf, never NaN.
    with np.errstate(over="ignore"):
        weights = np.exp((logp - logp.max()) / temperature)
    return weights / weights.sum()


def sample_index(probs: Sequence[float] | np.ndarray, u: float) -> int:
    """Inverse-CDF sampling: the smallest ``i`` with ``cumsum(probs)[i] > u``, for ``u`` in [0, 1).

    With ``u`` uniform on [0, 1), index ``i`` is returned with probability ``probs[i]``;
    a zero-probability index is never returned. ``probs`` must sum to 1 (within 1e-9).
    """
    if not 0.0 <= u < 1.0:
        raise ValueError(f"u must be in [0, 1), got {u}")
    cdf = np.cumsum(np.asarray(probs, dtype=np.float64))
    if cdf.size == 0 or abs(cdf[-1] - 1.0) > 1e-9:
        raise ValueError("probs must be non-empty and sum to 1")
    i = int(np.searchsorted(cdf, u, side="right"))
    if i == cdf.size:  # round-off: cdf[-1] slightly below 1 and u above it
        i = int(np.flatnonzero(np.asarray(probs))[-1])
    return i


class NGramLanguageModel:
    """Count-based n-gram language model with optional add-k (Lidstone) smoothing.

    Args:
        n: order of the model (1 = unigram, 2 = bigram, ...); must be >= 1.
        add_k: pseudo-count ``k >= 0`` added to every (context, token) count;
            ``0`` (default) is the pure maximum-likelihood estimate, ``1`` is Laplace.
    """

    def __init__(self, n: int, add_k: float = 0.0) -> None:
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"n must be an integer >= 1, got {n!r}")
        if not add_k >= 0:
            raise ValueError(f"add_k must be >= 0, got {add_k!r}")
        self.n = n
        self.add_k = float(add_k)
        self.vocab: set[str] = set()
        # Next-token counts for every context of length 0 .. n-1 (the shorter ones are
        # used only by generate() to back off).
        self._counts: dict[tuple[str, ...], Counter[str]] = {}
        self._totals: dict[tuple[str, ...], int] = {}

    def fit(self, sentences: Iterable[Sequence[str]]) -> NGramLanguageModel:
        """Count the n-grams of ``sentences`` (a list of token lists); replaces earlier fits."""
        if isinstance(sentences, str) or not isinstance(sentences, Iterable):
            raise TypeError(
                "fit expects a list of sentences, each a list of tokens "
                f"(e.g. [['the', 'cat'], ['a', 'dog']]), got {type(sentences).__name__}"
            )
        counts: dict[tuple[str, ...], Counter[str]] = {}
        num_sentences = 0
        for sentence in sentences:
            if (
                isinstance(sentence, str)
                or not isinstance(sentence, Sequence)
                or not all(isinstance(t, str) for t in sentence)
            ):
                raise TypeError(
                    "fit expects a list of sentences, each a list of tokens (strings); "
                    f"got the sentence {sentence!r}. Tokenize strings first."
                )
            if BOS in sentence or EOS in sentence:
                raise ValueError(f"sentences must not contain the markers {BOS!r} or {EOS!r}")
            num_sentences += 1
            padded = pad_sentence(sentence, self.n)
            for i in range(self.n - 1, len(padded)):
                for m in range(self.n):  # every context length 0 .. n-1
                    counts.setdefault(tuple(padded[i - m : i]), Counter())[padded[i]] += 1
        if num_sentences == 0:
            raise ValueError("cannot fit an n-gram model on an empty corpus")
        self._counts = counts
        self._totals = {ctx: sum(c.values()) for ctx, c in counts.items()}
        self.vocab = set(counts[()])  # every predicted token: all words and </s>, never <s>
        return self

    def _context(self, context: Sequence[str]) -> tuple[str, ...]:
        """Left-pad with ``<s>`` / truncate ``context`` to its last ``n-1`` tokens."""
        if isinstance(context, str):
            raise TypeError("context must be a sequence of tokens, not a string")
        if not self.vocab:
            raise RuntimeError("the model is not fitted yet: call fit(sentences) first")
        if self.n == 1:
            return ()
        ctx = tuple(context)[-(self.n - 1) :]
        return (BOS,) * (self.n - 1 - len(ctx)) + ctx

    def counts(self, context: Sequence[str] = ()) -> Counter[str]:
        """Counts ``c(ctx, w)`` of each token ``w`` seen after the (padded/truncated) context."""
        return Counter(self._counts.get(self._context(context), {}))

    def prob(self, token: str, context: Sequence[str] = ()) -> float:
        """``P(token | last n-1 tokens of context)``; the context is left-padded with ``<s>``.

        With ``add_k == 0`` an unseen context gives 0.0 for every token (no back-off);
        with ``add_k > 0`` it gives the uniform ``1 / V``. Tokens outside the vocabulary
        always get 0.0. For ``n == 1`` the context is ignored.
        """
        ctx = self._context(context)
        if token not in self.vocab:
            return 0.0
        count = self._counts.get(ctx, {}).get(token, 0)
        total = self._totals.get(ctx, 0)
        denominator = total + self.add_k * len(self.vocab)
        return (count + self.add_k) / denominator if denominator > 0 else 0.0

    def distribution(self, context: Sequence[str] = ()) -> dict[str, float]:
        """``{token: prob(token, context)}`` over the sorted vocabulary.

        Sums to 1 for a seen context, or for any context when ``add_k > 0``.
        """
        return {t: self.prob(t, context) for t in sorted(self.vocab)}

    def log_prob(self, sentence: Sequence[str]) -> float:
        """Natural-log probability of a sentence, including its ``</s>``; ``-inf`` if it is 0.

        ``log P(s) = sum_i log P(w_i | w_{i-n+1} .. w_{i-1})`` over the padded sentence.
        """
        padded = pad_sentence(sentence, self.n)
        total = 0.0
        for i in range(self.n - 1, len(padded)):
            p = self.prob(padded[i], padded[i - self.n + 1 : i])
            if p == 0.0:
                return -math.inf
            total += math.log(p)
        return total

    def perplexity(self, sentences: Iterable[Sequence[str]]) -> float:
        """``exp(-sum log P(s) / N)`` with N = number of tokens + one ``</s>`` per sentence.

        Returns ``inf`` when some token has probability 0 (SLP3 eq. 3.15).
        """
        sentences = list(sentences)
        num_predicted = sum(len(s) + 1 for s in sentences)
        if num_predicted == 0:
            raise ValueError("perplexity needs at least one sentence")
        total = sum(self.log_prob(s) for s in sentences)
        return math.exp(-total / num_predicted)

    def sampling_distribution(self, context: Sequence[str] = ()) -> dict[str, float]:
        """The next-token distribution :meth:`generate` samples from (before temperature),
        over tokens in sorted order: smoothed if ``add_k > 0``, else the MLE of the longest
        suffix of the (padded) context that was seen in training (back-off)."""
        ctx = self._context(context)
        if self.add_k > 0:
            return self.distribution(ctx)
        while ctx not in self._counts:
            ctx = ctx[1:]
        total = self._totals[ctx]
        return {t: c / total for t, c in sorted(self._counts[ctx].items())}

    def generate(
        self,
        num_tokens: int,
        seed: int | None = None,
        temperature: float = 1.0,
        context: Sequence[str] = (),
    ) -> list[str]:
        """Sample up to ``num_tokens`` tokens following ``context`` (which is not returned).

        Stops early when ``</s>`` is sampled; ``</s>`` is not included in the output.
        Each step samples by inverse CDF over the tokens in sorted order with
        ``random.Random(seed)``, so a seed gives the same output on every run.
        ``temperature`` reshapes the distribution (see :func:`apply_temperature`);
        ``temperature=0`` is greedy (argmax, ties broken by the smaller token).
        Unlike :meth:`prob`, generation backs off to the longest seen suffix of an
        unseen context (when ``add_k == 0``), so it never gets stuck.
        """
        if num_tokens < 0:
            raise ValueError(f"num_tokens must be >= 0, got {num_tokens}")
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        rng = random.Random(seed)
        history = list(self._context(context))
        output: list[str] = []
        for _ in range(num_tokens):
            dist = self.sampling_distribution(history)
            tokens, probs = list(dist), np.fromiter(dist.values(), dtype=np.float64)
            if temperature == 0:
                token = tokens[int(np.argmax(probs))]
            else:
                token = tokens[sample_index(apply_temperature(probs, temperature), rng.random())]
            if token == EOS:
                break
            output.append(token)
            history.append(token)
        return output

    def __repr__(self) -> str:
        num_ngrams = sum(len(c) for ctx, c in self._counts.items() if len(ctx) == self.n - 1)
        return (
            f"NGramLanguageModel(n={self.n}, add_k={self.add_k}, "
            f"vocab_size={len(self.vocab)}, ngrams={num_ngrams})"
        )
