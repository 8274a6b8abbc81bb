"""nbgrader plug-ins that make autograding trustworthy (configured in ``nbgrader_config.py``).

* :class:`RebuildFromRelease` (first sanitising step): the graded notebook is the chapter's
  release with only the student's answers put in, matched by ``grade_id``. Deleted,
  duplicated or edited test cells, extra cells, an edited imports cell, or another
  chapter's notebook change nothing: only answers are taken from a submission. Ordinary
  code cells (demos, plots, training) are left out; grading needs the imports cell (id
  ``imports``), the answers and the tests.
* :class:`SandboxedExecute` (replaces nbgrader's ``Execute``): each answer runs in an
  isolated student process (:mod:`genai_course.course.sandbox`) and the tests, in the kernel,
  call proxies that only bring back plain data. No student code runs where the tests decide.
  Before anything runs it checks that the test cells nbgrader restored from the gradebook
  are the instructor's. With ``reuse_kernel`` (what ``genai-course grade`` uses) one warm
  kernel grades submission after submission, reset in between.
* :class:`SummarizeHiddenTests` (feedback): hidden tests' code and output are replaced by a
  one-line verdict, so feedback never shows them.
* :class:`ReadableFeedback` (feedback): tracebacks keep the notebook's own frames (the failing
  line of the test cell and the error), never the package's, the sandbox's or any path on the
  instructor's machine; answer cells lose output repeated from the imports cell (the header).

The instructor's notebooks (the release and the source with the hidden tests and
solutions) are read once per process and kept in memory with their SHA-256
(:func:`trusted_chapter`); if a file changes while grading runs, grading stops with
:class:`CourseFilesChanged` instead of trusting the new content.
"""

from __future__ import annotations

import ast
import copy
import difflib
import hashlib
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import nbformat
from nbclient.util import run_sync
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from traitlets import Bool, Enum

from genai_course.course.conventions import HIDDEN_MARK, IMPORTS_CELL


class CourseFilesChanged(RuntimeError):
    """An instructor's notebook, or the gradebook's copy of a test, is not what grading
    started with."""


def _meta(cell: Any) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def is_answer(cell: Any) -> bool:
    return bool(_meta(cell).get("solution")) and bool(_meta(cell).get("grade_id"))


@dataclass(frozen=True)
class TrustedChapter:
    """A chapter's release and source notebooks as read when grading started."""

    release: nbformat.NotebookNode
    source: nbformat.NotebookNode
    digests: tuple[tuple[str, str], ...]

    def tests(self) -> dict[str, str]:
        """The instructor's graded test cells (hidden tests included), by grade_id, and the
        imports cell (key :data:`IMPORTS_CELL`)."""
        found = {_meta(c)["grade_id"]: c.source for c in self.source.cells
                 if _meta(c).get("grade") and not is_answer(c) and c.cell_type == "code"}
        found[IMPORTS_CELL] = self.imports()
        return found

    def imports(self) -> str:
        return next((c.source for c in self.source.cells if c.get("id") == IMPORTS_CELL), "")

    def solutions(self) -> dict[str, str]:
        """The instructor's answer to each code exercise, by grade_id."""
        return {_meta(c)["grade_id"]: c.source for c in self.source.cells
                if is_answer(c) and c.cell_type == "code"}


_TRUSTED: dict[tuple[str, str], TrustedChapter] = {}


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def trusted_chapter(config: Any, assignment: str, notebook: str) -> TrustedChapter:
    """The chapter's notebooks, read on first use and kept in memory; raises
    :class:`CourseFilesChanged` when a file on disk no longer has the SHA-256 it had."""
    course = CourseDirectory(config=config)
    paths = [Path(course.format_path(folder, ".", assignment)) / f"{notebook}.ipynb"
             for folder in (course.release_directory, course.source_directory)]
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"no notebook {path}; run `genai-course release`")
    key = (str(paths[0].resolve()), notebook)
    known = _TRUSTED.get(key)
    digests = tuple((str(p), _digest(p)) for p in paths)
    if known is not None:
        changed = [p for (p, d), (_, k) in zip(digests, known.digests, strict=True) if d != k]
        if changed:
            raise CourseFilesChanged(
                f"{', '.join(changed)} changed while grading was running; nothing from it was "
                "used. If you changed it on purpose, start grading again.")
        return known
    release, source = (nbformat.read(p, as_version=4) for p in paths)
    _TRUSTED[key] = TrustedChapter(release, source, digests)
    return _TRUSTED[key]


def release_notebook(config: Any, assignment: str, notebook: str) -> nbformat.NotebookNode:
    """The released (student) version of ``assignment/notebook``, per the course config."""
    return copy.deepcopy(trusted_chapter(config, assignment, notebook).release)


def exported_names(stub: str) -> list[str]:
    """Top-level names an answer stub defines (its functions, classes and assignments):
    the only names a student's answer cell may hand to the tests."""
    names: list[str] = []
    for node in ast.parse(stub).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names += [t.id for t in targets if isinstance(t, ast.Name)]
    return names


def rebuild(release: nbformat.NotebookNode, submitted: Any
            ) -> tuple[nbformat.NotebookNode, list[str]]:
    """The release with the submission's answers put in, and notes on what was odd."""
    answers: dict[str, str] = {}
    notes: list[str] = []
    for cell in submitted.get("cells", []) if isinstance(submitted, dict) else []:
        if not isinstance(cell, dict) or not is_answer(cell):
            continue
        gid = _meta(cell)["grade_id"]
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        if gid in answers:
            notes.append(f"answer cell {gid} appears more than once; the first copy was graded")
            continue
        answers[gid] = source
    out = copy.deepcopy(release)
    kept, wanted = [], [c for c in release.cells if is_answer(c)]
    for cell in out.cells:
        if cell.cell_type == "code" and not _meta(cell) and cell.get("id") != IMPORTS_CELL:
            continue  # demos and plots are for learning, not for grading
        if is_answer(cell) and _meta(cell)["grade_id"] in answers:
            cell.source = answers[_meta(cell)["grade_id"]]
        kept.append(cell)
    out.cells = kept
    found = [c for c in wanted if _meta(c)["grade_id"] in answers]
    if wanted and not found:
        notes.append("no answer cells of this chapter found (another chapter's notebook?)")
    elif len(found) < len(wanted):
        missing = [_meta(c)["grade_id"] for c in wanted if c not in found]
        notes.append(f"answer cells missing (graded as unanswered): {', '.join(missing)}")
    return out, notes


class RebuildFromRelease(NbGraderPreprocessor):
    """Sanitising step: grade the release with the student's answers (see module docs)."""

    def preprocess(self, nb: Any, resources: dict) -> tuple[Any, dict]:
        info = resources["nbgrader"]
        release = release_notebook(self.config, info["assignment"], info["notebook"])
        rebuilt, notes = rebuild(release, nb)
        for note in notes:
            self.log.warning("%s: %s", info.get("student", "?"), note)
        return rebuilt, resources


def verify_tests(nb: Any, chapter: TrustedChapter) -> None:
    """Every graded test cell and the imports cell of ``nb`` (as nbgrader restored them from
    the gradebook) must be the instructor's, character for character."""
    expected = chapter.tests()
    for cell in nb.cells:
        key = IMPORTS_CELL if cell.get("id") == IMPORTS_CELL else _meta(cell).get("grade_id")
        if cell.cell_type != "code" or key not in expected or is_answer(cell):
            continue
        if cell.source != expected[key]:
            raise CourseFilesChanged(
                f"the test cell {key} that nbgrader took from the gradebook differs from the "
                "instructor's notebook: the gradebook may have been edited. Nothing was graded; "
                "run `genai-course release` to register the chapter again.")


class SandboxedExecute(Execute):
    """nbgrader's Execute, with every answer cell run in the student's sandbox process."""

    # the grading kernel holds nothing worth an orderly exit once its last cell has run
    # (the sandbox is closed by then); a graceful shutdown costs about 1.5 s per submission
    shutdown_kernel = Enum(["graceful", "immediate"], default_value="immediate").tag(config=True)
    reuse_kernel = Bool(False, help=(
        "Grade every notebook in one warm kernel, reset between notebooks, instead of a new "
        "kernel each (safe because no student code runs in the kernel). genai-course grade "
        "turns this on; plain nbgrader autograde keeps a kernel per notebook.")).tag(config=True)

    _warm: ClassVar[tuple[Any, Any] | None] = None  # (kernel manager, client) of this process

    def _warm_kernel(self, nb: Any) -> Any:
        """This process's warm kernel manager, (re)started when needed."""
        warm = SandboxedExecute._warm
        if warm is not None:
            if run_sync(warm[0].is_alive)():
                return warm[0]
            warm[1].stop_channels()
            run_sync(warm[0].cleanup_resources)()
            SandboxedExecute._warm = None
        self.nb = nb  # its kernelspec names the kernel
        self.km = self.create_kernel_manager()
        self.start_new_kernel(cwd=tempfile.gettempdir())
        SandboxedExecute._warm = (self.km, super().start_new_kernel_client())
        return self.km

    @classmethod
    def shutdown_warm_kernel(cls) -> None:
        """Stop this process's warm kernel (and with it the sandbox it started)."""
        if cls._warm is not None:
            km, kc = cls._warm
            cls._warm = None
            kc.stop_channels()
            run_sync(km.shutdown_kernel)(now=True)

    def start_new_kernel_client(self) -> Any:
        warm = SandboxedExecute._warm
        if self.reuse_kernel and warm is not None and self.km is warm[0]:
            self.kc = warm[1]
            return self.kc
        return super().start_new_kernel_client()

    def preprocess(self, nb: Any, resources: dict, km: Any = None) -> tuple[Any, dict]:
        info = resources["nbgrader"]
        chapter = trusted_chapter(self.config, info["assignment"], info["notebook"])
        verify_tests(nb, chapter)
        exports = {_meta(c)["grade_id"]: exported_names(c.source)
                   for c in chapter.release.cells if is_answer(c) and c.cell_type == "code"}
        from genai_course.course.sandbox.process import warm_answer_modules

        setup = chapter.imports()
        # libraries the answers import (numpy, scipy, ...): imported ahead by the sandbox's
        # template, so importing them does not eat into a student's time limit
        warm = sorted({m for cell in nb.cells if cell.cell_type == "code" and is_answer(cell)
                       for m in warm_answer_modules(cell.source)})
        originals = [cell.source for cell in nb.cells]
        for cell in nb.cells:
            if cell.get("id") == IMPORTS_CELL:
                # the test helpers are imported before any student code exists
                cell.source = ("import genai_course.grading\n"
                               "import genai_course.course.sandbox as __sandbox__\n"
                               f"__sandbox__.start({setup!r}, {chapter.solutions()!r}, "
                               f"{warm!r})\n"
                               + setup)
            elif cell.cell_type == "code" and is_answer(cell):
                gid = _meta(cell)["grade_id"]
                cell.source = (f"__sandbox__.run_cell({cell.source!r}, {gid!r}, "
                               f"{exports.get(gid, [])!r}, globals())")
        added = [nbformat.v4.new_code_cell("__sandbox__.ACTIVE.close()")]
        if self.reuse_kernel:
            km = self._warm_kernel(nb)
            added.insert(0, nbformat.v4.new_code_cell(
                "get_ipython().run_line_magic('reset', '-f')"))
            nb.cells.insert(0, added[0])
        nb.cells.append(added[-1])
        ids = {cell.id for cell in added}
        try:
            nb, resources = super().preprocess(nb, resources, km=km)
        finally:
            nb.cells = [c for c in nb.cells if c.get("id") not in ids]
            for cell, source in zip(nb.cells, originals, strict=True):
                cell.source = source
        return nb, resources


def _shares_text(message: str, hidden: str, longest: int = 16) -> bool:
    """True if ``message`` repeats a stretch of ``longest`` characters of ``hidden`` (ignoring
    spaces): a hidden call's arguments, an expected value written in the test."""
    a, b = "".join(message.split()), "".join(hidden.split())
    match = difflib.SequenceMatcher(None, a, b, autojunk=False).find_longest_match(
        0, len(a), 0, len(b))
    return match.size >= longest


def _points(n: float) -> str:
    return f"{n:g} point" + ("" if n == 1 else "s")


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


class SummarizeHiddenTests(NbGraderPreprocessor):
    """Feedback step: keep a hidden test cell's visible part, replace its hidden code and
    all its output with one verdict line (plus the first line of the error, scrubbed of any
    hidden-test line)."""

    def preprocess(self, nb: Any, resources: dict) -> tuple[Any, dict]:
        for cell in nb.cells:
            if cell.cell_type != "code" or HIDDEN_MARK not in cell.source:
                continue
            visible, hidden = cell.source.split(HIDDEN_MARK, 1)
            errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
            points = _meta(cell).get("points", 0)
            if errors:
                first = errors[0]
                detail = f"{first.get('ename', 'Error')}: {_first_line(first.get('evalue', ''))}"
                if _shares_text(detail, hidden):  # a check names the hidden call: keep it hidden
                    detail = first.get("ename", "Error")
                verdict = (f"Hidden tests failed (0 of {_points(points)}). First problem: "
                           f"{detail[:300]}\nHint: re-read the exercise and test your function "
                           "on inputs the visible tests do not cover (other shapes, dtypes, "
                           "edge cases).")
            else:
                verdict = f"Hidden tests passed ({points:g} of {_points(points)})."
            cell.source = visible.rstrip() + "\n# (hidden tests run here when graded; not shown)"
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=verdict + "\n")]
        return nb, resources



_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# a frame of notebook code, as IPython prints it (IPython 8: "Cell In[3], line 2")
_CELL_FRAME = re.compile(r"^(Cell In\[|Input In \[|<ipython-input-|<cell line)")
_PATH = re.compile(r"(?:[A-Za-z]:)?[/\\][^\s:'\"()]*[/\\](genai_course[/\\][^\s:'\"()]*)")


def readable_traceback(traceback: list[str], root: str = "") -> list[str]:
    """IPython's traceback blocks without frames of files (the package, the sandbox, the
    standard library): the header, the notebook's own frames and the error line stay; any
    path left in them is cut to what follows the course root or ``genai_course/``."""
    kept = [block for i, block in enumerate(traceback)
            if i in (0, len(traceback) - 1)
            or _CELL_FRAME.match(_ANSI.sub("", block).lstrip())]
    out = []
    for block in kept:
        if root:
            block = block.replace(root.rstrip("/") + "/", "")
        out.append(_PATH.sub(r"\1", block))
    return out


def _drop_text(output: Any, texts: set[str]) -> Any:
    """``output`` without the first copy of each of ``texts`` in its stream text; None when
    nothing but white space is left."""
    if output.get("output_type") != "stream":
        return output
    text = output.get("text", "")
    for t in texts:
        text = text.replace(t, "", 1)
    if not text.strip():
        return None
    output["text"] = text.lstrip("\n")
    return output


class ReadableFeedback(NbGraderPreprocessor):
    """Feedback step: tracebacks a student can read (see :func:`readable_traceback`) and no
    copy of the imports cell's output (the chapter header) under the answers."""

    def preprocess(self, nb: Any, resources: dict) -> tuple[Any, dict]:
        root = str(CourseDirectory(config=self.config).root)
        header = {o.get("text", "").strip() for c in nb.cells if c.get("id") == IMPORTS_CELL
                  for o in c.get("outputs", []) if o.get("output_type") == "stream"}
        header.discard("")
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            if is_answer(cell) and header:
                kept = (_drop_text(o, header) for o in cell.outputs)
                cell.outputs = [o for o in kept if o is not None]
            for output in cell.outputs:
                if output.get("output_type") == "error":
                    output["traceback"] = readable_traceback(output.get("traceback", []), root)
        return nb, resources


def awaits_a_person(grade: Any) -> bool:
    """An nbgrader grade of a written answer no person has marked yet (nbgrader gave it no
    score of its own)."""
    return bool(grade.needs_manual_grade) and grade.manual_score is None


#: How the feedback page names a graded cell, by the part of its grade_id after ``__``.
TEST_LABELS = {"visible": "Visible tests", "hidden": "Hidden tests", "errors": "Input checks"}


def feedback_summary(nb: Any, unmarked: set[str]) -> dict[str, Any]:
    """What the feedback page shows above the notebook and on each graded cell: the
    chapter's title, one entry per exercise (its title from the instruction heading, score,
    points, points awaiting a person, and the parts it is made of), in exercise order, and a
    label per graded cell. ``unmarked`` holds the grade_ids of written answers no person has
    marked; their score is not a score yet. Scores are nbgrader's (``GetGrades``)."""
    from genai_course.selfcheck import exercise_titles

    titles = exercise_titles(nb)
    chapter = next((m.group(1).strip() for c in nb.cells if c.cell_type == "markdown"
                    for m in [re.search(r"^#\s+(.+)$", c.source, re.M)] if m), "")
    exercises: dict[str, dict[str, Any]] = {}
    cells: dict[str, dict[str, Any]] = {}
    for cell in nb.cells:
        meta = _meta(cell)
        grade_id = meta.get("grade_id")
        if not grade_id or not (meta.get("grade") or meta.get("solution")):
            continue
        exercise, _, part = grade_id.partition("__")
        title = titles.get(exercise.partition("_")[0], exercise)
        entry = exercises.setdefault(exercise, {
            "anchor": grade_id, "title": title, "score": 0.0, "points": 0.0, "awaiting": 0.0,
            "parts": []})
        if meta.get("solution"):
            short = "written answer" if cell.cell_type == "markdown" else "answer"
            label = f"Your {short}: {title}"
        else:
            label = TEST_LABELS.get(part, f"Tests ({part})" if part else "Graded cell")
            short = label.lower()
        info = {"label": label, "part": short, "graded": bool(meta.get("grade")),
                "awaiting": False,
                "score": float(meta.get("score") or 0.0), "points": float(meta.get("points") or 0)}
        if info["graded"]:
            info["awaiting"] = grade_id in unmarked
            if info["awaiting"]:
                entry["awaiting"] += info["points"]
            else:
                entry["score"] += info["score"]
            entry["points"] += info["points"]
            entry["parts"].append(info)
        cells[grade_id] = info

    def number(name: str) -> tuple[int, str]:
        digits = re.match(r"ex(\d+)", name)
        return (int(digits.group(1)) if digits else 10**6, name)

    ordered = [exercises[k] for k in sorted(exercises, key=number) if exercises[k]["points"]]
    return {"title": chapter, "exercises": ordered, "cells": cells,
            "awaiting": sum(e["awaiting"] for e in ordered)}


class FeedbackSummary(NbGraderPreprocessor):
    """Feedback step (after nbgrader's ``GetGrades``): puts :func:`feedback_summary` in the
    resources as ``course_feedback`` for the course's feedback template
    (:mod:`genai_course.course.feedback_page`), asking the gradebook which written answers
    await a person."""

    def preprocess(self, nb: Any, resources: dict) -> tuple[Any, dict]:
        from nbgrader.api import Gradebook

        info = resources["nbgrader"]
        with Gradebook(info["db_url"]) as gb:
            sub = gb.find_submission_notebook(info["notebook"], info["assignment"],
                                              info["student"])
            unmarked = {g.name for g in sub.grades if awaits_a_person(g)}
        resources["course_feedback"] = feedback_summary(nb, unmarked)
        return nb, resources
