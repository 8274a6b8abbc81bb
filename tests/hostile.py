"""A class of hostile and broken submissions for one chapter, with the points each earned.

Every fixture is the chapter's release with some answers filled in (or the file mangled),
plus the score each graded code cell must receive. Expected scores of ordinary answers
come from running the tests in-process with :func:`genai_course.course.exercises.run_exercise`;
a hostile exercise (one that loops, crashes, floods memory or fakes its result) earns
nothing, and nothing it does may change the grades of the other exercises.
"""

from __future__ import annotations

import copy
import importlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from genai_course.course import exercises
from genai_course.course.nbgrader_plugins import exported_names, is_answer

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Fixture:
    student: str
    content: bytes | None  # the submitted file; None: the folder holds no notebook
    expected: dict[str, float]  # grade_id of each autograded code cell -> points
    status: str  # the status line grade() must give
    note: str = ""  # a fragment the status notes must contain
    extra: dict = field(default_factory=dict)


def _wrap(answer: str, name: str, statement: str) -> str:
    """``answer``, then ``name`` redefined to run ``statement`` before the real one."""
    body = "\n".join("    " + ln for ln in statement.strip().splitlines())
    return (f"{answer}\n\n_real_{name} = {name}\n\n"
            f"def {name}(*args, **kwargs):\n{body}\n    return _real_{name}(*args, **kwargs)\n")


HOSTILE = {
    "infinite_loop": ("while True:\n    pass", "timed out"),
    "swallows_interrupt": (
        "import time\nwhile True:\n    try:\n        time.sleep(0.01)\n"
        "    except KeyboardInterrupt:\n        pass", "timed out"),
    "os_exit": ("import os\nos._exit(3)", "crashed its Python process"),
    "segfault": ("import ctypes\nctypes.string_at(0)", "crashed its Python process"),
    "memory_blowup": ("import numpy\nblob = numpy.ones(2**30)", "ran out of memory"),
}


class Chapter:
    """The notebooks, exercises and expected scores of one chapter."""

    def __init__(self, chapter: str):
        self.chapter = chapter
        self.solution = nbformat.read(ROOT / "solutions" / chapter / f"{chapter}.ipynb", 4)
        self.release = nbformat.read(ROOT / "chapters" / chapter / f"{chapter}.ipynb", 4)
        self.exercises = exercises.exercises(self.solution)
        self.order = [c.metadata.nbgrader["grade_id"] for c in self.release.cells
                      if is_answer(c) and c.cell_type == "code" and
                      c.metadata.nbgrader["grade_id"] in self.exercises]
        self.setup = next(c.source for c in self.solution.cells if c.get("id") == "imports")
        self.answers = {name: ex.answer for name, ex in self.exercises.items()}
        self.stubs = {name: c.source for c in self.release.cells if is_answer(c)
                      for name in [c.metadata.nbgrader["grade_id"]]}
        self.wrong = importlib.import_module(f"tests.wrong_answers.ch{chapter}").WRONG_ANSWERS

    def points(self, name: str, answer: str | None) -> dict[str, float]:
        """Points each test cell of exercise ``name`` gives ``answer`` (None: nothing),
        judged in-process after the solved answers of the other exercises."""
        ex = self.exercises[name]
        if answer is None:
            return {gid: 0.0 for gid in ex.tests}
        setup = "\n".join([self.setup, *self.answers.values(), answer])
        results = exercises.run_exercise(setup, ex.tests)
        return {gid: ex.test_points[gid] if results[gid] is None else 0.0 for gid in ex.tests}

    def notebook(self, answers: dict[str, str], edit=None) -> bytes:
        nb = copy.deepcopy(self.release)
        for cell in nb.cells:
            gid = cell.metadata.get("nbgrader", {}).get("grade_id")
            if is_answer(cell) and gid in answers:
                cell.source = answers[gid]
        if edit is not None:
            edit(nb)
        return nbformat.writes(nb).encode()

    def fixture(self, student: str, answers: dict[str, str], status: str = "graded",
                note: str = "", edit=None, scored: dict[str, str | None] | None = None
                ) -> Fixture:
        """``answers`` go in the notebook; ``scored`` (default: the same) says what each
        exercise's tests should be judged on (None: earns nothing)."""
        scored = answers if scored is None else scored
        expected: dict[str, float] = {}
        for name in self.order:
            expected.update(self.points(name, scored.get(name)))
        return Fixture(student, self.notebook(answers, edit), expected, status, note)


EXTRAS = {"common_mistakes", "extra_patching_cell", "exits_at_top_level", "deleted_answer_cell",
          "empty_folder"}


def hostile_class(chapter: str, other_chapter: str, extras: bool = True) -> list[Fixture]:
    """17 submissions, or 22 with ``extras`` (see the module docstring)."""
    ch = Chapter(chapter)
    solved = dict(ch.answers)
    first = ch.order[0]
    fname = exported_names(ch.stubs[first])[0]
    wrong_first = {name: next(iter(ch.wrong[name].values())) for name in ch.order}
    half = {name: solved[name] for name in ch.order[: len(ch.order) // 2]}
    fixtures = [
        ch.fixture("correct", solved),
        ch.fixture("untouched", {}),
        ch.fixture("partial", half),
        ch.fixture("common_mistakes", wrong_first),
    ]
    for label, (statement, note) in HOSTILE.items():
        answers = {**solved, first: _wrap(solved[first], fname, statement)}
        fixtures.append(ch.fixture(label, answers, "problems", note,
                                   scored={**solved, first: None}))
    flood = {**solved, first: _wrap(solved[first], fname, "print('spam ' * 1_000_000)")}
    fixtures.append(ch.fixture("floods_output", flood, scored=solved))
    fixtures[-1].extra["max_notebook_bytes"] = 2_000_000

    def drop_tests(nb):
        nb.cells = [c for c in nb.cells if not c.metadata.get("nbgrader", {}).get("grade")
                    or is_answer(c)]

    def duplicate_test(nb):
        i = next(i for i, c in enumerate(nb.cells)
                 if c.metadata.get("nbgrader", {}).get("grade_id", "").startswith(first + "__"))
        nb.cells.insert(i, copy.deepcopy(nb.cells[i]))

    def weaken_tests(nb):
        for c in nb.cells:
            if c.metadata.get("nbgrader", {}).get("grade") and not is_answer(c):
                c.source = "assert True  # tests? what tests?"

    fixtures.append(ch.fixture("deleted_test_cells", solved, edit=drop_tests))
    fixtures.append(ch.fixture("duplicated_test_cell", solved, edit=duplicate_test))
    fixtures.append(ch.fixture("weakened_tests", {}, edit=weaken_tests))

    patch_everything = f"""
import builtins, numpy, torch
import genai_course.grading as _g
torch.allclose = lambda *a, **k: True
torch.equal = lambda *a, **k: True
numpy.testing.assert_allclose = lambda *a, **k: None
for _name in ("check_tensor", "check_float", "check_type", "check_dict"):
    setattr(_g, _name, lambda *a, **k: None)
builtins.AssertionError = type("NeverRaised", (Exception,), {{}})
try:
    get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)
    get_ipython().showtraceback = lambda *a, **k: None
except NameError:
    pass
check_tensor = check_float = check_type = check_dict = lambda *a, **k: None
{wrong_first[first]}
"""
    fixtures.append(ch.fixture("monkeypatches_checks", {**wrong_first, first: patch_everything},
                               scored={**wrong_first, first: None}))

    def extra_patch_cell(nb):
        nb.cells.insert(0, nbformat.v4.new_code_cell(patch_everything))

    fixtures.append(ch.fixture("extra_patching_cell", wrong_first, edit=extra_patch_cell))
    always_equal = _wrap(solved[first], fname, """
class AlwaysEqual:
    def __eq__(self, other):
        return True
    __ne__ = lambda self, other: False
    def __getattr__(self, name):
        return lambda *a, **k: self
return AlwaysEqual()""")
    fixtures.append(ch.fixture("always_equal", {**solved, first: always_equal}, "graded",
                               scored={**solved, first: None}))
    package = next(((name, src) for name in ch.order for label, src in ch.wrong[name].items()
                    if "package" in label), None)
    if package is None:
        raise ValueError(f"tests/wrong_answers/ch{chapter}.py needs a 'calls the package' answer")
    fixtures.append(ch.fixture("calls_the_package", {**solved, package[0]: package[1]}))
    fixtures.append(ch.fixture("exits_at_top_level", {**solved, first: "import os\nos._exit(0)"},
                               "problems", "crashed its Python process",
                               scored={**solved, first: None}))

    def drop_first_answer(nb):
        nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != first]

    fixtures.append(ch.fixture("deleted_answer_cell", solved, "problems", "answer cells missing",
                               edit=drop_first_answer, scored={**solved, first: None}))
    zero = {gid: 0.0 for f in fixtures[:1] for gid in f.expected}
    fixtures.append(Fixture("not_json", b'{"cells": [ this is not a notebook', zero, "malformed",
                            "not a valid notebook"))
    other = (ROOT / "solutions" / other_chapter / f"{other_chapter}.ipynb").read_bytes()
    fixtures.append(Fixture("other_chapter", other, zero, "problems", "no answer cells"))
    fixtures.append(Fixture("empty_folder", None, zero, "missing", "nothing submitted"))
    return [f for f in fixtures if extras or f.student not in EXTRAS]


def write_class(root: Path, chapter: str, fixtures: list[Fixture]) -> None:
    """Put each fixture in ``submitted/<student>/<chapter>/`` with a timestamp."""
    for f in fixtures:
        folder = root / "submitted" / f.student / chapter
        folder.mkdir(parents=True, exist_ok=True)
        if f.content is not None:
            (folder / f"{chapter}.ipynb").write_bytes(f.content)
        (folder / "timestamp.txt").write_text("2026-11-01 12:00:00.000000 UTC")


def as_json(fixtures: list[Fixture]) -> str:
    return json.dumps({f.student: f.expected for f in fixtures}, indent=1, sort_keys=True)
