"""Student code is load-bearing: every function an autograded exercise asks for is used by an
ordinary (ungraded) code cell after the exercise's last test cell, so the notebook goes on
with what the student wrote (through ``grading.yours_or_reference`` while it is unsolved)."""

from __future__ import annotations

import ast

import nbformat
import pytest

from genai_course.course import exercises
from genai_course.course import release as rel
from genai_course.course.conventions import exercise_of

from .conftest import ROOT

CHAPTERS = rel.list_chapters(ROOT)


def asked_functions(answer: str) -> list[str]:
    """The top-level functions an answer cell defines."""
    return [node.name for node in ast.parse(answer).body if isinstance(node, ast.FunctionDef)]


def used_names(source: str) -> set[str]:
    """Names a code cell calls, or passes to a call (``yours_or_reference(f, ...)``)."""
    used = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            for part in [node.func, *node.args, *(k.value for k in node.keywords)]:
                if isinstance(part, ast.Name):
                    used.add(part.id)
    return used


def unused_after_tests(nb) -> dict[str, list[str]]:
    """Exercise -> the functions it asks for that no later ordinary code cell uses."""
    cells = nb.cells
    missing = {}
    for name, ex in exercises.exercises(nb).items():
        last = max(i for i, c in enumerate(cells)
                   if exercise_of(c.metadata.get("nbgrader", {}).get("grade_id", "")) == name)
        later = set().union(*[used_names(c.source) for c in cells[last + 1:]
                              if c.cell_type == "code" and "nbgrader" not in c.metadata] or [set()])
        unused = [f for f in asked_functions(ex.answer) if f not in later]
        if unused:
            missing[name] = unused
    return missing


def test_the_check_sees_a_function_that_is_never_used_again():
    nb = nbformat.v4.new_notebook()
    answer = nbformat.v4.new_code_cell("def f(x):\n    return x\n\ndef g(x):\n    return x\n")
    answer.metadata["nbgrader"] = {"grade_id": "ex1_f", "solution": True, "grade": False}
    test = nbformat.v4.new_code_cell("assert f(1) == 1")
    test.metadata["nbgrader"] = {"grade_id": "ex1_f__hidden", "grade": True, "points": 1}
    nb.cells = [answer, test, nbformat.v4.new_code_cell("# f(2) is only a comment\nprint(f(3))")]
    assert unused_after_tests(nb) == {"ex1_f": ["g"]}
    nb.cells.append(nbformat.v4.new_code_cell("h = yours_or_reference(g, None, 'Exercise 1')"))
    assert unused_after_tests(nb) == {}


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_exercise_function_is_used_after_its_tests(chapter):
    nb = nbformat.read(ROOT / "solutions" / chapter / f"{chapter}.ipynb", as_version=4)
    assert unused_after_tests(nb) == {}
