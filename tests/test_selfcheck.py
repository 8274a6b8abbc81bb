"""The students' self-check: the table it prints, where it finds the notebook (Jupyter's
file, Colab's live copy), and that it stays out of nbgrader's way. That its verdicts agree
with Validate is tested in test_student_path.py."""

from __future__ import annotations

import json
import sys
import types

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from genai_course import selfcheck
from genai_course.course import exercises

from .conftest import ROOT

CHAPTER = "01_history"


def graded(cell, grade_id, points=0, solution=False, grade=True):
    cell.metadata["nbgrader"] = {"grade_id": grade_id, "points": points, "solution": solution,
                                 "grade": grade, "locked": not solution, "schema_version": 3}
    return cell


def notebook():
    imports = new_code_cell("import math")
    imports.id = "imports"
    return new_notebook(cells=[
        imports,
        new_markdown_cell("### Exercise 1 (2 points): double it\nWrite `f`."),
        graded(new_code_cell("def f(x):\n    return 2 * x"), "ex1_double", solution=True,
               grade=False),
        graded(new_code_cell("assert f(2) == 4\nprint('Visible tests passed.')"),
               "ex1_double__visible", 1),
        graded(new_code_cell("_ = f(1)\n### BEGIN HIDDEN TESTS\nassert f(3) == 7\n"
                             "### END HIDDEN TESTS"), "ex1_double__hidden", 1),
        new_markdown_cell("### Exercise 2 (1 point): halve it"),
        graded(new_code_cell("def g(x):\n    # YOUR CODE HERE\n    raise NotImplementedError"),
               "ex2_halve", solution=True, grade=False),
        graded(new_code_cell("assert g(4) == 2"), "ex2_halve__visible", 1),
        new_markdown_cell("### Exercise 3 (written, 2 points): why"),
        graded(new_markdown_cell("YOUR ANSWER HERE"), "ex3_why", 2, solution=True),
        new_markdown_cell("### Exercise 4 (1 point): wrong"),
        graded(new_code_cell("def h():\n    return 0"), "ex4_wrong", solution=True, grade=False),
        graded(new_code_cell("assert h() == 1, 'h() = 0, expected 1'"), "ex4_wrong__visible", 1),
    ])


def test_the_graded_part_drops_demos_and_hidden_tests():
    nb = notebook()
    nb.cells.insert(1, new_code_cell("print('a demo')"))
    part = selfcheck.graded_part(nb)
    sources = [c.source for c in part.cells]
    assert "print('a demo')" not in sources
    assert "_ = f(1)\n" in sources and not any("f(3)" in s for s in sources)


def test_a_notebook_with_every_kind_of_exercise(tmp_path):
    path = tmp_path / "course.ipynb"
    nbformat.write(notebook(), path)
    report = selfcheck.self_check(path)
    rows = {r.exercise: r for r in report.rows}
    assert (rows["ex1_double"].status, rows["ex1_double"].points) == ("passed", 2)
    assert rows["ex2_halve"].status == "not attempted"
    assert (rows["ex3_why"].status, rows["ex3_why"].written) == ("not answered yet", True)
    assert rows["ex4_wrong"].status == "failed"
    assert rows["ex4_wrong"].problem == "AssertionError: h() = 0, expected 1"
    text = str(report)
    assert "Exercise 1: double it" in text and "Exercise 3: why" in text
    assert "1 of 3 exercises pass their visible tests (1 of 3 visible-test points)" in text
    assert "Hidden tests (1 points)" in text and "written answers (2 points)" in text


def test_on_colab_it_checks_the_live_notebook(monkeypatch, tmp_path, capsys):
    """Colab has no notebook file: google.colab._message hands the notebook over."""
    release = nbformat.read(ROOT / "chapters" / CHAPTER / f"{CHAPTER}.ipynb", as_version=4)
    source = nbformat.read(ROOT / "solutions" / CHAPTER / f"{CHAPTER}.ipynb", as_version=4)
    answers = exercises.solved_answers(source)
    live = exercises.with_answers(release, {"ex1_count_bigrams": answers["ex1_count_bigrams"]})
    requests = []

    def blocking_request(kind, request="", timeout_sec=None):
        requests.append(kind)
        return {"ipynb": json.loads(nbformat.writes(live))}

    colab = types.ModuleType("google.colab")
    colab._message = types.SimpleNamespace(blocking_request=blocking_request)
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setitem(sys.modules, "google.colab._message", colab._message)
    monkeypatch.chdir(tmp_path)
    report = selfcheck.self_check()
    assert requests == ["get_ipynb"]
    statuses = {r.exercise: r.status for r in report.rows}
    assert statuses.pop("ex1_count_bigrams") == "passed"
    written = {c.metadata["nbgrader"]["grade_id"] for c in release.cells
               if c.cell_type == "markdown" and c.metadata.get("nbgrader", {}).get("grade")}
    assert "ex7_generative_vs_discriminative" in written
    assert {w: statuses.pop(w) for w in written} == dict.fromkeys(written, "not answered yet")
    assert set(statuses.values()) == {"not attempted"}
    assert "Self-check of this notebook" in str(report)


def test_it_stays_out_of_nbgraders_way_and_says_when_it_cannot_find_the_notebook(
        monkeypatch, capsys):
    monkeypatch.setenv("NBGRADER_EXECUTION", "validate")
    assert selfcheck.self_check() is None
    assert "skipped while nbgrader runs this notebook" in capsys.readouterr().out
    monkeypatch.delenv("NBGRADER_EXECUTION")
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    assert selfcheck.self_check() is None
    assert "pass the notebook's file" in capsys.readouterr().out
    assert selfcheck.self_check("no_such.ipynb") is None
    assert "cannot read" in capsys.readouterr().out


def test_in_jupyter_it_finds_the_file_the_server_named(monkeypatch, tmp_path):
    path = tmp_path / "course.ipynb"
    nbformat.write(notebook(), path)
    monkeypatch.setenv("JPY_SESSION_NAME", str(path))  # what jupyter_server sets
    report = selfcheck.self_check()
    assert report.notebook == "course.ipynb" and report.saved == path.stat().st_mtime
    assert "as saved at" in str(report)
