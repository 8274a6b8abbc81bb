"""The graded tests of every exercise pass the solution and each alternative correct answer
kept in ``tests/right_answers``, and fail the stub and each plausible wrong answer kept in
``tests/wrong_answers``."""

from __future__ import annotations

import importlib

import nbformat
import pytest

from genai_course.course import exercises
from genai_course.course import release as rel

from .conftest import ROOT

CHAPTERS = rel.list_chapters(ROOT)


def load(chapter: str):
    """The chapter's exercises (solution and released), the set-up code every exercise
    runs after (the imports cell, then every solved answer: a later exercise may call an
    earlier one, and each one is judged as if the others were right), and its wrong answers."""
    solution = nbformat.read(ROOT / "solutions" / chapter / f"{chapter}.ipynb", as_version=4)
    released = nbformat.read(ROOT / "chapters" / chapter / f"{chapter}.ipynb", as_version=4)
    solved = exercises.exercises(solution)
    setup = "\n".join(
        [next(c.source for c in solution.cells if c.get("id") == "imports")]
        + [ex.answer for ex in solved.values()]
    )
    wrong = importlib.import_module(f"tests.wrong_answers.ch{chapter}").WRONG_ANSWERS
    return solved, exercises.exercises(released), setup, wrong


CASES = [
    (chapter, name)
    for chapter in CHAPTERS
    for name in exercises.exercises(
        nbformat.read(ROOT / "solutions" / chapter / f"{chapter}.ipynb", as_version=4)
    )
]


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_has_enough_graded_exercises(chapter):
    solution, _, _, wrong = load(chapter)
    assert len(solution) >= 5
    assert sum(ex.points for ex in solution.values()) >= 15  # the chapter checklist
    assert set(wrong) == set(solution), "every exercise needs its wrong answers listed"


@pytest.mark.parametrize(("chapter", "name"), CASES)
def test_solution_passes_every_test(chapter, name):
    solution, _, setup, _ = load(chapter)
    ex = solution[name]
    results = exercises.run_exercise(setup + "\n" + ex.answer, ex.tests)
    assert all(r is None for r in results.values()), results
    assert any(gid.endswith("__hidden") for gid in ex.tests), "each exercise has hidden tests"


@pytest.mark.parametrize(("chapter", "name"), CASES)
def test_stub_fails_every_test(chapter, name):
    solution, released, setup, _ = load(chapter)
    results = exercises.run_exercise(setup + "\n" + released[name].answer, solution[name].tests)
    assert all(r is not None for r in results.values()), results


def right_answers(chapter: str) -> dict[str, dict[str, str]] | None:
    """The chapter's catalogue of alternative correct answers (None while it has none:
    chapters 1-4 predate the catalogue; every later chapter must have one)."""
    try:
        module = importlib.import_module(f"tests.right_answers.ch{chapter}")
    except ModuleNotFoundError:
        if int(chapter[:2]) >= 5:
            raise
        return None
    return module.RIGHT_ANSWERS


@pytest.mark.parametrize(("chapter", "name"), CASES)
def test_each_right_answer_earns_full_points(chapter, name):
    catalogue = right_answers(chapter)
    if catalogue is None:
        pytest.skip(f"no tests/right_answers/ch{chapter}.py yet")
    solution, _, setup, _ = load(chapter)
    ex = solution[name]
    assert len(catalogue.get(name, {})) >= 2, f"{name}: needs at least two right answers"
    for label, source in catalogue[name].items():
        results = exercises.run_exercise(setup + "\n" + source, ex.tests)
        failed = {gid: r for gid, r in results.items() if r is not None}
        assert not failed, f"{name}: the right answer '{label}' fails {failed}"


@pytest.mark.parametrize(("chapter", "name"), CASES)
def test_each_wrong_answer_is_caught(chapter, name):
    solution, _, setup, wrong = load(chapter)
    ex = solution[name]
    assert len(wrong[name]) >= 2
    for label, source in wrong[name].items():
        results = exercises.run_exercise(setup + "\n" + source, ex.tests)
        failed = [gid for gid, r in results.items() if r is not None]
        assert failed, f"{name}: the wrong answer '{label}' passes every test"
