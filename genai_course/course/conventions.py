"""The course's conventions, in one place: names every notebook, plug-in and command shares.

* **Course id** and the two folders: ``solutions/`` (the instructor's source) and
  ``chapters/`` (the generated student release).
* **Cells**: the imports cell has the cell id :data:`IMPORTS_CELL`; an exercise's answer
  cell has the nbgrader ``grade_id`` ``<exercise>`` (e.g. ``ex3_rope``) and its graded test
  cells ``<exercise>__<suffix>`` (``__visible``, ``__hidden``, ...); :func:`exercise_of`
  parses that rule.
* **Markers**: nbgrader's solution and hidden-test delimiters, and the stubs students see.
"""

from __future__ import annotations

COURSE_ID = "genai-course"
SOURCE_DIR = "solutions"
RELEASE_DIR = "chapters"

IMPORTS_CELL = "imports"
SEPARATOR = "__"

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
HIDDEN_MARK = "### BEGIN HIDDEN TESTS"
END_HIDDEN_MARK = "### END HIDDEN TESTS"

CODE_STUB = ("# YOUR CODE HERE: replace the line below with your implementation.\n"
             'raise NotImplementedError("Exercise not attempted yet")')
TEXT_STUB = "YOUR ANSWER HERE (a few sentences; this answer is graded by hand)."
#: Text that marks a cell as still holding its stub (no student work in it).
STUB_MARKERS = ("YOUR CODE HERE", "YOUR ANSWER HERE")


def exercise_of(grade_id: str) -> str:
    """The exercise a cell belongs to: ``"ex3_rope__hidden"`` -> ``"ex3_rope"``."""
    return grade_id.partition(SEPARATOR)[0]


def test_suffix(grade_id: str) -> str:
    """The test part of a grade_id (``"hidden"``), or ``""`` for an answer cell."""
    return grade_id.partition(SEPARATOR)[2]
