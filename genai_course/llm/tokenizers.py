"""Tokenizers: characters, and byte-pair encoding learned from text.

* :class:`CharTokenizer` — one id per character of a fixed alphabet.
* :func:`merge_most_frequent` — one training step of BPE on one sequence.
* :class:`BPETokenizer` — byte-level byte-pair encoding (Sennrich et al. 2016; GPT-2,
  Radford et al. 2019): start from the 256 byte values of the UTF-8 text and repeatedly
  merge the most frequent adjacent pair into a new token. Any string encodes (its bytes are
  always in the vocabulary), and ``decode(encode(s)) == s``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

#: GPT-2-style pre-tokenisation: merges never cross these chunks (a letter run, a digit
#: run, a punctuation run or underscores, each with at most one leading space; whitespace).
#: The alternatives cover every character, so the chunks concatenate back to the text.
CHUNK_RE = re.compile(r" ?[^\W\d_]+| ?\d+| ?[^\s\w]+| ?_+|\s+(?!\S)|\s+")


class CharTokenizer:
    """Characters of ``alphabet`` <-> ids ``0 .. len(alphabet) - 1`` (in sorted order).
    Characters outside the alphabet cannot be encoded (a ``ValueError`` names them)."""

    def __init__(self, alphabet: Iterable[str]) -> None:
        chars = sorted(set(alphabet))
        if not chars or any(len(c) != 1 for c in chars):
            raise ValueError("alphabet must be a non-empty collection of single characters")
        self.chars = chars
        self.index = {c: i for i, c in enumerate(chars)}

    @classmethod
    def train(cls, text: str) -> CharTokenizer:
        """A tokenizer for the characters that occur in ``text``."""
        return cls(text)

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        try:
            return [self.index[c] for c in text]
        except KeyError as exc:
            raise ValueError(f"character {exc.args[0]!r} is not in the tokenizer's alphabet")\
                from None

    def decode(self, ids: Iterable[int]) -> str:
        return "".join(self.chars[int(i)] for i in ids)


def pair_counts(ids: Sequence[int], counts: Counter[tuple[int, int]] | None = None,
                weight: int = 1) -> Counter[tuple[int, int]]:
    """Count adjacent pairs ``(ids[i], ids[i + 1])``, each occurrence adding ``weight``,
    into ``counts`` (a new Counter by default)."""
    counts = Counter() if counts is None else counts
    for pair in zip(ids, ids[1:], strict=False):
        counts[pair] += weight
    return counts


def merge(ids: Sequence[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Replace each occurrence of ``pair`` in ``ids``, scanning left to right without
    overlaps, by ``new_id`` (``merge([5, 5, 5], (5, 5), 9) == [9, 5]``)."""
    out: list[int] = []
    i = 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def most_frequent_pair(counts: Counter[tuple[int, int]]) -> tuple[int, int]:
    """The pair with the largest count; ties go to the smallest pair, so the merges do not
    depend on the order the pairs were counted in."""
    return min(counts, key=lambda pair: (-counts[pair], pair))


def merge_most_frequent(ids: Sequence[int], new_id: int) -> tuple[tuple[int, int], list[int]]:
    """One step of BPE training on one sequence: :func:`most_frequent_pair` and ``ids`` with
    it merged into ``new_id`` (Sennrich et al. 2016, algorithm 1)."""
    best = most_frequent_pair(pair_counts(ids))
    return best, merge(ids, best, new_id)


class BPETokenizer:
    """Byte-level BPE. ``merges[r] = ((a, b), 256 + r)``: the ``r``-th merge made the pair
    ``(a, b)`` into token ``256 + r``; ``vocab[t]`` are the bytes of token ``t``."""

    def __init__(self, merges: Sequence[tuple[tuple[int, int], int]] = ()) -> None:
        self.merges = [((int(a), int(b)), int(t)) for (a, b), t in merges]
        self.vocab = {i: bytes([i]) for i in range(256)}
        self.ranks: dict[tuple[int, int], int] = {}
        for rank, (pair, token) in enumerate(self.merges):
            if token != 256 + rank or not all(t in self.vocab for t in pair):
                raise ValueError(f"merge {rank} must build token {256 + rank} from known "
                                 f"tokens, got {pair} -> {token}")
            self.vocab[token] = self.vocab[pair[0]] + self.vocab[pair[1]]
            self.ranks[pair] = rank
        self._cache: dict[str, list[int]] = {}

    @classmethod
    def train(cls, text: str, vocab_size: int) -> BPETokenizer:
        """Learn ``vocab_size - 256`` merges from ``text``: split it into chunks
        (:data:`CHUNK_RE`), then repeatedly merge the most frequent adjacent pair within the
        chunks (ties go to the smallest pair); stop early when no pair occurs twice."""
        if vocab_size < 256:
            raise ValueError(f"vocab_size must be >= 256 (the bytes), got {vocab_size}")
        chunks = Counter(CHUNK_RE.findall(text))
        words = [list(w.encode("utf-8")) for w in chunks]
        freq = list(chunks.values())
        counts: Counter[tuple[int, int]] = Counter()
        where: dict[tuple[int, int], set[int]] = {}  # pair -> chunks that (may) hold it
        for w, ids in enumerate(words):
            pair_counts(ids, counts, freq[w])
            for pair in zip(ids, ids[1:], strict=False):
                where.setdefault(pair, set()).add(w)
        merges: list[tuple[tuple[int, int], int]] = []
        for token in range(256, vocab_size):
            if not counts:
                break
            best = most_frequent_pair(counts)
            if counts[best] < 2:
                break
            merges.append((best, token))
            for w in where.pop(best):  # update the counts of the chunks that change only
                old_ids, words[w] = words[w], merge(words[w], best, token)
                counts.subtract(pair_counts(old_ids, weight=freq[w]))
                counts.update(pair_counts(words[w], weight=freq[w]))
                for pair in zip(words[w], words[w][1:], strict=False):
                    where.setdefault(pair, set()).add(w)
            counts = +counts  # drop the pairs that no longer occur
        return cls(merges)

    @property
    def vocab_size(self) -> int:
        return 256 + len(self.merges)

    def _encode_chunk(self, chunk: str) -> list[int]:
        if chunk not in self._cache:
            ids = list(chunk.encode("utf-8"))
            while len(ids) > 1:  # apply the earliest-learned merge present, as in training
                pairs = zip(ids, ids[1:], strict=False)
                pair = min(pairs, key=lambda p: self.ranks.get(p, len(self.ranks)))
                if pair not in self.ranks:
                    break
                ids = merge(ids, pair, 256 + self.ranks[pair])
            self._cache[chunk] = ids
        return self._cache[chunk]

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` (any string)."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        return [t for chunk in CHUNK_RE.findall(text) for t in self._encode_chunk(chunk)]

    def decode(self, ids: Iterable[int]) -> str:
        """The text of ``ids``; invalid UTF-8 (a sequence cut inside a character) becomes
        U+FFFD."""
        return b"".join(self.vocab[int(i)] for i in ids).decode("utf-8", errors="replace")

    def token_strings(self, ids: Iterable[int]) -> list[str]:
        """Each token as text (for display)."""
        return [self.vocab[int(i)].decode("utf-8", errors="replace") for i in ids]


def chars_per_token(tokenizer: CharTokenizer | BPETokenizer, text: str) -> float:
    """Compression: characters of ``text`` per token."""
    return len(text) / max(1, len(tokenizer.encode(text)))
