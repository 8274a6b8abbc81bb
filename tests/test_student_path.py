"""The student's path through every chapter: Validate tells the truth, Run All finishes.

* No graded cell displays a value (nbgrader reads a number shown by a graded cell as a partial
  score, and anything else as a warning), checked on the source of every chapter.
* Every graded test cell carries the ``raises-exception`` tag, so Run All shows a failed
  test's error and goes on (JupyterLab and nbclient honour the tag; grading ignores it).
* Run All on the untouched release reaches the last cell, the demo cells falling back to the
  package while an exercise is unsolved: tested in a fresh student install with Colab faked
  (test_fresh_install.py) and in the browser (test_browser.py).
* The release with the solutions pasted in validates "Success" with no warnings; each
  catalogued wrong answer fails its own exercise's test cells and no other's.
"""

from __future__ import annotations

import ast
import importlib
import logging
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from genai_course.course import exercises
from genai_course.course import release as rel
from genai_course.course.conventions import HIDDEN_MARK, exercise_of

from .conftest import ROOT

CHAPTERS = rel.list_chapters(ROOT)
CELL_TIMEOUT = 300
RAISES = "raises-exception"


def source(chapter: str) -> nbformat.NotebookNode:
    return nbformat.read(ROOT / "solutions" / chapter / f"{chapter}.ipynb", as_version=4)


def release(chapter: str) -> nbformat.NotebookNode:
    return nbformat.read(ROOT / "chapters" / chapter / f"{chapter}.ipynb", as_version=4)


def graded_tests(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [c for c in nb.cells if c.cell_type == "code"
            and c.metadata.get("nbgrader", {}).get("grade")
            and not c.metadata.get("nbgrader", {}).get("solution")]


def displays_a_value(code: str) -> bool:
    """True if running ``code`` as a notebook cell may display a value: its last top-level
    statement is an expression other than a call of ``print`` or a ``check_*`` helper (both
    return None)."""
    body = ast.parse(code).body
    if not body or not isinstance(body[-1], ast.Expr):
        return False
    value = body[-1].value
    if isinstance(value, ast.Call):
        func = value.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        return not (name == "print" or name.startswith("check_"))
    return True


def test_the_display_rule_catches_a_bare_call():
    assert displays_a_value("x = 1\nf(x)  # runs here")
    assert displays_a_value("f(x)[0]")
    assert not displays_a_value("_ = f(x)")
    assert not displays_a_value("check_float(f(1), 2.0)\nprint('Visible tests passed.')")
    assert not displays_a_value("with ctx():\n    f(x)")


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_no_graded_cell_displays_a_value(chapter):
    shown = []
    for cell in graded_tests(source(chapter)):
        visible = cell.source.split(HIDDEN_MARK, 1)[0]
        for code in (visible, cell.source):  # what the student runs, and what grading runs
            if displays_a_value(code):
                shown.append(cell.metadata["nbgrader"]["grade_id"])
    assert not shown, (
        f"graded cells ending in an expression (assign it: `_ = f(...)`): {sorted(set(shown))}")


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_graded_test_cell_lets_run_all_go_on(chapter):
    for nb in (source(chapter), release(chapter)):
        untagged = [c.metadata["nbgrader"]["grade_id"] for c in graded_tests(nb)
                    if RAISES not in c.metadata.get("tags", [])]
        assert not untagged, f"graded test cells without the {RAISES!r} tag: {untagged}"
        others = [c.get("id") for c in nb.cells if RAISES in c.metadata.get("tags", [])
                  and c not in graded_tests(nb)]
        assert not others, f"only graded test cells may fail and go on: {others}"


def _validate(path: Path) -> tuple[dict, list[str]]:
    """nbgrader's Validator, configured as the browser's Validate button configures it (the
    course's nbgrader_config.py), and the warnings it logged."""
    from nbgrader.apps import NbGrader
    from nbgrader.validator import Validator

    app = NbGrader()
    app.config_file_paths.append([str(ROOT)])
    app.load_config_file()
    validator = Validator(config=app.config)
    seen: list[str] = []

    class Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno >= logging.WARNING:
                seen.append(record.getMessage())

    handler = Catch()
    validator.log.addHandler(handler)
    try:
        return validator.validate(str(path)), seen
    finally:
        validator.log.removeHandler(handler)


def solved_release(chapter: str, tmp_path: Path, overrides: dict[str, str] | None = None,
                   graded_only: bool = False) -> Path:
    """The release with the instructor's answers pasted in (``overrides`` replacing some),
    written to ``tmp_path``; with ``graded_only`` just the cells grading runs (the imports
    cell, answers and tests)."""
    answers = exercises.solved_answers(source(chapter)) | (overrides or {})
    nb = exercises.with_answers(release(chapter), answers)
    if graded_only:
        nb.cells = [c for c in nb.cells if c.cell_type == "code"
                    and (c.metadata.get("nbgrader") or c.get("id") == "imports")]
    path = tmp_path / f"{chapter}.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_the_solved_release_validates_with_success_and_no_warnings(chapter, tmp_path):
    results, warnings = _validate(solved_release(chapter, tmp_path))
    assert results == {}, results  # what the button shows as "Success"
    assert not warnings, warnings


def test_validate_on_the_command_line_says_success(tmp_path):
    path = solved_release(CHAPTERS[0], tmp_path)
    out = subprocess.run([sys.executable, "-m", "nbgrader", "validate", str(path)],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    text = out.stdout + out.stderr
    assert "Success! Your notebook passes all the tests." in text, text[-3000:]
    assert "[ValidateApp | WARNING]" not in text, text[-3000:]


def wrong_answers(chapter: str) -> dict[str, dict[str, str]]:
    return importlib.import_module(f"tests.wrong_answers.ch{chapter}").WRONG_ANSWERS


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_each_wrong_answer_fails_its_own_exercise_only(chapter):
    """In the notebook, with every other answer correct, a wrong answer fails at least one
    test cell of its exercise and none of another exercise: an exercise that builds on an
    earlier one is graded with the reference answer of the earlier one
    (``grading.reference_answers``), so one mistake costs points once."""
    solved = exercises.exercises(source(chapter))
    references = {name: ex.answer for name, ex in solved.items()}
    answers = exercises.solved_answers(source(chapter))
    imports = next(c.source for c in source(chapter).cells if c.get("id") == "imports")
    tests = {gid: code for ex in solved.values() for gid, code in ex.tests.items()}
    spill = {}
    for grade_id, catalogue in wrong_answers(chapter).items():
        for label, wrong in catalogue.items():
            setup = "\n".join([imports] + [wrong if g == grade_id else a
                                           for g, a in answers.items() if g in solved])
            failed = {g for g, r in exercises.run_exercise(setup, tests, references).items()
                      if r}
            if not failed or {exercise_of(g) for g in failed} != {grade_id}:
                spill[f"{grade_id}: {label}"] = sorted(failed)
    assert not spill, f"wrong answers failing no test or another exercise's tests: {spill}"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_validate_and_the_self_check_agree_and_never_crash(chapter, tmp_path):
    """The cells grading runs, with the first catalogued wrong answer of every exercise pasted
    in: Validate reports failures (only the visible tests run: a wrong answer that only the
    hidden tests catch passes here) instead of crashing, only in exercises with a wrong
    answer, and the students' self-check fails exactly the cells Validate fails."""
    from genai_course import selfcheck

    wrong = {gid: next(iter(catalogue.values()))
             for gid, catalogue in wrong_answers(chapter).items()}
    path = solved_release(chapter, tmp_path, wrong, graded_only=True)
    results, warnings = _validate(path)
    assert not warnings, warnings
    assert set(results) == {"failed"}, results
    nb = nbformat.read(path, as_version=4)
    grade_ids = {c.source.strip(): c.metadata["nbgrader"]["grade_id"] for c in graded_tests(nb)}
    failed = {grade_ids[r["source"]] for r in results["failed"]}
    assert {exercise_of(g) for g in failed} <= set(wrong)
    checked = selfcheck.run_graded_cells(nb, tmp_path)
    assert {g for g, verdict in checked.items() if verdict} == failed
