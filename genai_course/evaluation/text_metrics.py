"""Text metrics built from their definitions: BLEU, ROUGE, and two diversity measures.

* :func:`bleu` -- corpus BLEU (Papineni et al., "BLEU: a Method for Automatic Evaluation of
  Machine Translation", ACL 2002): the geometric mean of the clipped n-gram precisions
  (:func:`modified_precision`, eq. 1), times the brevity penalty (:func:`brevity_penalty`,
  section 2.2.2) on the corpus totals; with the smoothing methods of Chen & Cherry, "A
  Systematic Comparison of Smoothing Techniques for Sentence-Level BLEU" (WMT 2014).
* :func:`tokenize_13a` -- the tokenisation of WMT's ``mteval-v13a.pl`` that sacrebleu uses by
  default (Post, "A Call for Clarity in Reporting BLEU Scores", WMT 2018).
* :func:`rouge_n`, :func:`rouge_l` -- n-gram and longest-common-subsequence overlap (Lin,
  "ROUGE: A Package for Automatic Evaluation of Summaries", 2004, sections 2 and 3.1).
* :func:`distinct_n` (Li et al., "A Diversity-Promoting Objective Function for Neural
  Conversation Models", NAACL 2016) and :func:`self_bleu` (Zhu et al., "Texygen", SIGIR 2018).

Every function works on token lists (``list[str]``); tokenising is the caller's choice, and
that choice moves the scores (chapter 8's tokenisation lab).

Used in: chapter 8.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

Tokens = Sequence[str]

#: The smoothing methods of :func:`bleu` and their number in Chen & Cherry (2014) / nltk.
SMOOTHING = {None: 0, "epsilon": 1, "add-one": 2, "exp": 3, "length": 4}


def _tokens(x: object, name: str) -> list[str]:
    if isinstance(x, str) or not isinstance(x, Sequence):
        raise TypeError(f"{name} must be a list of str tokens (split the text first), "
                        f"got {type(x).__name__}")
    bad = next((t for t in x if not isinstance(t, str)), None)
    if bad is not None:
        raise TypeError(f"{name} must hold str tokens, got a {type(bad).__name__}")
    return list(x)


def _order(n: object, name: str = "n") -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"{name} must be an int >= 1, got {n!r}")
    return n


def ngrams(tokens: Tokens, n: int) -> Counter[tuple[str, ...]]:
    """The multiset of ``n``-grams of ``tokens`` (empty when there are fewer than n tokens)."""
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def _max_counts(references: Sequence[Tokens], n: int) -> Counter[tuple[str, ...]]:
    """For each n-gram, its largest count in any one reference."""
    most: Counter[tuple[str, ...]] = Counter()
    for ref in references:
        most |= ngrams(_tokens(ref, "reference"), n)  # | keeps the maximum count
    return most


def _clip(hypothesis: Tokens, most: Counter[tuple[str, ...]], n: int) -> tuple[int, int]:
    hyp = ngrams(_tokens(hypothesis, "hypothesis"), n)
    return sum(min(c, most[g]) for g, c in hyp.items()), sum(hyp.values())


def modified_precision(hypothesis: Tokens, references: Sequence[Tokens], n: int
                       ) -> tuple[int, int]:
    """``(clipped matches, hypothesis n-grams)`` of one hypothesis (Papineni 2002, eq. 1):
    each n-gram counts at most as often as it occurs in the one reference that has most of it.
    A corpus sums both parts over its sentences before dividing."""
    return _clip(hypothesis, _max_counts(references, _order(n)), n)


def corpus_precision(hypotheses: Sequence[Tokens], references: Sequence[Sequence[Tokens]],
                     n: int) -> tuple[int, int]:
    """``(clipped matches, hypothesis n-grams)`` of a corpus: :func:`modified_precision`'s two
    counts summed over the sentences (the numerator and denominator of Papineni's ``p_n``).
    ``references[i]`` is the non-empty list of references of ``hypotheses[i]``; one list of
    references shared by every hypothesis is counted once."""
    if isinstance(hypotheses, str) or isinstance(references, str):
        raise TypeError("hypotheses and references must be lists of token lists")
    if len(hypotheses) != len(references):
        raise ValueError(f"got {len(hypotheses)} hypotheses but {len(references)} reference "
                         "lists: one list of references per hypothesis")
    n = _order(n)
    clipped = total = 0
    tables: dict[int, Counter[tuple[str, ...]]] = {}  # one max-count table per reference list
    for hyp, refs in zip(hypotheses, references, strict=True):
        if isinstance(refs, str) or len(refs) == 0 or isinstance(refs[0], str):
            raise TypeError("each entry of references must be a non-empty list of token lists")
        if id(refs) not in tables:
            tables[id(refs)] = _max_counts(refs, n)
        m, t = _clip(hyp, tables[id(refs)], n)
        clipped, total = clipped + m, total + t
    return clipped, total


def closest_reference_length(references: Sequence[Tokens], hyp_len: int) -> int:
    """The reference length closest to ``hyp_len``; a tie goes to the shorter one
    (mteval-v13a, nltk and sacrebleu agree on this)."""
    return min((len(r) for r in references), key=lambda r: (abs(r - hyp_len), r))


def brevity_penalty(hyp_len: int, ref_len: int) -> float:
    """``1`` if ``hyp_len > ref_len``, else ``exp(1 - ref_len / hyp_len)`` (0 for an empty
    hypothesis); applied once to the corpus totals, not per sentence (Papineni 2002, 2.2.2)."""
    if hyp_len > ref_len:
        return 1.0
    return 0.0 if hyp_len == 0 else math.exp(1 - ref_len / hyp_len)


def corpus_brevity_penalty(hypotheses: Sequence[Tokens], references: Sequence[Sequence[Tokens]]
                           ) -> float:
    """The brevity penalty of a corpus: :func:`brevity_penalty` of the total hypothesis length
    and the sum, over sentences, of the reference length closest to each hypothesis."""
    if len(hypotheses) != len(references):
        raise ValueError(f"got {len(hypotheses)} hypotheses but {len(references)} reference lists")
    hyp_len = sum(len(h) for h in hypotheses)
    ref_len = sum(closest_reference_length(r, len(h)) for h, r in zip(hypotheses, references,
                                                                       strict=True))
    return brevity_penalty(hyp_len, ref_len)


def _smoothed(matches: list[int], totals: list[int], smooth: str | None,
              hyp_len: int) -> list[float]:
    """The n-gram precisions after smoothing (Chen & Cherry 2014, methods 0-4)."""
    out, k = [], 1
    for n, (m, t) in enumerate(zip(matches, totals, strict=True), start=1):
        if t == 0:  # no n-grams of this order at all: nothing to smooth, precision 0
            out.append(0.0)
        elif smooth == "add-one" and n > 1:  # method 2: add 1 to both counts for n > 1
            out.append((m + 1) / (t + 1))
        elif m > 0 or smooth is None:
            out.append(m / t)
        elif smooth == "epsilon":  # method 1: a small count instead of zero
            out.append(0.1 / t)
        elif smooth == "exp":  # method 3 (NIST, sacrebleu's default): halve for each zero
            k *= 2
            out.append(1 / (k * t))
        elif smooth == "length":  # method 4: like exp, larger for longer hypotheses
            k *= 2
            out.append(1 / (k * 5 / math.log(hyp_len)) / t if hyp_len > 1 else 0.0)
        else:  # "add-one" at n == 1 with no matches
            out.append(0.0)
    return out


def bleu(hypotheses: Sequence[Tokens], references: Sequence[Sequence[Tokens]], max_n: int = 4,
         smooth: str | None = None) -> float:
    """Corpus BLEU in [0, 1]: ``BP * exp(sum_n (1 / max_n) log p_n)`` (Papineni 2002, 2.3).

    ``hypotheses[i]`` is a token list and ``references[i]`` the list of its reference token
    lists (at least one). ``p_n`` sums the clipped matches and the n-gram counts over the
    whole corpus before dividing; the brevity penalty compares the total hypothesis length
    with the sum of each sentence's closest reference length. ``smooth`` (Chen & Cherry
    2014): ``None`` (BLEU is 0 once any order has no match), ``"epsilon"`` (0.1 matches
    instead of 0), ``"add-one"`` (+1 to the counts of every order n > 1), ``"exp"`` (the k-th
    zero becomes ``1 / (2^k * total)``, sacrebleu's default) or ``"length"`` (method 4).
    Equals nltk's ``corpus_bleu`` with methods 0-4 whenever every hypothesis has at least
    ``max_n`` tokens; nltk counts a shorter one as 1 n-gram (``max(1, count)``).
    """
    max_n = _order(max_n, "max_n")
    if smooth not in SMOOTHING:
        raise ValueError(f"smooth must be one of {list(SMOOTHING)}, got {smooth!r}")
    if isinstance(hypotheses, str) or isinstance(references, str):
        raise TypeError("hypotheses and references must be lists of token lists")
    if len(hypotheses) != len(references):
        raise ValueError(f"got {len(hypotheses)} hypotheses but {len(references)} reference "
                         "lists: one list of references per hypothesis")
    if len(hypotheses) == 0:
        raise ValueError("hypotheses is empty")
    matches, totals = zip(*(corpus_precision(hypotheses, references, n)
                            for n in range(1, max_n + 1)), strict=True)
    if matches[0] == 0:
        return 0.0
    precisions = _smoothed(matches, totals, smooth, sum(len(h) for h in hypotheses))
    if min(precisions) == 0.0:
        return 0.0
    log_mean = math.fsum(math.log(p) for p in precisions) / max_n
    return corpus_brevity_penalty(hypotheses, references) * math.exp(log_mean)


# mteval-v13a's language-independent rules, in order: punctuation and symbols become their
# own tokens; a period or comma is split off unless it sits between digits; a dash after a
# digit is split off.
_RULES_13A = [
    (re.compile(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])"), r" \1 "),
    (re.compile(r"([^0-9])([\.,])"), r"\1 \2 "),
    (re.compile(r"([\.,])([^0-9])"), r" \1 \2"),
    (re.compile(r"([0-9])(-)"), r"\1 \2 "),
]


def tokenize_13a(line: str) -> list[str]:
    """Tokens of ``line`` by WMT's mteval-v13a rules, as sacrebleu's default ``"13a"``
    tokenizer: punctuation split from words (``"don't"`` -> ``don ' t``), except a period
    or comma inside a number (``3.5``, ``1,000``); case is kept."""
    if not isinstance(line, str):
        raise TypeError(f"line must be a str, got {type(line).__name__}")
    line = line.replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    for entity, char in (("&quot;", '"'), ("&amp;", "&"), ("&lt;", "<"), ("&gt;", ">")):
        line = line.replace(entity, char)
    line = f" {line} "
    for pattern, repl in _RULES_13A:
        line = pattern.sub(repl, line)
    return line.split()


def _prf(overlap: int, hyp_count: int, ref_count: int) -> dict[str, float]:
    p = overlap / hyp_count if hyp_count else 0.0
    r = overlap / ref_count if ref_count else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}


def rouge_n(hypothesis: Tokens, reference: Tokens, n: int = 2) -> dict[str, float]:
    """ROUGE-N (Lin 2004, section 2): the n-grams the two share (clipped counts), over the
    hypothesis's n-grams (precision) and the reference's (recall), and their F1."""
    hyp = ngrams(_tokens(hypothesis, "hypothesis"), _order(n))
    ref = ngrams(_tokens(reference, "reference"), n)
    return _prf(sum((hyp & ref).values()), sum(hyp.values()), sum(ref.values()))


def lcs_length(a: Tokens, b: Tokens) -> int:
    """Length of the longest common subsequence of ``a`` and ``b`` (dynamic programming,
    O(len(a) len(b)) time, O(len(b)) memory)."""
    row = [0] * (len(b) + 1)
    for x in a:
        diagonal = 0  # row[j - 1] of the previous row
        for j, y in enumerate(b, start=1):
            diagonal, row[j] = row[j], diagonal + 1 if x == y else max(row[j], row[j - 1])
    return row[-1]


def rouge_l(hypothesis: Tokens, reference: Tokens) -> dict[str, float]:
    """ROUGE-L (Lin 2004, section 3.1, with beta = 1): the longest common subsequence over
    the hypothesis length (precision) and the reference length (recall), and their F1.
    In-order matches count even when they are not contiguous."""
    hyp, ref = _tokens(hypothesis, "hypothesis"), _tokens(reference, "reference")
    return _prf(lcs_length(hyp, ref), len(hyp), len(ref))


def distinct_n(samples: Sequence[Tokens], n: int = 2) -> float:
    """Distinct-n (Li et al. 2016): distinct n-grams over all n-grams in ``samples``
    (1 when no n-gram repeats, near 0 when the samples repeat each other)."""
    counts: Counter[tuple[str, ...]] = Counter()
    for i, s in enumerate(samples):
        counts.update(ngrams(_tokens(s, f"samples[{i}]"), _order(n)))
    total = sum(counts.values())
    if total == 0:
        raise ValueError(f"the samples contain no {n}-grams")
    return len(counts) / total


def self_bleu(samples: Sequence[Tokens], max_n: int = 4, smooth: str | None = "epsilon"
              ) -> float:
    """Self-BLEU (Zhu et al. 2018): the mean BLEU of each sample against all the others as
    references. High means the samples resemble each other: low diversity."""
    if len(samples) < 2:
        raise ValueError(f"self_bleu needs at least 2 samples, got {len(samples)}")
    scores = [bleu([s], [[o for j, o in enumerate(samples) if j != i]], max_n, smooth)
              for i, s in enumerate(samples)]
    return math.fsum(scores) / len(scores)
