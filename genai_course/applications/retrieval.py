"""Retrieval for retrieval-augmented generation: BM25, a small dense retriever, their hybrid.

* :func:`tokenize` -- lower-case word tokens, the unit every retriever here counts;
* :class:`BM25` -- Okapi BM25 as Robertson & Zaragoza (2009, eq. 3.15) write it, with the
  IDF of Lucene, ``ln(1 + (N - n + 0.5) / (n + 0.5))``, which is never negative (the
  classic Robertson-Sparck Jones IDF is negative for terms in more than half the documents).
  The weight of a term in a document is :func:`bm25_term_weight`; Lucene (since version 8)
  leaves out the constant factor ``k1 + 1``, which changes no ranking;
* :class:`HashedEncoder` -- a dense encoder in the style of DSSM (Huang et al. 2013): words
  and their letter trigrams, hashed into buckets, averaged and projected to a unit vector;
  :func:`train_dense_encoder` trains it contrastively on (query, passage) pairs with
  in-batch negatives (the InfoNCE loss of DPR, Karpukhin et al. 2020);
  :class:`DenseIndex` scores passages by cosine similarity;
* :func:`reciprocal_rank_fusion` -- the hybrid of several rankings (Cormack, Clarke &
  Buettcher 2009: ``sum_r 1 / (60 + rank_r)``);
* :func:`recall_at_k` and :func:`evaluate_recall` -- the share of relevant items found in the
  top ``k``;
* :func:`inverse_cloze_pairs` -- training pairs from raw text alone (Lee et al. 2019): a
  sentence is the query, the rest of its passage the positive.

Used in: chapter 9.
"""

from __future__ import annotations

import math
import random
import re
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from scipy import sparse
from torch import nn

from genai_course.core.checks import check_int, check_number
from genai_course.core.train import History, fit
from genai_course.runtime import seeded

_WORD = re.compile(r"[a-z0-9_]+")


def tokenize(text: str) -> list[str]:
    """Lower-case runs of letters, digits and underscores: ``"The __init__() call"`` ->
    ``["the", "__init__", "call"]``."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return _WORD.findall(text.lower())


def lucene_idf(n_docs: int, df: int) -> float:
    """Lucene's BM25 IDF ``ln(1 + (N - n + 0.5) / (n + 0.5))`` of a term found in ``df`` of
    ``n_docs`` documents."""
    return math.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))


def bm25_term_weight(tf: int, df: int, doc_len: int, avg_doc_len: float, n_docs: int,
                     k1: float = 1.5, b: float = 0.75) -> float:
    """The BM25 weight of one query term in one document (Robertson & Zaragoza 2009):

    ``idf * tf (k1 + 1) / (tf + k1 (1 - b + b doc_len / avg_doc_len))`` with Lucene's IDF.
    ``tf`` is the term's count in the document, ``df`` the number of documents containing it.
    """
    tf, df = check_int(tf, "tf"), check_int(df, "df")
    n_docs, doc_len = check_int(n_docs, "n_docs", 1), check_int(doc_len, "doc_len")
    avg_doc_len = check_number(avg_doc_len, "avg_doc_len", positive=True)
    if df > n_docs:
        raise ValueError(f"df ({df}) cannot exceed n_docs ({n_docs})")
    if tf == 0:
        return 0.0
    norm = k1 * (1.0 - b + b * doc_len / avg_doc_len)
    return lucene_idf(n_docs, df) * tf * (k1 + 1.0) / (tf + norm)


#: The signature of a term-weight function: (tf, df, doc_len, avg_doc_len, n_docs, k1, b).
TermWeight = Callable[[int, int, int, float, int, float, float], float]


class BM25:
    """Okapi BM25 over a corpus of tokenised documents.

    ``BM25(corpus_tokens, k1=1.5, b=0.75).scores(query_tokens)`` is a float64 array with one
    score per document: the sum over the query's tokens (a repeated token counts again) of
    :func:`bm25_term_weight`. ``term_weight`` swaps in another weight function of the same
    signature (the notebook passes the one you write); the default is computed vectorised.
    """

    def __init__(self, corpus_tokens: Sequence[Sequence[str]], k1: float = 1.5,
                 b: float = 0.75, term_weight: TermWeight | None = None) -> None:
        if isinstance(corpus_tokens, str) or not len(corpus_tokens):
            raise ValueError("corpus_tokens must be a non-empty list of token lists")
        self.k1 = check_number(k1, "k1")
        self.b = check_number(b, "b")
        if self.b > 1:
            raise ValueError(f"b must be in [0, 1], got {b}")
        self.term_weight = term_weight
        self.vocab: dict[str, int] = {}
        rows, cols, counts = [], [], []
        for i, doc in enumerate(corpus_tokens):
            if isinstance(doc, str):
                raise TypeError(f"document {i} is a str; pass lists of tokens (tokenize it)")
            for term, count in Counter(doc).items():
                rows.append(i)
                cols.append(self.vocab.setdefault(term, len(self.vocab)))
                counts.append(count)
        self.n_docs = len(corpus_tokens)
        #: term frequencies, one column per term (compressed by column: fast postings)
        self.tf = sparse.csc_matrix((np.asarray(counts, dtype=np.float64), (rows, cols)),
                                    shape=(self.n_docs, max(len(self.vocab), 1)))
        self.doc_len = np.array([len(doc) for doc in corpus_tokens], dtype=np.float64)
        self.avg_doc_len = float(self.doc_len.mean()) or 1.0
        self.df = np.diff(self.tf.indptr)
        self.idf = np.log1p((self.n_docs - self.df + 0.5) / (self.df + 0.5))

    def scores(self, query_tokens: Sequence[str]) -> np.ndarray:
        """One BM25 score per document (float64, shape ``(n_docs,)``)."""
        if isinstance(query_tokens, str):
            raise TypeError("query_tokens must be a list of tokens, not a str (tokenize it)")
        out = np.zeros(self.n_docs)
        for term in query_tokens:
            col = self.vocab.get(term)
            if col is None:
                continue
            start, end = self.tf.indptr[col], self.tf.indptr[col + 1]
            docs, tf = self.tf.indices[start:end], self.tf.data[start:end]
            if self.term_weight is None:
                norm = self.k1 * (1 - self.b + self.b * self.doc_len[docs] / self.avg_doc_len)
                out[docs] += self.idf[col] * tf * (self.k1 + 1) / (tf + norm)
            else:
                df = int(self.df[col])
                for d, f in zip(docs, tf, strict=True):
                    out[d] += self.term_weight(int(f), df, int(self.doc_len[d]),
                                               self.avg_doc_len, self.n_docs, self.k1, self.b)
        return out

    def rank(self, query_tokens: Sequence[str], k: int | None = None) -> list[int]:
        """Document indices by decreasing score (ties: lower index first), the top ``k``."""
        return top_k(self.scores(query_tokens), k)


def top_k(scores: np.ndarray, k: int | None = None) -> list[int]:
    """Indices of ``scores`` from the highest down (stable: ties keep index order)."""
    order = np.argsort(-np.asarray(scores), kind="stable")
    return [int(i) for i in (order if k is None else order[:k])]


def recall_at_k(ranked: Sequence[object], relevant: Iterable[object], k: int) -> float:
    """Share of the ``relevant`` items that appear among the first ``k`` of ``ranked``."""
    k = check_int(k, "k", 1)
    relevant = set(relevant)
    if not relevant:
        raise ValueError("relevant must contain at least one item")
    return len(relevant.intersection(ranked[:k])) / len(relevant)


def evaluate_recall(rankings: Sequence[Sequence[object]],
                    relevant: Sequence[Iterable[object]], k: int,
                    recall: Callable[[Sequence[object], Iterable[object], int], float]
                    = recall_at_k) -> float:
    """Mean recall@``k`` over queries (one ranking and one relevant set per query)."""
    if len(rankings) != len(relevant) or not rankings:
        raise ValueError("need one ranking per relevant set, and at least one query")
    return float(np.mean([recall(r, rel, k) for r, rel in zip(rankings, relevant, strict=True)]))


def reciprocal_rank_fusion(rankings: Sequence[Sequence[int]], k: int = 60) -> list[int]:
    """Fuse rankings of the same items: ``score(d) = sum_r 1 / (k + rank_r(d))`` with ranks
    from 1 (Cormack, Clarke & Buettcher 2009); items missing from a ranking get nothing
    from it. Returns the items by decreasing fused score (ties: first seen first)."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(fused, key=lambda item: -fused[item])


# --------------------------------------------------------------------------- dense retrieval


def _bucket(feature: str, n_buckets: int) -> int:
    return zlib.crc32(feature.encode()) % n_buckets


def hashed_features(text: str, n_buckets: int) -> torch.Tensor:
    """Bucket ids (int64) of ``text``'s words and of their letter trigrams (with ``#``
    marking the word's ends, as in DSSM's word hashing): ``"cat"`` -> ``w:cat``, ``#ca``,
    ``cat``, ``at#``. CRC32 makes the buckets the same in every process."""
    ids = []
    for word in tokenize(text):
        ids.append(_bucket("w:" + word, n_buckets))
        padded = f"#{word}#"
        ids.extend(_bucket(padded[i:i + 3], n_buckets) for i in range(len(padded) - 2))
    return torch.tensor(ids or [0], dtype=torch.int64)


class HashedEncoder(nn.Module):
    """Text -> unit vector: the mean of the hashed features' embeddings, then a linear map.
    The same encoder embeds queries and passages (a "siamese" bi-encoder)."""

    def __init__(self, n_buckets: int = 2**14, dim: int = 64, seed: int | None = None) -> None:
        super().__init__()
        self.n_buckets = check_int(n_buckets, "n_buckets", 1)
        with seeded(seed):
            self.embed = nn.EmbeddingBag(n_buckets, dim, mode="mean")
            nn.init.normal_(self.embed.weight, 0.0, 0.1)
            self.proj = nn.Linear(dim, dim, bias=False)

    def features(self, texts: Sequence[str] | Sequence[torch.Tensor]
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        """The flat bucket ids and the offsets of each text (EmbeddingBag's input); a text
        may also be given as its precomputed :func:`hashed_features`."""
        ids = [hashed_features(t, self.n_buckets) if isinstance(t, str) else t for t in texts]
        offsets = torch.tensor([0] + [len(x) for x in ids[:-1]]).cumsum(0)
        return torch.cat(ids), offsets

    def forward(self, ids: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.proj(self.embed(ids, offsets)), dim=-1)

    @torch.no_grad()
    def encode(self, texts: Sequence[str], batch_size: int = 256) -> torch.Tensor:
        """Unit vectors ``(len(texts), dim)`` for ``texts``."""
        was_training = self.training
        self.eval()
        out = [self(*self.features(texts[i:i + batch_size]))
               for i in range(0, len(texts), batch_size)]
        self.train(was_training)
        return torch.cat(out)


def contrastive_loss(queries: torch.Tensor, passages: torch.Tensor,
                     temperature: float = 0.05) -> torch.Tensor:
    """InfoNCE with in-batch negatives: row ``i`` of ``queries`` should pick passage ``i``
    among all the batch's passages (Karpukhin et al. 2020, eq. 2; van den Oord et al. 2018)."""
    logits = queries @ passages.T / temperature
    return F.cross_entropy(logits, torch.arange(len(queries), device=logits.device))


def train_dense_encoder(encoder: HashedEncoder, pairs: Sequence[tuple[str, str]], *,
                        steps: int, batch_size: int = 64, lr: float = 3e-3,
                        temperature: float = 0.05, seed: int = 0,
                        progress: bool | None = None) -> History:
    """Train ``encoder`` on (query, positive passage) pairs with :func:`contrastive_loss`:
    each batch's other passages are the negatives."""
    if len(pairs) < 2:
        raise ValueError("need at least two (query, passage) pairs")
    # hashing is the slow part: do it once, not once per step
    queries = [hashed_features(q, encoder.n_buckets) for q, _ in pairs]
    passages = [hashed_features(p, encoder.n_buckets) for _, p in pairs]

    def loss_fn(index: torch.Tensor) -> torch.Tensor:
        rows = index.tolist()
        q = encoder(*encoder.features([queries[i] for i in rows]))
        p = encoder(*encoder.features([passages[i] for i in rows]))
        return contrastive_loss(q, p, temperature)

    return fit(encoder, loss_fn, torch.arange(len(pairs)), steps=steps, batch_size=batch_size,
               seed=seed, lr=lr, desc="dense retriever", progress=progress)


class DenseIndex:
    """Passages embedded once by ``encoder``; ``scores(query)`` is the cosine similarity of
    the query's embedding to each passage's."""

    def __init__(self, encoder: HashedEncoder, passages: Sequence[str]) -> None:
        self.encoder = encoder
        self.vectors = encoder.encode(list(passages))

    def scores(self, query: str) -> np.ndarray:
        return (self.vectors @ self.encoder.encode([query])[0]).double().numpy()

    def rank(self, query: str, k: int | None = None) -> list[int]:
        return top_k(self.scores(query), k)


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def inverse_cloze_pairs(passages: Sequence[str], per_passage: int = 2, keep: float = 0.1,
                        seed: int = 0) -> list[tuple[str, str]]:
    """The inverse cloze task (Lee, Chang & Toutanova 2019): from each passage of at least
    three sentences draw ``per_passage`` sentences as pseudo-queries, paired with the passage
    without that sentence (with it, with probability ``keep``, so that word overlap still
    counts for something)."""
    rng = random.Random(seed)
    pairs = []
    for text in passages:
        sentences = [s for s in _SENTENCE_END.split(" ".join(text.split())) if len(s) > 20]
        if len(sentences) < 3:
            continue
        for i in rng.sample(range(len(sentences)), min(per_passage, len(sentences))):
            rest = sentences if rng.random() < keep else sentences[:i] + sentences[i + 1:]
            pairs.append((sentences[i], " ".join(rest)))
    return pairs
