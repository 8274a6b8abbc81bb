"""Grading sandbox: student answers run in an isolated process; only plain data comes back.

Inside a grading kernel, :func:`start` records the notebook's set-up code and
:func:`run_cell` runs an answer cell in the student's process, binding proxies for the
names the exercise asks for in the kernel's namespace (see :mod:`.process`). The student's
process is forked from a warm template inside bubblewrap (:mod:`.template`,
:mod:`.isolation`). The nbgrader plug-ins of :mod:`genai_course.course.nbgrader_plugins`
rewrite notebooks to call these while autograding.

Limits come from the environment of the grading process: ``GENAI_COURSE_CALL_TIMEOUT``
(seconds per answer cell and per call, 10), ``GENAI_COURSE_MEMORY_MB`` (the student's whole
process tree, tmpfs included, 2048), ``GENAI_COURSE_MAX_PROCESSES`` (32),
``GENAI_COURSE_TMP_MB`` (64), ``GENAI_COURSE_MAX_CPUS`` (cores busy at once, 1.5).

Used in: grading (every chapter).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from genai_course.course.sandbox.codec import CodecError
from genai_course.course.sandbox.isolation import IsolationUnavailable
from genai_course.course.sandbox.process import (
    GradingTimeout,
    MemoryLimitExceeded,
    ProtocolViolation,
    ResourceLimitExceeded,
    SandboxError,
    StudentCodeError,
    StudentProcess,
    StudentProcessDied,
)
from genai_course.course.sandbox.template import Limits

__all__ = [
    "ACTIVE", "CodecError", "GradingTimeout", "IsolationUnavailable", "Limits",
    "MemoryLimitExceeded", "ProtocolViolation", "ResourceLimitExceeded", "SandboxError",
    "StudentCodeError", "StudentProcess", "StudentProcessDied", "limits_from_environment",
    "run_cell", "start",
]

ACTIVE: StudentProcess | None = None


def limits_from_environment() -> Limits:
    """The limits set by ``GENAI_COURSE_*`` variables (see the module docstring)."""
    env = os.environ.get
    return Limits(memory_mb=int(env("GENAI_COURSE_MEMORY_MB", "2048")),
                  processes=int(env("GENAI_COURSE_MAX_PROCESSES", "32")),
                  tmp_mb=int(env("GENAI_COURSE_TMP_MB", "64")),
                  cpus=float(env("GENAI_COURSE_MAX_CPUS", "1.5")))


def start(setup: str, references: dict[str, str] | None = None,
          warm_modules: Iterable[str] = ()) -> StudentProcess:
    """Start sandboxing in this kernel: answers run after ``setup`` in a student process.
    ``references`` are the chapter's solutions by grade_id (``grading.reference_answers``);
    ``warm_modules`` what the answers import that the template may import ahead
    (``process.warm_answer_modules``).
    Raises :class:`IsolationUnavailable` when the operating system cannot isolate it and
    ``GENAI_COURSE_ISOLATION=off`` is not set."""
    global ACTIVE
    if ACTIVE is not None:
        ACTIVE.close()
        ACTIVE = None
    from genai_course.course.sandbox import isolation

    proc = StudentProcess(
        setup=setup,
        call_timeout=float(os.environ.get("GENAI_COURSE_CALL_TIMEOUT", "10")),
        limits=limits_from_environment(),
        references=dict(references or {}),
        warm_modules=list(warm_modules),
        isolation=isolation.require(),
    )
    proc.start()
    ACTIVE = proc
    return proc


def run_cell(source: str, label: str, exports: Iterable[str], namespace: dict[str, Any]) -> None:
    """Run an answer cell in the student's process and bind what it defined of ``exports``
    (proxies for functions) in ``namespace``; names it did not define are removed."""
    if ACTIVE is None:
        raise RuntimeError("the grading sandbox was not started (sandbox.start)")
    exports = list(exports)
    for name in exports:
        namespace.pop(name, None)
    namespace.update(ACTIVE.run_cell(source, label, exports))
