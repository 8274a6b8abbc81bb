"""Every notebook runs, validates and grades as it should (quick / grading mode)."""

from __future__ import annotations

import os
import shutil
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
def test_nbgrader_validate_passes_on_the_solution(chapter):
    results = _validator(invert=False).validate(str(solution(chapter)))
    assert "failed" not in results, results.get("failed")
    assert "type_changed" not in results


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_nbgrader_validate_fails_every_graded_cell_of_the_release(chapter):
    results = _validator(invert=True).validate(str(released(chapter)))
    assert "passed" not in results, [r["source"][:80] for r in results.get("passed", [])]
    assert "changed" not in results


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_nbgrader_round_trip_in_a_temporary_course(chapter, tmp_path):
    """generate_assignment, then autograde a perfect and an untouched submission."""
    from nbgrader.api import Gradebook
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    shutil.copy(ROOT / "nbgrader_config.py", tmp_path)
    shutil.copytree(ROOT / "solutions" / chapter, tmp_path / "solutions" / chapter)
    config = Config()
    config.merge(PyFileConfigLoader("nbgrader_config.py", path=str(tmp_path)).load_config())
    config.CourseDirectory.root = str(tmp_path)
    config.CourseDirectory.db_url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    config.Execute.timeout = CELL_TIMEOUT
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    assert api.generate_assignment(chapter)["success"]
    assert (tmp_path / "chapters" / chapter / f"{chapter}.ipynb").read_bytes() != b""

    for student, notebook in [("perfect", solution(chapter)), ("untouched", released(chapter))]:
        folder = tmp_path / "submitted" / student / chapter
        folder.mkdir(parents=True)
        shutil.copy(notebook, folder / f"{chapter}.ipynb")
        result = api.autograde(chapter, student, force=True, create=True)
        assert result["success"], result.get("error") or result.get("log")

    with Gradebook(config.CourseDirectory.db_url, course_id="genai-course") as gb:
        assignment = gb.find_assignment(chapter)
        max_code = sum(
            g.max_score for nb in assignment.notebooks for g in nb.grade_cells
            if g.cell_type == "code"
        )
        assert max_code >= 10
        perfect = gb.find_submission(chapter, "perfect")
        untouched = gb.find_submission(chapter, "untouched")
        assert perfect.code_score == max_code
        assert untouched.code_score == 0
        # the written answers wait for a person
        assert perfect.needs_manual_grade
