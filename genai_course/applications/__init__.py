"""Applications of generative models, measured (chapter 9).

* :mod:`~genai_course.applications.retrieval` -- BM25, a dense retriever, their hybrid,
  recall@k: the retrieval half of retrieval-augmented generation;
* :mod:`~genai_course.applications.pydocs` -- Python's own documentation as a search corpus.

Used in: chapter 9.
"""

from genai_course.applications.retrieval import (
    BM25,
    DenseIndex,
    HashedEncoder,
    bm25_term_weight,
    recall_at_k,
    reciprocal_rank_fusion,
    tokenize,
    train_dense_encoder,
)

__all__ = ["BM25", "DenseIndex", "HashedEncoder", "bm25_term_weight", "recall_at_k",
           "reciprocal_rank_fusion", "tokenize", "train_dense_encoder"]
