"""Retrieval (chapter 9): BM25 against the formula written out by hand and against the
``bm25s`` library's Lucene variant; recall@k and reciprocal rank fusion on hand-made cases;
the dense retriever's loss against its definition, and that training makes it retrieve."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from genai_course.applications import BM25
from genai_course.applications.pydocs import QUERIES, REPEATED_TOPICS, pydoc_passages
from genai_course.applications.retrieval import (
    DenseIndex,
    HashedEncoder,
    bm25_term_weight,
    contrastive_loss,
    evaluate_recall,
    hashed_features,
    inverse_cloze_pairs,
    recall_at_k,
    reciprocal_rank_fusion,
    tokenize,
    top_k,
    train_dense_encoder,
)

CORPUS = [
    "the cat sat on the mat",
    "the dog sat on the log and the dog slept",
    "a cat and a dog and a cat",
    "birds fly south in winter",
    "the the the the the cat",
]


def brute_force_bm25(docs, query, k1, b):
    """Robertson & Zaragoza (2009) with Lucene's IDF, one loop per document and term."""
    n = len(docs)
    avgdl = sum(len(d) for d in docs) / n
    out = []
    for d in docs:
        score = 0.0
        for term in query:
            df = sum(term in other for other in docs)
            tf = d.count(term)
            if tf == 0:
                continue
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            score += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len(d) / avgdl))
        out.append(score)
    return np.array(out)


@pytest.mark.parametrize(("k1", "b"), [(1.5, 0.75), (1.2, 0.0), (0.9, 1.0), (2.0, 0.3)])
@pytest.mark.parametrize("query", ["cat", "the dog", "cat cat sat", "winter unknown", "zebra"])
def test_bm25_matches_the_formula_written_out(k1, b, query):
    docs = [tokenize(t) for t in CORPUS]
    got = BM25(docs, k1=k1, b=b).scores(tokenize(query))
    assert got.dtype == np.float64 and got.shape == (len(docs),)
    np.testing.assert_allclose(got, brute_force_bm25(docs, tokenize(query), k1, b), rtol=1e-12)


@pytest.mark.parametrize(("k1", "b"), [(1.5, 0.75), (1.2, 0.5)])
def test_bm25_matches_bm25s_lucene_up_to_its_dropped_constant(k1, b):
    """``bm25s`` (method="lucene") implements Lucene's BM25, which leaves out the factor
    k1 + 1 of the term-frequency part; that constant changes no ranking."""
    bm25s = pytest.importorskip("bm25s")
    passages = pydoc_passages()[:300]
    docs = [tokenize(p.text) for p in passages]
    ref = bm25s.BM25(method="lucene", k1=k1, b=b)
    ref.index(docs, show_progress=False)
    ours = BM25(docs, k1=k1, b=b)
    for query, _ in QUERIES[:15]:
        q = [t for t in tokenize(query) if t in ours.vocab]
        if not q:
            continue
        np.testing.assert_allclose(ours.scores(q) / (k1 + 1),
                                   ref.get_scores(q), rtol=1e-5, atol=1e-6)


def test_term_weight_function_and_the_class_agree_and_a_custom_weight_is_used():
    docs = [tokenize(t) for t in CORPUS]
    plain = BM25(docs)
    custom = BM25(docs, term_weight=bm25_term_weight)
    for query in ["cat", "the dog sat", "dog dog"]:
        np.testing.assert_allclose(custom.scores(tokenize(query)),
                                   plain.scores(tokenize(query)), rtol=1e-12)
    counting = BM25(docs, term_weight=lambda tf, *rest: float(tf))
    np.testing.assert_array_equal(counting.scores(["the"]), [2.0, 3.0, 0.0, 0.0, 5.0])


def test_term_weight_known_values_and_properties():
    # N = 4, n = 1: idf = ln(1 + 3.5 / 1.5); an average-length document: tf (k1+1)/(tf+k1)
    idf = math.log(1 + 3.5 / 1.5)
    assert bm25_term_weight(1, 1, 10, 10.0, 4) == pytest.approx(idf * 2.5 / 2.5)
    assert bm25_term_weight(3, 1, 10, 10.0, 4) == pytest.approx(idf * 3 * 2.5 / 4.5)
    assert bm25_term_weight(0, 1, 10, 10.0, 4) == 0.0
    # a term in every document still has a positive (Lucene) idf; longer documents weigh less
    assert bm25_term_weight(1, 4, 10, 10.0, 4) > 0
    assert bm25_term_weight(2, 1, 30, 10.0, 4) < bm25_term_weight(2, 1, 5, 10.0, 4)
    # saturation: the weight approaches idf (k1 + 1) as tf grows
    assert bm25_term_weight(10**6, 1, 10, 10.0, 4) == pytest.approx(idf * 2.5, rel=1e-5)
    with pytest.raises(ValueError, match="df"):
        bm25_term_weight(1, 5, 10, 10.0, 4)
    with pytest.raises(TypeError, match="tf"):
        bm25_term_weight(1.5, 1, 10, 10.0, 4)


def test_bm25_rejects_strings_where_tokens_are_expected():
    with pytest.raises(TypeError, match="tokenize"):
        BM25(["a plain string"])
    with pytest.raises(TypeError, match="tokenize"):
        BM25([["a"], ["b"]]).scores("a")
    with pytest.raises(ValueError, match="non-empty"):
        BM25([])
    with pytest.raises(ValueError, match="b must"):
        BM25([["a"]], b=1.5)


def test_recall_at_k_on_hand_made_cases():
    ranked = ["d3", "d1", "d7", "d2", "d9"]
    assert recall_at_k(ranked, {"d1"}, 1) == 0.0
    assert recall_at_k(ranked, {"d1"}, 2) == 1.0
    assert recall_at_k(ranked, {"d1", "d2"}, 3) == 0.5
    assert recall_at_k(ranked, {"d1", "d2"}, 4) == 1.0
    assert recall_at_k(ranked, {"d1", "d8"}, 100) == 0.5  # k beyond the ranking
    assert evaluate_recall([ranked, ["d2", "d1"]], [{"d3"}, {"d1"}], 1) == 0.5
    with pytest.raises(ValueError, match="relevant"):
        recall_at_k(ranked, set(), 3)
    with pytest.raises(ValueError, match="k"):
        recall_at_k(ranked, {"d1"}, 0)


def test_reciprocal_rank_fusion_on_a_hand_made_case():
    # a: 1/61 + 1/62, b: 1/62 + 1/61, c: 1/63, d: 1/63 -> a and b tie (a first seen)
    assert reciprocal_rank_fusion([[0, 1, 2], [1, 0, 3]]) == [0, 1, 2, 3]
    # an item ranked first by one list and absent from the other loses to one ranked
    # second by both: 2/62 > 1/61
    assert reciprocal_rank_fusion([[5, 7], [6, 7]])[0] == 7
    assert top_k(np.array([0.1, 0.5, 0.5, 0.2]), 3) == [1, 2, 3]


def test_contrastive_loss_is_the_cross_entropy_of_the_similarity_matrix():
    g = torch.Generator().manual_seed(0)
    q = torch.nn.functional.normalize(torch.randn(5, 8, generator=g, dtype=torch.float64), dim=1)
    p = torch.nn.functional.normalize(torch.randn(5, 8, generator=g, dtype=torch.float64), dim=1)
    sims = (q @ p.T).numpy() / 0.1
    want = np.mean([np.log(np.exp(sims[i]).sum()) - sims[i, i] for i in range(5)])
    assert contrastive_loss(q, p, 0.1).item() == pytest.approx(want, rel=1e-12)


def test_hashed_features_are_stable_and_share_trigrams():
    a, b = hashed_features("Cat", 1000), hashed_features("cats", 1000)
    assert torch.equal(a, hashed_features("cat", 1000))  # same in every call and process
    assert a.tolist()[:1] != b.tolist()[:1]  # different words
    assert len(set(a.tolist()[1:]) & set(b.tolist()[1:])) >= 2  # "#ca", "cat"


def test_training_teaches_the_dense_retriever_to_find_the_passage_of_a_sentence(one_thread):
    passages = [p.text for p in pydoc_passages()[:150]]
    pairs = inverse_cloze_pairs(passages, per_passage=3, seed=0)
    assert len(pairs) > 200
    assert sum(q in p for q, p in pairs) < 0.3 * len(pairs)  # the query is mostly cut out
    # held-out check: one new sentence per passage, the passage without it as the target
    queries, targets = zip(*inverse_cloze_pairs(passages, per_passage=1, keep=0.0, seed=99),
                           strict=True)

    def top1(encoder):
        index = DenseIndex(encoder, targets)
        return np.mean([index.rank(q, 1)[0] == i for i, q in enumerate(queries)])

    before = top1(HashedEncoder(n_buckets=2**12, dim=32, seed=0))
    trained = HashedEncoder(n_buckets=2**12, dim=32, seed=0)
    history = train_dense_encoder(trained, pairs, steps=200, batch_size=32, lr=5e-3,
                                  progress=False)
    assert history.smoothed("loss", 20) < history["loss"][0] / 2
    assert top1(trained) > before + 0.1


def test_pydoc_corpus_and_labelled_queries():
    passages = pydoc_passages()
    topics = {p.topic for p in passages}
    assert len(passages) > 300 and not topics & set(REPEATED_TOPICS)
    assert all(p.text.startswith(p.title) for p in passages)
    assert len(QUERIES) >= 40
    for query, labels in QUERIES:
        assert labels <= topics, (query, labels - topics)
