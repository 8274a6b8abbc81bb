"""A new task for the chapter 3 TinyLang GPT: repeat the last word of a sentence.

Stand-in data for chapter 7 while TinyChat (the course's instruction-following model) is not
shipped: the shipped ``tinygpt-tinylang`` only ever saw TinyLang sentences, one per line.
The new task writes a question after a sentence, ``"\\n<sentence> last "``, whose answer is the
sentence's last word and a full stop (``"river.\\n"``); the newline ends the answer. The
model's old task, TinyLang itself, keeps its exact entropy floor, so forgetting is measured
against an exact truth. For preference tuning, a *verbose* answer wraps the right word in a
sentence (``"the last word is river."``) and a *wrong* one names another word of the sentence.

(A first version asked for the sentence's subject, ``"the red queen ..." -> "queen."``: a
4-layer character model needs far more than the 150 steps a 2-core CPU affords to learn to
fetch a word from the start of a long sentence, so it stayed near guessing.)

Used in: chapter 7.
"""

from __future__ import annotations

import math
import random

import torch

from genai_course.data.tinylang import TinyLang
from genai_course.finetune.instruction import greedy_answers
from genai_course.llm.tinylang_lm import floor_report
from genai_course.llm.tokenizers import CharTokenizer

#: What follows a sentence to ask the question.
QUESTION = " last "


def last_word(sentence: str) -> str:
    """The sentence's last word, without the full stop."""
    words = sentence.rstrip(".").split()
    if not words:
        raise ValueError(f"no words in {sentence!r}")
    return words[-1]


def question_prompt(sentence: str) -> str:
    """The question about ``sentence``: ``"\\n" + sentence + " last "``."""
    return "\n" + sentence + QUESTION


def question_answers(sentence: str, rng: random.Random | None = None) -> dict[str, str]:
    """The ``concise`` (right), ``verbose`` (right, in a sentence) and ``wrong`` (another word
    of the sentence, drawn with ``rng``) answers, each ending with ``".\\n"``."""
    right = last_word(sentence)
    others = sorted({w for w in sentence.rstrip(".").split() if w not in (right, "the")})
    if not others:
        raise ValueError(f"{sentence!r} has no other word to give as a wrong answer")
    wrong = (rng or random.Random(sentence)).choice(others)
    return {"concise": f"{right}.\n", "verbose": f"the last word is {right}.\n",
            "wrong": f"{wrong}.\n"}


def task_sentences(language: TinyLang, split: str, n: int) -> list[str]:
    """The first ``n`` sentences of ``language``'s ``split`` (``train`` / ``test``)."""
    return language.text(split, n).splitlines()


def encode_pair(tokenizer: CharTokenizer, prompt: str, answer: str
                ) -> tuple[list[int], list[int]]:
    """``(prompt ids, answer ids)``."""
    return tokenizer.encode(prompt), tokenizer.encode(answer)


class LastWordTask:
    """The new task and the old one, as token ids for a model with ``tokenizer``:
    ``train_examples(n, style)`` (prompt and answer ids; ``style`` ``"concise"``,
    ``"verbose"`` or a ``{style: share}`` mix), held-out ``test`` sentences, and the scores
    :meth:`new_task_accuracy` and :meth:`old_task_scores`."""

    def __init__(self, tokenizer: CharTokenizer, language: TinyLang | None = None,
                 n_test: int = 200, n_validation: int = 50) -> None:
        self.tokenizer = tokenizer
        self.language = language or TinyLang(0)
        self.stop_id = tokenizer.encode("\n")[0]
        self.test = task_sentences(self.language, "test", n_test)
        self.validation_text = self.language.text("validation", n_validation)

    def train_examples(self, n: int, style: str | dict[str, float] = "concise", seed: int = 0
                       ) -> list[tuple[list[int], list[int]]]:
        """``n`` training pairs from the language's train split, answered in ``style``."""
        mix = {style: 1.0} if isinstance(style, str) else dict(style)
        rng = random.Random(seed)
        styles, weights = list(mix), list(mix.values())
        return [encode_pair(self.tokenizer, question_prompt(s),
                            question_answers(s)[rng.choices(styles, weights)[0]])
                for s in task_sentences(self.language, "train", n)]

    def preference_pairs(self, sentences: list[str], seed: int = 0
                         ) -> list[tuple[list[int], list[int], list[int]]]:
        """``(prompt, concise right answer, rejected)`` per sentence; the rejected answer is
        the verbose one or a wrong one, half each."""
        rng = random.Random(seed)
        pairs = []
        for s in sentences:
            answers = question_answers(s, rng)
            rejected = answers["verbose"] if rng.random() < 0.5 else answers["wrong"]
            prompt, chosen = encode_pair(self.tokenizer, question_prompt(s), answers["concise"])
            pairs.append((prompt, chosen, self.tokenizer.encode(rejected)))
        return pairs

    def answers(self, model: torch.nn.Module, sentences: list[str] | None = None) -> list[str]:
        """The model's greedy answers (text before the newline) to the test questions."""
        sentences = self.test if sentences is None else sentences
        prompts = [self.tokenizer.encode(question_prompt(s)) for s in sentences]
        ids = greedy_answers(model, prompts, max_new_tokens=20, stop_id=self.stop_id)
        return [self.tokenizer.decode(a) for a in ids]

    def new_task_accuracy(self, model: torch.nn.Module) -> float:
        """The share of test questions answered exactly ``"<last word>."``."""
        replies = self.answers(model)
        return sum(r == f"{last_word(s)}." for r, s in zip(replies, self.test, strict=True)) \
            / len(self.test)

    @torch.no_grad()
    def old_task_scores(self, model: torch.nn.Module, samples: int = 64, seed: int = 0
                        ) -> dict[str, float]:
        """TinyLang, the old task: the validation loss as a multiple of the exact entropy
        floor (:func:`~genai_course.llm.tinylang_lm.floor_report`), and the share of
        ``samples`` sentences sampled at temperature 1 that are grammatical TinyLang."""
        ratio = floor_report(model, self.language, self.validation_text)["ratio_to_floor"]
        device = next(model.parameters()).device
        start = torch.full((samples, 1), self.stop_id, device=device)
        out = model.generate(start, self.language.max_chars(), temperature=1.0,
                             generator=torch.Generator(device).manual_seed(seed))
        good = 0
        for row in out[:, 1:].tolist():
            text = self.tokenizer.decode(row).split("\n")[0]
            good += math.isfinite(self.language.log_prob(text)) if text else 0
        return {"floor_ratio": ratio, "grammatical": good / samples}
