"""Retrieval-augmented generation: the prompt that puts retrieved passages before a question.

:func:`build_rag_prompt` writes the prompt format TinyChat is trained on for reading
questions (``Context:``, one passage per line, ``Question: ...``; Lewis et al. 2020 feed
retrieved passages to the generator the same way, as text before the question), keeping
passages in rank order while the whole prompt fits a token budget: a model's context window
is finite, so retrieval is always followed by a choice of what fits.

:func:`rag_study` measures a chat model's answers with and without retrieval, beside an
extractive reader (:func:`read_off`) that only copies a value from the first passage: it
separates failures of the retriever from failures of the generator.

Used in: chapter 9.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence

from genai_course.core.checks import check_int
from genai_course.data import tasks
from genai_course.llm.chat import ChatModel


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


def read_off(prompt: str, choices: Sequence[str]) -> str:
    """The extractive baseline: of the valid answers ``choices``, the one that appears first
    (as a whole word) after ``Context:`` in ``prompt``; ``""`` when none does."""
    context = prompt.split("\nQuestion: ")[0]
    found = [(m.start(), c) for c in choices
             if (m := re.search(rf"\b{re.escape(c)}\b", context, re.IGNORECASE))]
    return min(found)[1] if found else ""


def rag_study(chat: ChatModel, items: Sequence[tasks.Item], gold: Sequence[str],
              corpus: Sequence[str], rank: Callable[[str, int], list[int]],
              build_prompt: Callable[[str, Sequence[str], int], str] = build_rag_prompt,
              budget: int = 400, ks: Sequence[int] = (1, 3), seed: int = 0) -> list[dict]:
    """Greedy answers of ``chat`` to the questions ``items`` (whose right passages are
    ``gold``) under each condition: closed book; the top ``k`` passages of ``corpus`` by
    ``rank(question, k)``, packed by ``build_prompt`` within ``budget``; the right passage
    alone; a wrong passage (another item's right passage) before the right one. Each row:
    ``accuracy`` by the task's checker, ``confident_wrong`` (a valid answer that is wrong),
    ``gold_in_prompt`` and the extractive baseline's ``read_off_accuracy`` on the same
    prompts."""
    if len(gold) != len(items):
        raise ValueError(f"gold has {len(gold)} passages for {len(items)} items")
    rng = random.Random(seed)
    wrong = [rng.choice([g for g in gold if g != right]) for right in gold]
    conditions: dict[str, list[str]] = {"closed book": [it.prompt for it in items]}
    for k in ks:
        conditions[f"top {k} retrieved"] = [
            build_prompt(it.prompt, [corpus[i] for i in rank(it.prompt, k)], budget)
            for it in items]
    conditions["the right passage alone"] = [rag_prompt(it.prompt, [g])
                                             for it, g in zip(items, gold, strict=True)]
    conditions["a wrong passage first"] = [rag_prompt(it.prompt, [w, g])
                                           for it, g, w in zip(items, gold, wrong, strict=True)]
    rows = []
    for name, prompts in conditions.items():
        replies = chat.answer_many([[{"role": "user", "content": p}] for p in prompts],
                                   max_tokens=40)
        right = [tasks.check(it, r) for it, r in zip(items, replies, strict=True)]
        valid = [tasks.parse_answer(r, it.kind) in {c.lower() for c in it.choices or ()}
                 for it, r in zip(items, replies, strict=True)]
        n = len(items)
        rows.append(dict(
            condition=name, accuracy=sum(right) / n,
            confident_wrong=sum(v and not r for v, r in zip(valid, right, strict=True)) / n,
            gold_in_prompt=sum(g in p for g, p in zip(gold, prompts, strict=True)) / n,
            read_off_accuracy=sum(tasks.check(it, read_off(p, it.choices or ()))
                                  for it, p in zip(items, prompts, strict=True)) / n))
    return rows
