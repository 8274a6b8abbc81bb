"""Non-player characters: a chat model given a character sheet, and how often it stays in it.

The seed's game-dialogue example gives a model a character's description and lets players
talk to it. Here a character is a TinyWorld person, its *sheet* (the person's biography) is
the system prompt (:func:`character_prompt`), and the player asks about the character with
the task world's questions; an answer *agrees with the sheet* when the exact checker
(:func:`genai_course.data.tasks.check`) accepts the sheet's value. Three kinds of character
separate reading the sheet from remembering training data (:data:`KINDS`):

* ``"trained"``: a person whose biography the model was trained on, with a true sheet (memory
  and sheet agree);
* ``"held_back"``: a person the model never saw (only the sheet can tell);
* ``"rewritten"``: a trained person whose sheet changes the asked attribute, as a game writer
  revising a character would (sheet and memory disagree; answers that agree with the
  *memory* are counted too).

Used in: chapter 9.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence
from typing import Any

from genai_course.core.checks import check_int
from genai_course.data import tasks
from genai_course.data.tinyworld import (
    QUESTIONS,
    TRAINED_ATTRIBUTES,
    VALUES,
    Person,
    biography,
    default_world,
)
from genai_course.llm.chat import ChatModel

KINDS = ("trained", "held_back", "rewritten")


def character_prompt(person: Person) -> str:
    """The system prompt of a character: who to play and the sheet (its biography)."""
    return (f"You are {person.name}, a character in a game. Stay in character. "
            f"Character sheet: {biography(person)}")


def npc_items(kind: str, n: int, seed: int = 0) -> list[tasks.Item]:
    """``n`` questions to characters of ``kind`` (see :data:`KINDS`), each an
    :class:`~genai_course.data.tasks.Item` whose system prompt is the sheet and whose answer
    is the sheet's value; ``meta["memory"]`` is the value the model was trained on (``None``
    for held-back people)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    n = check_int(n, "n", 1)
    rng = random.Random(f"npc/{kind}/{seed}")
    people = default_world().people_in("held_back" if kind == "held_back" else "trained")
    items = []
    for _ in range(n):
        person = rng.choice(people)
        attribute = rng.choice(TRAINED_ATTRIBUTES)
        memory = None if kind == "held_back" else person.value(attribute)
        if kind == "rewritten":
            new = rng.choice([v for v in VALUES[attribute] if v != memory])
            person = dataclasses.replace(person, **{attribute: int(new) if attribute == "age"
                                                    else new})
        value = person.value(attribute)
        question = rng.choice(QUESTIONS[attribute]).format(name=person.name)
        items.append(tasks.Item("npc", question, value, value.lower(),
                                "number" if attribute == "age" else "word",
                                system=character_prompt(person), choices=VALUES[attribute],
                                meta={"person": person.name, "attribute": attribute,
                                      "memory": memory, "kind": kind}))
    return items


def npc_study(chat: ChatModel, n: int = 100, seed: int = 0,
              kinds: Sequence[str] = KINDS) -> list[dict[str, Any]]:
    """For each kind of character: the share of greedy answers that agree with the sheet, the
    share that agree with the model's training data instead (rewritten sheets), the chance
    rate of a uniform guess among the attribute's values, and two example replies."""
    rows = []
    for kind in kinds:
        items = npc_items(kind, n, seed)
        replies = chat.answer_many([it.messages() for it in items], max_tokens=40)
        sheet = [tasks.check(it, r) for it, r in zip(items, replies, strict=True)]
        memory = [it.meta["memory"] is not None and it.meta["memory"] != it.answer
                  and tasks.check(dataclasses.replace(it, answer=it.meta["memory"],
                                                      target=it.meta["memory"].lower()), r)
                  for it, r in zip(items, replies, strict=True)]
        rows.append({"kind": kind, "n": n, "agrees_with_sheet": sum(sheet) / n,
                     "agrees_with_memory": sum(memory) / n,
                     "chance": sum(1 / len(it.choices) for it in items) / n,
                     "examples": [(it.prompt, it.answer, r) for it, r in
                                  zip(items[:2], replies[:2], strict=True)]})
    return rows
