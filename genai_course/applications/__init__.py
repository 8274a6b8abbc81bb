"""Applications of generative models, measured (chapter 9).

* :mod:`~genai_course.applications.retrieval` -- BM25, a dense retriever, their hybrid,
  recall@k: the retrieval half of retrieval-augmented generation;
* :mod:`~genai_course.applications.rag` -- the retrieval-augmented prompt within a budget;
* :mod:`~genai_course.applications.pydocs` -- Python's own documentation as a search corpus;
* :mod:`~genai_course.applications.augmentation` -- synthetic digits as training data;
* :mod:`~genai_course.applications.levels` -- game levels and their playability;
* :mod:`~genai_course.applications.music` -- melodies, their statistics and their sound;
* :mod:`~genai_course.applications.codegen` -- programs from specifications, run by tests;
* :mod:`~genai_course.applications.sequences` -- the small GPTs that write levels, tunes
  and programs;
* :mod:`~genai_course.applications.serving` and :mod:`~genai_course.applications.costs` --
  throughput, latency and what a token costs;
* :mod:`~genai_course.applications.display` -- level viewer and piano roll.

Used in: chapter 9.
"""

from genai_course.applications.costs import break_even_tokens, cost_per_million_tokens
from genai_course.applications.levels import level_report, shortest_path
from genai_course.applications.music import melody_report, pitch_class_histogram, synthesize
from genai_course.applications.rag import build_rag_prompt
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

__all__ = ["BM25", "DenseIndex", "HashedEncoder", "bm25_term_weight", "break_even_tokens",
           "build_rag_prompt", "cost_per_million_tokens", "level_report", "melody_report",
           "pitch_class_histogram", "recall_at_k", "reciprocal_rank_fusion", "shortest_path",
           "synthesize", "tokenize", "train_dense_encoder"]
