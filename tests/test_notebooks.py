"""Every notebook runs in quick mode, and its untouched release fails every graded cell.

Each chapter is executed as few times as what it proves allows; what used to be asserted here
by running a chapter once more is asserted where that run already happens:

* the solution passes every test, hidden ones included, and earns every point of the code
  cells (its written answers waiting for a person): test_grading_class.py grades the
  solution's answers through nbgrader's autograde for every chapter
  (``test_every_submission_gets_exactly_its_points``, the "correct" student);
* the whole notebook runs in grading mode with every graded cell passing and no warnings:
  test_student_path.py validates the release with the solutions pasted in, as a student's
  Validate button does (``test_the_solved_release_validates_with_success_and_no_warnings``);
* generate_assignment works in a fresh course: every grading test's course is made with it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from genai_course.course import exercises
from genai_course.course import release as rel

from .conftest import ROOT

CHAPTERS = rel.list_chapters(ROOT)
CELL_TIMEOUT = 300


def solution(chapter: str) -> Path:
    return ROOT / "solutions" / chapter / f"{chapter}.ipynb"


def released(chapter: str) -> Path:
    return ROOT / "chapters" / chapter / f"{chapter}.ipynb"


def run_notebook(path: Path) -> nbformat.NotebookNode:
    """Execute a notebook in a fresh kernel of this interpreter, from its own folder, naming
    it to the kernel as Jupyter's server does (the last cell's self-check reads it)."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute(env=dict(os.environ, JPY_SESSION_NAME=str(path)))
    return nb


@pytest.fixture()
def quick_mode(monkeypatch):
    monkeypatch.setenv("GENAI_COURSE_QUICK", "1")


def test_kernel_is_this_interpreter(quick_mode):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import sys; sys.executable")])
    path = Path(os.environ["JUPYTER_RUNTIME_DIR"]) / "probe.ipynb"
    nbformat.write(nb, path)
    out = run_notebook(path).cells[0].outputs[0]["data"]["text/plain"]
    assert Path(out.strip("'")).resolve() == Path(sys.executable).resolve()


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_solution_notebook_runs_in_quick_mode(chapter, quick_mode):
    nb = run_notebook(solution(chapter))
    text = "".join(
        o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs
    )
    assert "mode   : quick" in text
    assert "Visible tests passed." in text
    n = len(exercises.exercises(nb))  # the self-check, in the last cell, passes every one
    assert f"{n} of {n} exercises pass their visible tests" in str(nb.cells[-1].outputs), \
        nb.cells[-1].outputs


def _validator(invert: bool):
    from nbgrader.validator import Validator
    from traitlets.config import Config

    config = Config()
    config.Execute.timeout = CELL_TIMEOUT
    config.Validator.invert = invert
    return Validator(config=config)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_nbgrader_validate_fails_every_graded_cell_of_the_release(chapter):
    results = _validator(invert=True).validate(str(released(chapter)))
    assert "passed" not in results, [r["source"][:80] for r in results.get("passed", [])]
    assert "changed" not in results
