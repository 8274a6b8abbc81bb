"""Code generation from a specification, checked by running unit tests.

The task family: small list-processing functions ``f(xs)`` described in English, such as
"keep the even numbers, then add 3 to each, then return the sum", whose reference program
is written by rules::

    def f(xs):
        ys = [x for x in xs if x % 2 == 0]
        ys = [x + 3 for x in ys]
        return sum(ys)

:func:`code_tasks` draws (specification, program) pairs; the held-out split combines a
filter and a map that never appear together in the training split, so a model must
compose what it learned rather than recall it. :func:`unit_tests` writes assert statements
from the reference program's outputs on fixed inputs (HumanEval's ``check`` function has
the same role). A program counts as correct when every test passes in a separate process
under a time limit; pass@k then estimates how often at least one of k samples is correct
(Chen et al. 2021).

Programs are tokens of :data:`CODE_VOCAB` (words, numbers, operators, ``<nl>`` and
``<indent>``), after the specification's words and a ``<code>`` separator.

Used in: chapter 9.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

from genai_course.applications.sequences import Vocabulary
from genai_course.core.checks import check_int

CONSTANTS = (1, 2, 3, 4, 5)
#: (English, list comprehension) templates; ``{k}`` is a constant.
FILTERS = {
    "even": ("keep the even numbers", "[x for x in ys if x % 2 == 0]"),
    "odd": ("keep the odd numbers", "[x for x in ys if x % 2 == 1]"),
    "greater": ("keep the numbers greater than {k}", "[x for x in ys if x > {k}]"),
    "less": ("keep the numbers less than {k}", "[x for x in ys if x < {k}]"),
    "positive": ("keep the positive numbers", "[x for x in ys if x > 0]"),
}
MAPS = {
    "add": ("add {k} to each", "[x + {k} for x in ys]"),
    "times": ("multiply each by {k}", "[x * {k} for x in ys]"),
    "square": ("square each", "[x * x for x in ys]"),
    "negate": ("negate each", "[- x for x in ys]"),
    "minus": ("subtract {k} from each", "[x - {k} for x in ys]"),
}
REDUCERS = {
    "sum": ("return the sum", "sum(ys)"),
    "count": ("return the count", "len(ys)"),
    "max": ("return the largest or 0 if there is none", "max(ys, default=0)"),
    "list": ("return the list", "ys"),
    "first": ("return the first or 0 if there is none", "ys[0] if ys else 0"),
}
#: (filter, map) pairs kept out of the training split.
HELD_OUT_PAIRS = frozenset({("even", "square"), ("greater", "negate"), ("odd", "times"),
                            ("less", "add"), ("positive", "minus")})
#: Test inputs of every task: empty, small, negative, mixed.
TEST_INPUTS = ([], [3], [1, 2, 3, 4, 5, 6], [-4, -1, 0, 7, 8], [10, -3, 5, 5, 2, 9, -8])

CODE_SEP, NL, INDENT = "<code>", "<nl>", "<indent>"
_CODE_TOKEN = re.compile(r"\d+|[A-Za-z_]+|==|[^\sA-Za-z_\d]")


@dataclass(frozen=True)
class CodeTask:
    """A specification, its reference program (defining ``f``) and which steps it uses."""

    spec: str
    program: str
    steps: tuple[str, str, str]


def _task(rng: random.Random, filter_: str, map_: str, reducer: str) -> CodeTask:
    k1, k2 = rng.choice(CONSTANTS), rng.choice(CONSTANTS)
    (f_text, f_code), (m_text, m_code) = FILTERS[filter_], MAPS[map_]
    r_text, r_code = REDUCERS[reducer]
    spec = f"{f_text.format(k=k1)}, then {m_text.format(k=k2)}, then {r_text}"
    program = (f"def f(xs):\n    ys = {f_code.format(k=k1).replace('in ys', 'in xs', 1)}\n"
               f"    ys = {m_code.format(k=k2)}\n    return {r_code}\n")
    return CodeTask(spec, program, (filter_, map_, reducer))


def code_tasks(n: int, split: str = "train", seed: int = 0) -> list[CodeTask]:
    """``n`` tasks whose (filter, map) pair is in :data:`HELD_OUT_PAIRS` (``"test"``) or
    not (``"train"``); reproducible from ``seed``."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    rng = random.Random(f"{split}/{seed}")
    pairs = [(f, m) for f in FILTERS for m in MAPS
             if ((f, m) in HELD_OUT_PAIRS) == (split == "test")]
    return [_task(rng, *rng.choice(pairs), rng.choice(list(REDUCERS)))
            for _ in range(check_int(n, "n"))]


def run_reference(task: CodeTask, xs: list[int]) -> object:
    """The reference program's output on ``xs`` (the program is ours, so it runs here)."""
    namespace: dict[str, object] = {}
    exec(task.program, namespace)
    return namespace["f"](list(xs))  # type: ignore[operator]


def unit_tests(task: CodeTask) -> str:
    """Assert statements checking ``f`` on :data:`TEST_INPUTS` against the reference."""
    return "".join(f"assert f({xs!r}) == {run_reference(task, xs)!r}\n" for xs in TEST_INPUTS)


# ------------------------------------------------------------------ as token sequences


def code_to_symbols(program: str) -> list[str]:
    """A program as tokens: ``<indent>`` for four leading spaces, ``<nl>`` for a newline."""
    out: list[str] = []
    for line in program.rstrip("\n").split("\n"):
        stripped = line.lstrip(" ")
        out += [INDENT] * ((len(line) - len(stripped)) // 4)
        out += _CODE_TOKEN.findall(stripped) + [NL]
    return out


def symbols_to_code(symbols: Sequence[str]) -> str:
    """The inverse of :func:`code_to_symbols`, up to spaces between tokens."""
    lines, current = [], ""
    for s in symbols:
        if s == NL:
            lines.append(current)
            current = ""
        elif s == INDENT:
            current += "    "
        else:
            joiner = "" if current.endswith((" ", "(", "[")) or not current or s in "()],:" \
                else " "
            current += joiner + s
    if current:
        lines.append(current)
    return "\n".join(lines) + "\n"


def spec_to_symbols(spec: str) -> list[str]:
    """The specification's words and punctuation, then ``<code>``."""
    return _CODE_TOKEN.findall(spec) + [CODE_SEP]


def task_symbols(task: CodeTask) -> list[str]:
    """The training sequence of a task: specification, ``<code>``, program."""
    return spec_to_symbols(task.spec) + code_to_symbols(task.program)


def _vocabulary() -> Vocabulary:
    rng = random.Random(0)
    symbols: dict[str, None] = {}
    for f in FILTERS:
        for m in MAPS:
            for r in REDUCERS:
                for _ in range(3):
                    symbols.update(dict.fromkeys(task_symbols(_task(rng, f, m, r))))
    symbols.update(dict.fromkeys(str(k) for k in CONSTANTS))
    return Vocabulary(sorted(symbols))


CODE_VOCAB = _vocabulary()


_RUNNER = r'''
import json, signal, sys
jobs = json.loads(sys.stdin.read())
def alarm(signum, frame):
    raise TimeoutError("time limit")
signal.signal(signal.SIGALRM, alarm)
out = []
for program, tests, seconds in jobs:
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        namespace = {"__name__": "candidate"}
        exec(program, namespace)
        exec(tests, namespace)
        status = "passed"
    except TimeoutError:
        status = "timeout"
    except BaseException as exc:
        status = "failed: " + type(exc).__name__
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    out.append(status)
print(json.dumps(out))
'''


def _limits(memory_mb: int) -> None:  # pragma: no cover - runs in the child
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (memory_mb * 2**20, memory_mb * 2**20))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NPROC, (64, 64))


def run_programs(programs: Sequence[str], tests: Sequence[str], seconds: float = 1.0,
                 memory_mb: int = 512) -> list[str]:
    """Run each program and then its tests in one separate Python process (``python -I``,
    empty environment, an empty temporary working folder, no file may grow beyond 0 bytes,
    ``memory_mb`` of memory), each pair under a
    ``seconds`` time limit; returns ``"passed"``, ``"timeout"`` or ``"failed: <error>"`` per
    program. A generated program can loop or crash without harming the notebook. (A
    harness for our own model's output, not a security boundary for hostile code.)"""
    import json
    import os
    import subprocess
    import sys
    import tempfile

    if len(programs) != len(tests):
        raise ValueError("need one test string per program")
    jobs = [[p, t, float(seconds)] for p, t in zip(programs, tests, strict=True)]
    posix = os.name == "posix"
    with tempfile.TemporaryDirectory(prefix="genai-course-code-") as folder:
        proc = subprocess.run(
            [sys.executable, "-I", "-c", _RUNNER], input=json.dumps(jobs), capture_output=True,
            text=True, env={}, cwd=folder, timeout=seconds * len(jobs) + 30,
            preexec_fn=(lambda: _limits(memory_mb)) if posix else None)
    if proc.returncode != 0:
        raise RuntimeError(f"the test runner died: {proc.stderr[-500:]}")
    return json.loads(proc.stdout)
