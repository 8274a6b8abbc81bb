"""A new task for the chapter 3 TinyLang GPT: name who a sentence is about.

Stand-in data for chapter 7 while TinyChat (the course's instruction-following model) is not
available: the shipped ``tinygpt-tinylang`` only ever saw TinyLang sentences, one per line.
The new task writes a question after a sentence, ``"\\n<sentence> who "``, whose answer is the
sentence's subject noun and a full stop (``"queen.\\n"``); the newline ends the answer. The
model's old task, TinyLang itself, keeps its exact entropy floor, so forgetting is measured
against an exact truth. For preference tuning, a *verbose* answer repeats the whole noun
phrase (``"the red queen."``) and a *wrong* one names another agent.

Used in: chapter 7.
"""

from __future__ import annotations

import random

from genai_course.data.tinylang import AGENTS, TinyLang
from genai_course.llm.tokenizers import CharTokenizer

#: Every agent noun of TinyLang.
AGENT_WORDS: tuple[str, ...] = tuple(w for words in AGENTS.values() for w in words)
#: What follows a sentence to ask the question.
QUESTION = " who "


def subject(sentence: str) -> str:
    """The sentence's subject: its first agent noun (TinyLang sentences start with the
    subject's noun phrase, ``the [colour] agent``)."""
    for word in sentence.rstrip(".").split():
        if word in AGENT_WORDS:
            return word
    raise ValueError(f"no TinyLang agent in {sentence!r}")


def noun_phrase(sentence: str) -> str:
    """The subject's noun phrase as written (``"the red queen"``)."""
    words = sentence.rstrip(".").split()
    end = words.index(subject(sentence))
    return " ".join(words[:end + 1])


def who_prompt(sentence: str) -> str:
    """The question about ``sentence``: ``"\\n" + sentence + " who "``."""
    return "\n" + sentence + QUESTION


def who_answers(sentence: str, rng: random.Random | None = None) -> dict[str, str]:
    """The ``concise`` (right), ``verbose`` (right, the whole noun phrase) and ``wrong``
    (another agent, drawn with ``rng``) answers, each ending with ``".\\n"``."""
    right = subject(sentence)
    others = [w for w in AGENT_WORDS if w != right]
    wrong = (rng or random.Random(sentence)).choice(others)
    return {"concise": f"{right}.\n", "verbose": f"{noun_phrase(sentence)}.\n",
            "wrong": f"{wrong}.\n"}


def who_sentences(language: TinyLang, split: str, n: int) -> list[str]:
    """The first ``n`` sentences of ``language``'s ``split`` (``train`` / ``test``)."""
    return language.text(split, n).splitlines()


def encode_pair(tokenizer: CharTokenizer, prompt: str, answer: str
                ) -> tuple[list[int], list[int]]:
    """``(prompt ids, answer ids)``."""
    return tokenizer.encode(prompt), tokenizer.encode(answer)
