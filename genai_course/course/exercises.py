"""Reading a notebook's exercises, and running them in-process to test the tests.

Used by the test suite and the benchmarks (never by students: the grading path runs answers
in the sandbox, :mod:`genai_course.course.sandbox`).
"""

from __future__ import annotations

import contextlib
import copy
import re
from dataclasses import dataclass, field
from typing import Any

from genai_course.course.conventions import (
    BEGIN_SOLUTION,
    END_SOLUTION,
    exercise_of,
    test_suffix,
)


@dataclass
class Exercise:
    """An exercise's answer cell and its graded test cells (in notebook order)."""

    name: str
    answer: str = ""
    points: float = 0.0
    tests: dict[str, str] = field(default_factory=dict)  # grade_id -> source
    test_points: dict[str, float] = field(default_factory=dict)


def exercises(nb: Any) -> dict[str, Exercise]:
    """Group a notebook's autograded cells by exercise (see the module docstring)."""
    found: dict[str, Exercise] = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        grade_id = meta.get("grade_id")
        if grade_id is None or cell.cell_type != "code":
            continue
        name, suffix = exercise_of(grade_id), test_suffix(grade_id)
        ex = found.setdefault(name, Exercise(name))
        if meta.get("solution"):
            ex.answer = cell.source
        if meta.get("grade") and suffix:
            ex.tests[grade_id] = cell.source
            ex.test_points[grade_id] = float(meta.get("points", 0))
            ex.points += float(meta.get("points", 0))
    return {k: v for k, v in found.items() if v.tests}


def run_exercise(answer: str, tests: dict[str, str],
                 references: dict[str, str] | None = None) -> dict[str, str | None]:
    """Execute ``answer`` then each test cell in a fresh namespace; map each test's
    grade_id to ``None`` (passed) or the error it raised. For testing the tests.
    ``references`` (the solutions' answer cells by grade_id) stand in for earlier exercises
    inside ``grading.reference_answers`` blocks, as in grading; without them those blocks use
    the answer's own functions, as in a student's notebook."""
    from genai_course import grading

    results: dict[str, str | None] = {}
    namespace: dict[str, Any] = {"__name__": "__exercise__"}
    try:
        exec(compile(answer, "<answer>", "exec"), namespace)
    except Exception as exc:  # the answer itself is broken: every test fails
        return {gid: f"answer cell raised {type(exc).__name__}: {exc}" for gid in tests}
    for gid, source in tests.items():
        try:
            with (contextlib.nullcontext() if references is None
                  else grading.references_in_process(namespace, references)):
                exec(compile(source, f"<{gid}>", "exec"), dict(namespace))
            results[gid] = None
        except Exception as exc:
            results[gid] = f"{type(exc).__name__}: {exc}"
    return results


_MARKER_LINE = re.compile(
    rf"^[ \t]*(?:{re.escape(BEGIN_SOLUTION)}|{re.escape(END_SOLUTION)})[ \t]*\n?", re.M)


def solved_answers(solution: Any) -> dict[str, str]:
    """The instructor's answers as a student would paste them into the release: every answer
    cell's source (code or written) with nbgrader's solution markers removed, by grade_id."""
    return {
        cell.metadata["nbgrader"]["grade_id"]: _MARKER_LINE.sub("", cell.source)
        for cell in solution.cells
        if cell.metadata.get("nbgrader", {}).get("solution")
    }


def with_answers(release: Any, answers: dict[str, str]) -> Any:
    """A copy of ``release`` with the answer cells named in ``answers`` (by grade_id) filled
    in: a student's notebook."""
    out = copy.deepcopy(release)
    for cell in out.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution") and grade_id in answers:
            cell.source = answers[grade_id]
    return out
