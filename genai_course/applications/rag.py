"""Retrieval-augmented generation: the prompt that puts retrieved passages before a question.

:func:`build_rag_prompt` writes the prompt format TinyChat is trained on for reading
questions (``Context:``, one passage per line, ``Question: ...``; Lewis et al. 2020 feed
retrieved passages to the generator the same way, as text before the question), keeping
passages in rank order while the whole prompt fits a token budget: a model's context window
is finite, so retrieval is always followed by a choice of what fits.

Used in: chapter 9.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from genai_course.core.checks import check_int


def rag_prompt(question: str, passages: Sequence[str]) -> str:
    """``"Context:\\n" + passages joined by newlines + "\\nQuestion: " + question``."""
    return "Context:\n" + "\n".join(passages) + "\nQuestion: " + question


def build_rag_prompt(question: str, passages: Sequence[str], budget: int,
                     count_tokens: Callable[[str], int] = len) -> str:
    """The :func:`rag_prompt` of ``question`` with as many of ``passages`` as fit: in rank
    order, a passage is kept when the prompt with it (and the passages kept before it)
    counts at most ``budget`` tokens, and skipped otherwise (a later, shorter one may still
    fit). Tokens are characters by default (TinyChat reads characters); pass a tokenizer's
    ``lambda text: len(tokenizer.encode(text))`` otherwise. Raises ``ValueError`` when even
    the prompt without passages is over budget."""
    budget = check_int(budget, "budget", 1)
    kept: list[str] = []
    if count_tokens(rag_prompt(question, kept)) > budget:
        raise ValueError(f"the question alone needs more than budget={budget} tokens")
    for passage in passages:
        if count_tokens(rag_prompt(question, [*kept, passage])) <= budget:
            kept.append(passage)
    return rag_prompt(question, kept)
