"""A word-level tokenizer for short captions with a closed vocabulary.

Captions of the shapes world (:mod:`genai_course.data.shapes`) use a few dozen words, so one
id per word keeps every token readable (a cross-attention map per *word*). Ids ``0..3`` are
the specials ``<pad>``, ``<bos>``, ``<eos>`` and ``<unk>``; :meth:`WordTokenizer.batch`
writes ``<bos> words <eos>`` and pads to a fixed length, the input format of the text
encoder (whose feature is read at ``<eos>``, as in CLIP) and of the captioner.

Used in: chapter 5.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import torch

SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")
PAD, BOS, EOS, UNK = range(len(SPECIALS))
_WORD_RE = re.compile(r"[a-z]+")


class WordTokenizer:
    """Words of ``vocabulary`` <-> ids ``4 ..``; anything else is ``<unk>`` (id 3)."""

    def __init__(self, vocabulary: Iterable[str]) -> None:
        words = list(dict.fromkeys(vocabulary))
        if not words or any(not isinstance(w, str) or not _WORD_RE.fullmatch(w) for w in words):
            raise ValueError("vocabulary must be a non-empty collection of lower-case words")
        self.words = list(SPECIALS) + words
        self.index = {w: i for i, w in enumerate(self.words)}

    @property
    def vocab_size(self) -> int:
        return len(self.words)

    @staticmethod
    def split(text: str) -> list[str]:
        """The lower-cased words of ``text`` (punctuation and digits are dropped)."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        return _WORD_RE.findall(text.lower())

    def unknown_words(self, text: str) -> list[str]:
        """The words of ``text`` that the vocabulary lacks (they become ``<unk>``)."""
        return [w for w in self.split(text) if w not in self.index]

    def encode(self, text: str) -> list[int]:
        """``[<bos>, word ids..., <eos>]``."""
        return [BOS] + [self.index.get(w, UNK) for w in self.split(text)] + [EOS]

    def batch(self, texts: Sequence[str], length: int) -> torch.Tensor:
        """A ``(len(texts), length)`` int64 tensor of :meth:`encode` rows padded with
        ``<pad>``; a caption longer than ``length`` raises ``ValueError``."""
        if isinstance(texts, str):
            raise TypeError("texts must be a sequence of strings, not one string")
        out = torch.full((len(texts), length), PAD, dtype=torch.long)
        for row, text in enumerate(texts):
            ids = self.encode(text)
            if len(ids) > length:
                raise ValueError(f"caption {text!r} has {len(ids)} tokens with <bos> and <eos>, "
                                 f"more than the {length} the model reads")
            out[row, :len(ids)] = torch.tensor(ids)
        return out

    def decode(self, ids: Iterable[int]) -> str:
        """The words of ``ids`` up to the first ``<eos>``, without ``<bos>`` and ``<pad>``."""
        words = []
        for i in ids:
            i = int(i)
            if i == EOS:
                break
            if i not in (BOS, PAD):
                words.append(self.words[i])
        return " ".join(words)
