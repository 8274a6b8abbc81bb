"""Text corpora that work offline: real English from Python's help, and a toy Markov chain.

* :func:`python_docs_sentences`: tokenized sentences from the text of Python's ``help()``
  topics, which ships with every Python (``pydoc_data.topics``).
* :class:`MarkovChainCorpus`: sentences sampled from a small first-order Markov chain with a
  known transition table, so a fitted bigram model can be compared with the truth.
"""

from __future__ import annotations

import functools
import math
import random
import re
from collections.abc import Mapping, Sequence

import numpy as np

from genai_course.classic.ngram import BOS, EOS, sample_index

# Lowercased tokens: numbers with dots ("3.12"), words with internal apostrophes or hyphens
# ("don't", "built-in", "__init__"), or a single punctuation mark.
_TOKEN_RE = re.compile(r"\d+(?:\.\d+)+|\w+(?:'\w+)*(?:-\w+)*|[^\w\s]")
_UNDERLINE_RE = re.compile(r"^\s*([*=\-~^+])\1{2,}\s*$")  # "*****" under a heading
_BULLET_RE = re.compile(r"^(?:[*-]|\d+\.)\s+")
_SENTENCE_END_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def tokenize(text: str) -> list[str]:
    """Split ``text`` into lowercase word, number and punctuation tokens.

    Curly apostrophes are normalised to ``'``. For example
    ``tokenize("Python's built-in len() returns 3.")`` is
    ``["python's", "built-in", "len", "(", ")", "returns", "3", "."]``.
    """
    return _TOKEN_RE.findall(text.lower().replace("\u2019", "'"))


def _prose_paragraphs(text: str) -> list[str]:
    """The prose paragraphs of a help topic, each joined into one line.

    Dropped: headings (a line over a ``****``/``====`` underline), code and grammar
    (lines indented 3 or more spaces deeper than the surrounding prose, or containing
    ``>>>``) and tables (lines starting with ``+`` or ``|``). Each bullet item
    (``* ``, ``- ``, ``1. ``) starts a new paragraph, without its marker.
    """
    lines = [*text.splitlines(), "", ""]  # a final blank line flushes the last paragraph
    paragraphs: list[str] = []
    current: list[str] = []
    prose_indent = 0
    for line, next_line in zip(lines, lines[1:], strict=False):
        stripped = line.strip()
        indent = len(line) - len(line.lstrip(" "))
        heading = _UNDERLINE_RE.match(line) or _UNDERLINE_RE.match(next_line)
        code = indent >= prose_indent + 3 or ">>>" in line or stripped.startswith(("+", "|"))
        bullet = _BULLET_RE.match(stripped)
        if not stripped or heading or code or bullet:
            if current:
                paragraphs.append(" ".join(current))
            current = []
            if not bullet or heading or code:
                continue
        if bullet:
            stripped = stripped[bullet.end() :]
            prose_indent = indent + bullet.end()
        else:
            prose_indent = indent
        current.append(stripped)
    return paragraphs


@functools.lru_cache(maxsize=1)
def _python_docs_sentences() -> tuple[tuple[str, ...], ...]:
    from pydoc_data.topics import topics

    sentences = []
    for name in sorted(topics):
        for paragraph in _prose_paragraphs(topics[name]):
            for sentence in _SENTENCE_END_RE.split(paragraph):
                tokens = tokenize(sentence)
                if 3 <= len(tokens) <= 60:
                    sentences.append(tuple(tokens))
    return tuple(sentences)


def python_docs_sentences(max_sentences: int | None = None) -> list[list[str]]:
    """Tokenized English sentences from the text of Python's ``help()`` topics.

    The source is ``pydoc_data.topics.topics`` (topic name -> help text, e.g. *The "if"
    statement is used for conditional execution*), read in sorted topic order. Headings,
    code and tables are dropped, paragraphs are split into sentences after ``.``, ``!`` or
    ``?`` followed by a capital letter, sentences are tokenized with :func:`tokenize`,
    and those with 3 to 60 tokens are kept. Deterministic for a given Python version
    (Python 3.11.7 gives 2,357 sentences, 47,973 tokens); the first ``max_sentences``
    are returned, as fresh lists.
    """
    if max_sentences is not None and max_sentences < 0:
        raise ValueError(f"max_sentences must be >= 0 or None, got {max_sentences}")
    return [list(s) for s in _python_docs_sentences()[:max_sentences]]


# A toy world, as a first-order Markov chain: TRANSITIONS[prev][next] = P(next | prev).
# Every row sums to 1 and every word can reach "</s>", so sentences end with probability 1.
TRANSITIONS: dict[str, dict[str, float]] = {
    BOS: {"the": 0.6, "a": 0.4},
    "the": {"cat": 0.4, "dog": 0.35, "bird": 0.25},
    "a": {"cat": 0.3, "dog": 0.3, "bird": 0.4},
    "cat": {"sat": 0.45, "slept": 0.35, "ran": 0.2},
    "dog": {"ran": 0.45, "sat": 0.25, "slept": 0.3},
    "bird": {"sang": 0.5, "sat": 0.3, "slept": 0.2},
    "sat": {"on": 0.5, "under": 0.2, "quietly": 0.3},
    "ran": {"near": 0.4, "happily": 0.35, EOS: 0.25},
    "slept": {"on": 0.3, "under": 0.2, "quietly": 0.3, EOS: 0.2},
    "sang": {"happily": 0.5, "near": 0.2, EOS: 0.3},
    "on": {"my": 1.0},
    "under": {"my": 0.6, "the": 0.4},
    "near": {"the": 0.5, "my": 0.5},
    "my": {"mat": 0.4, "rug": 0.3, "sofa": 0.3},
    "mat": {EOS: 0.7, "and": 0.3},
    "rug": {EOS: 0.7, "and": 0.3},
    "sofa": {EOS: 0.6, "and": 0.4},
    "quietly": {EOS: 0.6, "and": 0.4},
    "happily": {EOS: 0.7, "and": 0.3},
    "and": {"the": 0.6, "a": 0.4},
}


class MarkovChainCorpus:
    """Sentences from a first-order Markov chain that starts in ``<s>`` and stops at ``</s>``.

    ``P(sentence) = prod_i P(w_i | w_{i-1})`` over ``<s> w_1 .. w_m </s>``, so a bigram
    model fitted on enough samples recovers ``transitions``.
    """

    def __init__(self, transitions: Mapping[str, Mapping[str, float]] = TRANSITIONS) -> None:
        self.transitions = {s: dict(sorted(row.items())) for s, row in transitions.items()}
        self.states = sorted(self.transitions)  # <s> and the words; "</s>" is absorbing
        for state, row in self.transitions.items():
            if abs(sum(row.values()) - 1.0) > 1e-9 or min(row.values()) <= 0:
                raise ValueError(f"row {state!r} must hold positive probabilities summing to 1")
            if BOS in row or not set(row) <= set(self.states) | {EOS}:
                raise ValueError(f"row {state!r} leads to an unknown state or back to {BOS!r}")
        if BOS not in self.transitions or EOS in self.transitions:
            raise ValueError(f"transitions need a row for {BOS!r} and none for {EOS!r}")
        ends = {EOS}  # states from which </s> is reachable, grown to a fixed point
        while grown := {
            s for s in self.states if s not in ends and ends & set(self.transitions[s])
        }:
            ends |= grown
        if len(ends) != len(self.states) + 1:
            raise ValueError(f"some states can never reach {EOS!r}: {set(self.states) - ends}")

    def true_bigram_prob(self, token: str, prev: str) -> float:
        """The true ``P(token | prev)`` (0.0 for a transition that cannot happen)."""
        return self.transitions.get(prev, {}).get(token, 0.0)

    def log_prob(self, sentence: Sequence[str]) -> float:
        """The true natural-log probability of ``sentence``, including its ``</s>``."""
        padded = [BOS, *sentence, EOS]
        probs = [
            self.true_bigram_prob(w, prev) for prev, w in zip(padded, padded[1:], strict=False)
        ]
        return sum(math.log(p) for p in probs) if min(probs) > 0 else -math.inf

    def sample_sentences(self, n: int, seed: int = 0) -> list[list[str]]:
        """``n`` sentences (without markers), reproducible: ``random.Random(seed)`` drives an
        inverse-CDF draw over each row's successors in sorted order."""
        rng = random.Random(seed)
        sentences = []
        for _ in range(n):
            sentence: list[str] = []
            state = BOS
            while True:
                row = self.transitions[state]
                state = list(row)[sample_index(list(row.values()), rng.random())]
                if state == EOS:
                    break
                sentence.append(state)
            sentences.append(sentence)
        return sentences

    def _expected_visits(self) -> np.ndarray:
        """Expected visits to each state of ``self.states`` in one sentence, starting at
        ``<s>``: row ``<s>`` of the fundamental matrix ``(I - Q)^-1`` of the absorbing chain."""
        index = {s: i for i, s in enumerate(self.states)}
        q = np.zeros((len(self.states), len(self.states)))
        for state, row in self.transitions.items():
            for nxt, p in row.items():
                if nxt != EOS:
                    q[index[state], index[nxt]] = p
        start = np.zeros(len(self.states))
        start[index[BOS]] = 1.0
        return np.linalg.solve((np.eye(len(self.states)) - q).T, start)

    def expected_length(self) -> float:
        """Expected number of words in a sentence (``</s>`` not counted)."""
        return float(self._expected_visits().sum()) - 1.0  # <s> is visited exactly once

    def expected_sentence_entropy(self) -> float:
        """Exact ``E[-log P(sentence)]`` in nats: the sum over states of expected visits
        times the entropy of that state's row."""
        row_entropy = [
            -sum(p * math.log(p) for p in self.transitions[s].values()) for s in self.states
        ]
        return float(self._expected_visits() @ np.array(row_entropy))

    def entropy_rate(self) -> float:
        """Nats per predicted token (words and ``</s>``): expected sentence entropy over
        expected length + 1. ``exp`` of it is the true model's perplexity on a long corpus."""
        return self.expected_sentence_entropy() / (self.expected_length() + 1.0)
