"""An MMLU-style multiple-choice harness that scores one model three ways, and its items.

The same model on the same questions gets different scores depending on how the answer is
read off (the reason one model's MMLU score differs between implementations; Hendrycks et
al., "Measuring Massive Multitask Language Understanding", ICLR 2021; Biderman et al.,
"Lessons from the Trenches on Reproducible Evaluation of Language Models", 2024):

* ``"full"`` -- the log-likelihood of each full answer after the question (the choice with
  the highest wins; lm-evaluation-harness's ``acc``), ``"full_norm"`` the same per character
  (``acc_norm``): a base model that never saw the format can answer;
* ``"letter"`` -- the choices are listed with letters, and the model's log-probability of each
  letter after ``answer`` decides (the original MMLU code);
* ``"generate"`` -- the model writes a few characters and the first letter it writes is its
  answer; anything else is wrong (how chat models are usually scored).

A tie between the best choices earns the expected credit of a random pick among them, so a
model that cannot tell the choices apart scores chance, not the position of the answer.

:func:`agreement_items` builds questions from TinyLang with an exact checker: complete a
sentence, where every wrong choice changes one word so that the grammar cannot produce the
sentence (a verb's number, a pronoun, a noun's number: the agreement phenomena of BLiMP,
Warstadt et al. 2020). :func:`recall_items` asks instead what a given text said: every choice
is grammatical, so only a model that has seen the text can know the answer (a test of
memory, and so of contamination). :func:`world_items` asks TinyWorld's closed-book questions
(the task world's ``fact`` family) with four values of the asked attribute as choices: about
the people whose biographies TinyChat was trained on, or about the held-back people no model
here has seen.

Used in: chapter 8.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from genai_course.core.checks import check_int
from genai_course.data import tasks, tinylang
from genai_course.evaluation.language_models import TextModel

LETTERS = "abcd"
METHODS = ("full", "full_norm", "letter", "generate")


@dataclass(frozen=True)
class MCItem:
    """A question, its choices and the index of the right one."""

    question: str
    choices: tuple[str, ...]
    answer: int

    def __post_init__(self) -> None:
        if not 2 <= len(self.choices) <= len(LETTERS):
            raise ValueError(f"an item needs 2 to {len(LETTERS)} choices, got {len(self.choices)}")
        if not 0 <= self.answer < len(self.choices):
            raise ValueError(f"answer must index the choices, got {self.answer}")


def letter_prompt(item: MCItem) -> str:
    """The lettered form of an item (lower-case letters and no colon, so that a model of
    TinyLang's alphabet can read it)::

        the kings who see the ball
        a run near the river.
        b runs near the river.
        answer
    """
    lines = [item.question] + [f"{LETTERS[i]} {c}" for i, c in enumerate(item.choices)]
    return "\n".join(lines) + "\nanswer "


def _credit(scores: Sequence[float], answer: int) -> float:
    """1 if the answer scores strictly best, 1/m if it ties with m - 1 others, else 0."""
    s = np.asarray(scores, dtype=np.float64)
    best = np.flatnonzero(s == s.max())
    return 1.0 / len(best) if answer in best else 0.0


def score_methods(model: TextModel, items: Sequence[MCItem], methods: Sequence[str] = METHODS
                  ) -> dict[str, np.ndarray]:
    """Credit in [0, 1] for each item under each of ``methods`` (see :data:`METHODS`); the
    two full-answer methods share one pass over the choices."""
    bad = [m for m in methods if m not in METHODS]
    if bad:
        raise ValueError(f"method must be one of {METHODS}, got {bad[0]!r}")
    out: dict[str, np.ndarray] = {}
    if "generate" in methods:
        replies = model.generate([letter_prompt(it) for it in items], max_chars=3)
        picked = [next((ch for ch in r if not ch.isspace()), "") for r in replies]
        out["generate"] = np.array([float(p == LETTERS[it.answer])
                                    for p, it in zip(picked, items, strict=True)])
    if "letter" in methods:
        pairs = [(letter_prompt(it), LETTERS[i]) for it in items for i in range(len(it.choices))]
        out["letter"] = _credits(model.logprobs(pairs), items)
    if "full" in methods or "full_norm" in methods:
        flat = model.logprobs([(it.question, " " + c) for it in items for c in it.choices])
        lengths = [len(" " + c) for it in items for c in it.choices]
        if "full" in methods:
            out["full"] = _credits(flat, items)
        if "full_norm" in methods:
            out["full_norm"] = _credits([s / n for s, n in zip(flat, lengths, strict=True)],
                                        items)
    return {m: out[m] for m in methods}


def score_items(model: TextModel, items: Sequence[MCItem], method: str = "full") -> np.ndarray:
    """Credit in [0, 1] for each item under ``method`` (one of :data:`METHODS`)."""
    return score_methods(model, items, [method])[method]


def _credits(flat: Sequence[float], items: Sequence[MCItem]) -> np.ndarray:
    """Per-item credit from the choices' scores, listed item after item."""
    credits, pos = [], 0
    for it in items:
        credits.append(_credit(flat[pos:pos + len(it.choices)], it.answer))
        pos += len(it.choices)
    return np.array(credits)


def accuracy(credits: np.ndarray) -> tuple[float, float]:
    """Mean credit and its standard error (binomial-style, ``std / sqrt(n)``)."""
    c = np.asarray(credits, dtype=np.float64)
    return float(c.mean()), float(c.std(ddof=1) / np.sqrt(len(c))) if len(c) > 1 else 0.0


def _twins() -> dict[str, list[str]]:
    """For each agreeing word, the words of the same kind that agree differently."""
    out: dict[str, list[str]] = {}
    for table in (tinylang.TRANSITIVE, tinylang.INTRANSITIVE):
        for sg, pl in zip(table["sg"], table["pl"], strict=True):
            out[sg], out[pl] = [pl], [sg]
    for sg, pl in zip(tinylang.OBJECTS["it"], tinylang.OBJECTS["them"], strict=True):
        out[sg], out[pl] = [pl], [sg]
    out["it"], out["them"] = ["them"], ["it"]
    singular = tinylang.AGENTS["he"] + tinylang.AGENTS["she"]
    for sg, pl in zip(singular, tinylang.AGENTS["they"], strict=True):
        out[sg], out[pl] = [pl], [sg]
    for pronoun in ("he", "she", "they"):
        out[pronoun] = [p for p in ("he", "she", "they") if p != pronoun]
    return out


def _swap_items(n_items: int, split: str, n_choices: int, seed: int,
                language: tinylang.TinyLang | None, grammatical: bool, kind: str) -> list[MCItem]:
    """Items from the sentences of ``split``: the start of a sentence, its true rest, and
    ``n_choices - 1`` rests with one word swapped for one of its ``_twins`` (agreement) or
    ``_siblings`` (same class and agreement), kept when the exact grammar rejects them
    (``grammatical=False``) or accepts them (``True``)."""
    check_int(n_items, "n_items", 1)
    language = language or tinylang.TinyLang(0)
    swaps = _siblings() if grammatical else _twins()
    rng = random.Random(f"{kind}-{seed}-{split}")
    items: list[MCItem] = []
    for sentence in language.text(split, 50 * n_items).splitlines():
        words = sentence[:-1].split(" ")
        cuts = list(range(2, len(words)))
        rng.shuffle(cuts)
        for cut in cuts:
            rest = words[cut:]
            wrong = set()
            for i, w in enumerate(rest):
                for other in swaps.get(w, []):
                    variant = " ".join(rest[:i] + [other] + rest[i + 1:]) + "."
                    full = " ".join(words[:cut]) + " " + variant
                    if (language.log_prob(full) > float("-inf")) == grammatical:
                        wrong.add(variant)
            if len(wrong) >= n_choices - 1:
                choices = rng.sample(sorted(wrong), n_choices - 1)
                answer = rng.randrange(n_choices)
                choices.insert(answer, " ".join(rest) + ".")
                items.append(MCItem(" ".join(words[:cut]), tuple(choices), answer))
                break
        if len(items) == n_items:
            return items
    raise ValueError(f"found only {len(items)} items with {n_choices} choices")


def agreement_items(n_items: int, split: str = "test", n_choices: int = 4, seed: int = 0,
                    language: tinylang.TinyLang | None = None) -> list[MCItem]:
    """``n_items`` sentence-completion items from TinyLang's ``split`` text (see the module
    docstring): the question is the start of a sentence, the right choice its true rest,
    each wrong choice the rest with one agreeing word swapped so that the exact grammar
    gives the sentence probability 0. The right answer's position is random."""
    return _swap_items(n_items, split, n_choices, seed, language, False, "agreement")


def _siblings() -> dict[str, list[str]]:
    """For each content word, the other words of its class with the same agreement."""
    groups = [tinylang.COLOURS, *tinylang.OBJECTS.values(), *tinylang.TRANSITIVE.values(),
              *tinylang.INTRANSITIVE.values(), *tinylang.AGENTS.values()]
    return {w: [o for o in group if o != w] for group in groups for w in group}


def recall_items(n_items: int, split: str = "test", n_choices: int = 4, seed: int = 0,
                 language: tinylang.TinyLang | None = None) -> list[MCItem]:
    """``n_items`` items asking what TinyLang's ``split`` text said: the start of one of its
    sentences, its true rest, and rests with one word swapped for another of the same class
    (a colour, an object, a verb, an agent) that the exact grammar accepts, so every choice
    is a correct sentence and only memory of the text tells them apart."""
    return _swap_items(n_items, split, n_choices, seed, language, True, "recall")


def world_items(n_items: int, people: str = "trained", n_choices: int = 4, seed: int = 0
                ) -> list[MCItem]:
    """``n_items`` closed-book questions about TinyWorld's ``people`` (``"trained"`` or
    ``"held_back"``) from the task world's test split (phrasings never trained on), each with
    the right value and ``n_choices - 1`` other values of the same attribute, shuffled."""
    rng = random.Random(f"world/{seed}")
    out = []
    for item in tasks.generate("fact", n_items, seed=seed, split="test", people=people):
        others = rng.sample([v for v in item.choices if v != item.answer], n_choices - 1)
        choices = [item.answer, *others]
        rng.shuffle(choices)
        out.append(MCItem(item.prompt, tuple(choices), choices.index(item.answer)))
    return out
