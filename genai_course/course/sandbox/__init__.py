"""Grading sandbox: student answers run in a separate process; only plain data comes back.

Inside a grading kernel, :func:`start` records the notebook's set-up code and
:func:`run_cell` runs an answer cell in the student's process, binding proxies for the
names the exercise asks for in the kernel's namespace (see :mod:`.process`). The nbgrader
plug-ins of :mod:`genai_course.course.nbgrader_plugins` rewrite notebooks to call these
while autograding.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from genai_course.course.sandbox.codec import CodecError
from genai_course.course.sandbox.process import (
    GradingTimeout,
    MemoryLimitExceeded,
    SandboxError,
    StudentCodeError,
    StudentProcess,
    StudentProcessDied,
)

__all__ = [
    "ACTIVE", "CodecError", "GradingTimeout", "MemoryLimitExceeded", "SandboxError",
    "StudentCodeError", "StudentProcess", "StudentProcessDied", "run_cell", "start",
]

ACTIVE: StudentProcess | None = None


def start(setup: str) -> StudentProcess:
    """Start sandboxing in this kernel: answers run after ``setup`` in a child process.
    Limits come from ``GENAI_COURSE_CALL_TIMEOUT`` (s) and ``GENAI_COURSE_MEMORY_MB``."""
    global ACTIVE
    if ACTIVE is not None:
        ACTIVE.close()
    ACTIVE = StudentProcess(
        setup=setup,
        call_timeout=float(os.environ.get("GENAI_COURSE_CALL_TIMEOUT", "10")),
        memory_mb=int(os.environ.get("GENAI_COURSE_MEMORY_MB", "2048")),
    )
    ACTIVE.start()
    return ACTIVE


def run_cell(source: str, label: str, exports: Iterable[str], namespace: dict[str, Any]) -> None:
    """Run an answer cell in the student's process and bind what it defined of ``exports``
    (proxies for functions) in ``namespace``; names it did not define are removed."""
    if ACTIVE is None:
        raise RuntimeError("the grading sandbox was not started (sandbox.start)")
    exports = list(exports)
    for name in exports:
        namespace.pop(name, None)
    namespace.update(ACTIVE.run_cell(source, label, exports))
