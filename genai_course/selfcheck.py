"""A self-check students run in a chapter's last cell: every exercise's visible tests, run the
way grading runs them, summarised as one table (in the spirit of otter-grader's ``check_all``).

It works where nbgrader's Validate button does not exist (Google Colab, VS Code, a plain
Jupyter server). :func:`self_check` takes the notebook as it is saved (on Colab: as it is in
the browser), keeps the cells grading keeps (the imports cell, the answer cells and the graded
test cells, see ``course/nbgrader_plugins.py``), runs them top to bottom in a fresh kernel in
the grading configuration (``NBGRADER_EXECUTION`` set, as Validate sets it), and reads each
graded cell's verdict as nbgrader does: a cell that raised fails, any other passes. Hidden
tests are not in a student's notebook; they run when the notebook is graded.

Used in: every chapter's last cell.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

# The conventions every notebook follows (mirrors genai_course.course.conventions, which is
# the instructor's side and is not imported here).
IMPORTS_CELL = "imports"
HIDDEN_MARK = "### BEGIN HIDDEN TESTS"
STUB_MARKERS = ("YOUR CODE HERE", "YOUR ANSWER HERE")
CELL_TIMEOUT = 120.0

NOT_ATTEMPTED, PASSED, FAILED = "not attempted", "passed", "failed"
WRITTEN_DONE, WRITTEN_TODO = "answered", "not answered yet"


class SelfCheckError(RuntimeError):
    """The notebook to check could not be found or read."""


@dataclass
class Row:
    """One exercise: what the visible tests said, and the points it is worth."""

    exercise: str  # the answer cell's grade_id, e.g. "ex1_count_bigrams"
    title: str  # "Exercise 1: count bigrams"
    status: str  # passed | failed | not attempted | answered | not answered yet
    points: float  # everything the exercise is worth (visible + hidden tests, or by hand)
    visible_passed: float = 0.0
    visible_points: float = 0.0
    problem: str = ""  # the first failing cell's error, one line
    written: bool = False


@dataclass
class SelfCheck:
    """The table :func:`self_check` returns; it displays itself (``print`` it in a script)."""

    notebook: str
    rows: list[Row] = field(default_factory=list)
    saved: float | None = None  # mtime of the checked file (None: the live notebook)

    @property
    def passed(self) -> list[Row]:
        return [r for r in self.rows if r.status == PASSED]

    def __str__(self) -> str:
        coded = [r for r in self.rows if not r.written]
        written = [r for r in self.rows if r.written]
        width = max([len(r.title) for r in self.rows] + [8])
        lines = [f"Self-check of {self.notebook}" + (
            f" as saved at {time.strftime('%H:%M:%S', time.localtime(self.saved))}"
            " (save first to check your latest changes)" if self.saved else ""), ""]
        lines.append(f"{'exercise':<{width}}  {'status':<26} {'points':>6}")
        for r in coded:
            lines.append(f"{r.title:<{width}}  {r.status:<26} {r.points:>6g}")
            if r.problem:
                lines.append(f"{'':<{width}}    {r.problem}")
        for r in written:
            lines.append(f"{r.title:<{width}}  {'written: ' + r.status:<26} {r.points:>6g}")
        hidden = sum(r.points - r.visible_points for r in coded)
        by_hand = sum(r.points for r in written)
        lines += ["", f"{len(self.passed)} of {len(coded)} exercises pass their visible tests "
                  f"({sum(r.visible_passed for r in coded):g} of "
                  f"{sum(r.visible_points for r in coded):g} visible-test points)."]
        if hidden or by_hand:
            lines.append(f"Hidden tests ({hidden:g} points) run when your notebook is graded"
                         + (f"; written answers ({by_hand:g} points) are marked by a person."
                            if by_hand else "."))
        return "\n".join(lines)

    __repr__ = __str__


def _meta(cell: Any) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


Found = tuple[nbformat.NotebookNode, str, "float | None", "Path | None"]


def _running_notebook() -> Found:
    """The notebook this kernel belongs to: Colab's live copy, or the file Jupyter (or VS
    Code) opened it from."""
    if "google.colab" in sys.modules:
        from google.colab import _message  # type: ignore[import-not-found]

        reply = _message.blocking_request("get_ipynb", request="", timeout_sec=60)
        if not reply or "ipynb" not in reply:
            raise SelfCheckError("Colab did not hand over the notebook; run the cell again.")
        live = nbformat.reads(json.dumps(reply["ipynb"]), as_version=4)  # joins line lists
        return live, "this notebook", None, None
    candidates = [os.environ.get("JPY_SESSION_NAME", "")]
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:
        shell = None
    if shell is not None:
        candidates += [str(shell.user_ns.get(k, "")) for k in ("__session__", "__vsc_ipynb_file__")]
    for name in candidates:
        if name.endswith(".ipynb") and Path(name).is_file():
            return _read(Path(name))
    raise SelfCheckError(
        "self_check() could not tell which notebook it runs in; pass the notebook's file, "
        "e.g. self_check('01_history.ipynb').")


def _read(path: Path) -> Found:
    try:
        return nbformat.read(path, as_version=4), path.name, path.stat().st_mtime, path.parent
    except (OSError, ValueError, json.JSONDecodeError) as exc:
        raise SelfCheckError(f"cannot read {path}: {exc}") from exc


def graded_part(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The cells grading runs: the imports cell, the answer cells and the graded test cells
    (hidden tests cut off, should the notebook hold them)."""
    keep = []
    for cell in nb.cells:
        meta = _meta(cell)
        if cell.cell_type != "code" or not (meta or cell.get("id") == IMPORTS_CELL):
            continue
        cell = nbformat.from_dict(dict(cell))
        cell.source = cell.source.split(HIDDEN_MARK, 1)[0]
        cell.outputs, cell.execution_count = [], None
        keep.append(cell)
    return nbformat.v4.new_notebook(cells=keep, metadata=nb.metadata)


def run_graded_cells(nb: nbformat.NotebookNode, cwd: Path | None = None,
                     timeout: float = CELL_TIMEOUT) -> dict[str, str | None]:
    """Run :func:`graded_part` of ``nb`` in a fresh kernel in the grading configuration; map
    each graded test cell's grade_id to None (passed) or its error's first line."""
    from nbclient import NotebookClient

    part = graded_part(nb)
    env = dict(os.environ, NBGRADER_EXECUTION="validate", NBGRADER_VALIDATING="1")
    env.pop("JPY_SESSION_NAME", None)
    client = NotebookClient(part, timeout=timeout, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(cwd or Path.cwd())}})
    client.execute(env=env)
    verdicts: dict[str, str | None] = {}
    for cell in part.cells:
        meta = _meta(cell)
        if not meta.get("grade") or meta.get("solution"):
            continue
        errors = [o for o in cell.outputs if o.get("output_type") == "error"]
        if errors:
            message = (errors[0].get("evalue") or "").strip().splitlines()
            verdicts[meta["grade_id"]] = f"{errors[0].get('ename', 'Error')}: " + (
                message[0] if message else "")
        else:
            verdicts[meta["grade_id"]] = None
    return verdicts


def exercise_titles(nb: nbformat.NotebookNode) -> dict[str, str]:
    """"Exercise 3: sample a token" for "ex3", from the instruction cells' headings (the
    feedback page names exercises the same way)."""
    found = {}
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for m in re.finditer(r"^#+\s*Exercise\s+(\d+)\s*(?:\([^)]*\))?\s*:?\s*(.*)$",
                             cell.source, re.M):
            found.setdefault(f"ex{m.group(1)}", f"Exercise {m.group(1)}: {m.group(2).strip()}")
    return found


def summarize(nb: nbformat.NotebookNode, verdicts: dict[str, str | None]) -> list[Row]:
    """One row per exercise, in notebook order."""
    titles = exercise_titles(nb)
    rows: dict[str, Row] = {}
    for cell in nb.cells:
        meta = _meta(cell)
        grade_id = meta.get("grade_id")
        if not grade_id:
            continue
        exercise = grade_id.partition("__")[0]
        number = exercise.partition("_")[0]
        row = rows.setdefault(exercise, Row(exercise, titles.get(number, exercise), PASSED, 0.0))
        points = float(meta.get("points", 0) or 0)
        if meta.get("solution"):
            if any(m in cell.source for m in STUB_MARKERS):
                row.status = WRITTEN_TODO if cell.cell_type == "markdown" else NOT_ATTEMPTED
            elif cell.cell_type == "markdown":
                row.status = WRITTEN_DONE
            row.written = cell.cell_type == "markdown"
            row.points += points if row.written else 0.0
            continue
        if not meta.get("grade"):
            continue
        row.points += points
        verdict = verdicts.get(grade_id)
        if grade_id.endswith("__visible"):
            row.visible_points += points
            row.visible_passed += points if grade_id in verdicts and verdict is None else 0.0
        if verdict is not None and row.status == PASSED:
            row.status, row.problem = FAILED, verdict[:160]
    return list(rows.values())


def self_check(notebook: str | Path | None = None, *, timeout: float = CELL_TIMEOUT
               ) -> SelfCheck | None:
    """Run this notebook's visible tests as grading runs them and return a table of every
    exercise: passed, failed (with the first error) or not attempted, and its points.

    ``notebook`` defaults to the notebook this kernel runs (on Colab, its live contents; in
    Jupyter, the file as last saved, so save first). Under nbgrader (Validate or grading)
    it does nothing: Validate is checking the notebook already. When it cannot find or read
    the notebook it says why and returns None.
    """
    if "NBGRADER_EXECUTION" in os.environ:
        print("self_check: skipped while nbgrader runs this notebook (it checks it already).")
        return None
    try:
        if notebook is None:
            nb, name, saved, cwd = _running_notebook()
        else:
            nb, name, saved, cwd = _read(Path(notebook).expanduser().resolve())
        if not any(_meta(c).get("grade_id") for c in nb.cells):
            raise SelfCheckError(f"{name} has no graded exercises to check.")
    except SelfCheckError as exc:  # say so, and let Run All go on
        print(f"self_check: {exc}")
        return None
    print(f"Running the visible tests of {name} in a fresh kernel (about a minute)...",
          flush=True)
    return SelfCheck(name, summarize(nb, run_graded_cells(nb, cwd, timeout)), saved)
