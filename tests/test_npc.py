"""Non-player characters: the sheets say what the world says (or what a rewrite says), and
the study's bookkeeping is checked on two fake models whose behaviour is known: one that reads
the sheet and one that only remembers the training biographies."""

from __future__ import annotations

import re

import pytest

from genai_course.applications.npc import KINDS, npc_items, npc_study
from genai_course.data import tasks
from genai_course.data.tinyworld import default_world


def test_sheets_state_the_answer_and_rewrites_change_it():
    world = default_world()
    for kind in KINDS:
        items = npc_items(kind, 40, seed=1)
        for it in items:
            person = world.person(it.meta["person"])
            assert person.split == ("held_back" if kind == "held_back" else "trained")
            assert re.search(rf"\b{re.escape(it.answer)}\b", it.system)  # the sheet says it
            assert tasks.check(it, f"{it.answer}.")
            true = person.value(it.meta["attribute"])
            if kind == "rewritten":
                assert it.answer != true and it.meta["memory"] == true
            else:
                assert it.answer == true
                assert it.meta["memory"] == (None if kind == "held_back" else true)
    assert npc_items("trained", 5, seed=2) == npc_items("trained", 5, seed=2)
    with pytest.raises(ValueError, match="kind must be one of"):
        npc_items("villain", 3)


class Reader:
    """Answers with the sheet's value (reads it off the system prompt by the item)."""

    def __init__(self, items_by_system):
        self.items = items_by_system

    def answer_many(self, conversations, max_tokens):
        return [self.items[c[0]["content"], c[1]["content"]].answer for c in conversations]


class Memoriser(Reader):
    """Answers from the training biographies; knows nothing of held-back people."""

    def answer_many(self, conversations, max_tokens):
        out = []
        for c in conversations:
            memory = self.items[c[0]["content"], c[1]["content"]].meta["memory"]
            out.append(memory if memory is not None else "I do not know.")
        return out


def test_study_counts_sheet_and_memory_answers_on_known_models():
    items = {(it.system, it.prompt): it for kind in KINDS for it in npc_items(kind, 30)}
    reader = {r["kind"]: r for r in npc_study(Reader(items), n=30)}
    memoriser = {r["kind"]: r for r in npc_study(Memoriser(items), n=30)}
    for kind in KINDS:
        assert reader[kind]["agrees_with_sheet"] == 1.0
        assert reader[kind]["agrees_with_memory"] == 0.0
        assert 0 < reader[kind]["chance"] < 0.2
    assert memoriser["trained"]["agrees_with_sheet"] == 1.0
    assert memoriser["held_back"]["agrees_with_sheet"] == 0.0
    assert memoriser["rewritten"]["agrees_with_sheet"] == 0.0
    assert memoriser["rewritten"]["agrees_with_memory"] == 1.0


def test_tinychat_stays_in_character_only_where_the_sheet_matches_its_memory(one_thread):
    """The shipped TinyChat (a measured failure the chapter reports): a rewritten character
    gets its old facts back."""
    from genai_course.pretrained.tinychat import load_chat

    rows = {r["kind"]: r for r in npc_study(load_chat(), n=30, kinds=("trained", "rewritten"))}
    assert rows["trained"]["agrees_with_sheet"] >= 0.8
    assert rows["rewritten"]["agrees_with_sheet"] <= 0.2
    assert rows["rewritten"]["agrees_with_memory"] >= 0.7
