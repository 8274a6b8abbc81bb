"""Sample submissions of a chapter, and a throwaway course to grade them in.

:class:`ChapterNotebooks` reads a chapter's solution and release and writes a student's
notebook with any answers filled in (the release with those answer cells replaced, as a
student would submit it); :func:`make_course` sets up a fresh course folder holding one
chapter, and :func:`cell_scores` reads back what grading recorded. The grading tests
(``tests/hostile.py``, ``tests/test_grading_class.py``) build their classes with these, and
``benchmarks/grading.py`` its timed class.

Used in: grading tests and benchmarks (every chapter).
"""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable
from pathlib import Path

import nbformat

from genai_course.course import classroom
from genai_course.course import exercises as ex_lib
from genai_course.course.nbgrader_plugins import is_answer
from genai_course.course.release import release


class ChapterNotebooks:
    """A chapter's notebooks under ``checkout`` (a folder holding ``solutions/`` and
    ``chapters/``): its exercises in release order, the instructor's answers, and student
    notebooks built from the release."""

    def __init__(self, checkout: Path, chapter: str):
        self.chapter = chapter
        self.solution = nbformat.read(checkout / "solutions" / chapter / f"{chapter}.ipynb", 4)
        self.release = nbformat.read(checkout / "chapters" / chapter / f"{chapter}.ipynb", 4)
        self.exercises = ex_lib.exercises(self.solution)
        self.order = [c.metadata.nbgrader["grade_id"] for c in self.release.cells
                      if is_answer(c) and c.cell_type == "code"
                      and c.metadata.nbgrader["grade_id"] in self.exercises]
        self.setup = next(c.source for c in self.solution.cells if c.get("id") == "imports")
        self.answers = {name: ex.answer for name, ex in self.exercises.items()}
        # written answers (graded by a person): a student who solves everything writes them too
        self.written = {c.metadata.nbgrader["grade_id"]: c.source for c in self.solution.cells
                        if is_answer(c) and c.cell_type == "markdown"}
        self.stubs = {c.metadata.nbgrader["grade_id"]: c.source for c in self.release.cells
                      if is_answer(c)}

    def notebook(self, answers: dict[str, str],
                 edit: Callable[[nbformat.NotebookNode], None] | None = None) -> bytes:
        """The release with the answer cells named in ``answers`` (by grade_id) filled in,
        then changed by ``edit``, as the bytes of a submitted file."""
        nb = copy.deepcopy(self.release)
        for cell in nb.cells:
            gid = cell.metadata.get("nbgrader", {}).get("grade_id")
            if is_answer(cell) and gid in answers:
                cell.source = answers[gid]
        if edit is not None:
            edit(nb)
        return nbformat.writes(nb).encode()


def make_course(root: Path, checkout: Path, chapter: str) -> None:
    """A course in ``root`` (created) with ``chapter`` copied from ``checkout`` and released,
    its gradebook in ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(checkout / "nbgrader_config.py", root)
    shutil.copytree(checkout / "solutions" / chapter, root / "solutions" / chapter)
    release(root, [chapter], db_url=classroom.db_url(root))


def cell_scores(root: Path, chapter: str) -> dict[str, dict[str, float]]:
    """What the gradebook in ``root`` records for ``chapter``: student -> grade cell ->
    score."""
    from nbgrader.api import Gradebook

    with Gradebook(classroom.db_url(root), course_id=classroom.COURSE_ID) as gb:
        return {
            sub.student.id: {g.name: g.score for nb in sub.notebooks for g in nb.grades}
            for sub in gb.find_assignment(chapter).submissions
        }
