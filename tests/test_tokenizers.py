"""Character and byte-pair-encoding tokenizers: round trips, merges, compression."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genai_course.data.tinylang import TinyLang
from genai_course.llm.tokenizers import (
    CHUNK_RE,
    BPETokenizer,
    CharTokenizer,
    chars_per_token,
    merge,
    merge_most_frequent,
    pair_counts,
)

TEXT = TinyLang(seed=0).text("train", 400)


@pytest.fixture(scope="module")
def bpe() -> BPETokenizer:
    return BPETokenizer.train(TEXT + "Hello, world! 3.14 is pi; __init__ runs.", 600)


def test_char_tokenizer_round_trip_and_errors() -> None:
    tok = CharTokenizer.train("hello world")
    assert tok.chars == sorted(set("hello world")) and tok.vocab_size == 8
    assert tok.decode(tok.encode("low herd")) == "low herd"
    assert tok.encode("eh") == [tok.chars.index("e"), tok.chars.index("h")]
    with pytest.raises(ValueError, match="'z' is not in"):
        tok.encode("zoo")
    with pytest.raises(ValueError, match="single characters"):
        CharTokenizer(["ab"])


def test_pair_counts_and_merge_by_hand() -> None:
    assert pair_counts([1, 2, 1, 2, 3]) == {(1, 2): 2, (2, 1): 1, (2, 3): 1}
    assert pair_counts([7]) == {}
    assert merge([1, 2, 1, 2, 3], (1, 2), 9) == [9, 9, 3]
    assert merge([5, 5, 5], (5, 5), 9) == [9, 5]  # left to right, no overlap
    assert merge([5, 5, 5, 5], (5, 5), 9) == [9, 9]
    assert merge([], (1, 2), 9) == []


def test_bpe_training_follows_the_algorithm() -> None:
    # chunks "aaab" x1 and " aaab"...: the most frequent pair is (a, a)
    tok = BPETokenizer.train("aaab aaab aaab", 259)
    a, b = ord("a"), ord("b")
    assert tok.merges[0] == ((a, a), 256)  # 6 times (chunks "aaab", " aaab", " aaab")
    assert tok.merges[1] == ((a, b), 257)  # 3 times, tied with (256, a): smallest wins
    assert tok.merges[2] == ((256, 257), 258)
    assert tok.vocab[258] == b"aaab"
    assert tok.encode("aaab aa") == [258, ord(" "), 256]
    # ties go to the smallest pair
    assert BPETokenizer.train("abab cdcd", 257).merges[0][0] == (a, b)


def test_bpe_stops_when_nothing_repeats() -> None:
    tok = BPETokenizer.train("abc", 300)
    assert tok.merges == [] and tok.vocab_size == 256


def test_bpe_learns_tinylang_words(bpe: BPETokenizer) -> None:
    ids = bpe.encode("the red king who sees the balls runs.")
    assert bpe.token_strings(ids) == ["the", " red", " king", " who", " sees", " the",
                                      " balls", " runs", "."]
    assert chars_per_token(bpe, TinyLang(seed=0).text("validation", 100)) > 3.5
    assert chars_per_token(CharTokenizer(TEXT), TEXT) == 1.0


def test_bpe_merges_rebuild_the_same_tokenizer(bpe: BPETokenizer) -> None:
    again = BPETokenizer(bpe.merges)
    assert again.encode(TEXT[:500]) == bpe.encode(TEXT[:500])
    with pytest.raises(ValueError, match="merge 0"):
        BPETokenizer([((1, 2), 300)])


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_bpe_round_trips_any_string(bpe: BPETokenizer, text: str) -> None:
    assert "".join(CHUNK_RE.findall(text)) == text
    ids = bpe.encode(text)
    assert all(0 <= i < bpe.vocab_size for i in ids)
    assert bpe.decode(ids) == text


def test_bpe_unseen_characters_fall_back_to_bytes(bpe: BPETokenizer) -> None:
    ids = bpe.encode("é😀")
    assert ids == list("é😀".encode())
    assert bpe.decode(ids) == "é😀"
    assert bpe.decode(ids[:1]) == "\ufffd"  # half a character decodes to U+FFFD
    with pytest.raises(TypeError, match="str"):
        bpe.encode(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="256"):
        BPETokenizer.train("abc", 100)


def naive_bpe_merges(text: str, vocab_size: int) -> list:
    """BPE as in Sennrich et al.'s reference code: recount every pair after every merge."""
    words = {}
    for chunk in CHUNK_RE.findall(text):
        words[chunk] = words.get(chunk, 0) + 1
    seqs = [(list(w.encode()), n) for w, n in words.items()]
    merges = []
    for token in range(256, vocab_size):
        counts: dict = {}
        for ids, n in seqs:
            for pair in zip(ids, ids[1:], strict=False):
                counts[pair] = counts.get(pair, 0) + n
        if not counts or max(counts.values()) < 2:
            break
        best = min(counts, key=lambda p: (-counts[p], p))
        merges.append((best, token))
        seqs = [(merge(ids, best, token), n) for ids, n in seqs]
    return merges


def test_incremental_training_equals_recounting_from_scratch() -> None:
    from pydoc_data.topics import topics

    text = topics["if"] + topics["while"] + "aaaa aaaa aaa " + TEXT[:3000]
    assert BPETokenizer.train(text, 420).merges == naive_bpe_merges(text, 420)


def test_merge_steps_over_separated_chunks_rebuild_the_trained_merges() -> None:
    """Chunks joined by separators that occur once each (so never win a merge): repeating
    one merge step gives the merges of the incremental trainer."""
    text = TEXT[:3000]
    ids: list[int] = []
    for i, chunk in enumerate(CHUNK_RE.findall(text)):
        ids += [*chunk.encode("utf-8"), -1 - i]
    merges = []
    for token in range(256, 286):
        pair, ids = merge_most_frequent(ids, token)
        merges.append((pair, token))
    assert merges == BPETokenizer.train(text, 286).merges
    assert merge_most_frequent([5, 5, 5, 1, 2, 1, 2], 9) == ((1, 2), [5, 5, 5, 9, 9])
