"""The student's side of the sandbox: the loop that runs answer cells and calls.

A student process is forked from the sandbox template
(:mod:`genai_course.course.sandbox.template`) and isolated before this loop starts. It reads
requests from its one connection to the grader, each a :mod:`~genai_course.course.sandbox.codec`
message ``(request_id, kind, *arguments)``, and answers each with
``(request_id, "ok", value, output)`` or ``(request_id, "error", name, message, traceback,
output)``:

* ``("exec", source, label, exports)``: run ``source`` in the student namespace; the value is
  which of ``exports`` are callables and the plain-data values of the others.
* ``("call", name, args, kwargs)``: call the student's function; the value is
  ``(result, changed_args, changed_kwargs)``: its result, and the tensor and array arguments
  the function changed in place (``None`` for the others), so the grader can leave its own
  arguments as an in-process call would (see ``Sandbox.call``).
* ``("bind", {name: source})``: while the tests of a later exercise run, ``name`` means the
  reference answer defined by ``source`` (an earlier exercise's solution, see
  ``grading.reference_answers``); ``("unbind",)`` restores the student's own.

What the student's code prints is kept up to :data:`OUTPUT_LIMIT` characters per request and
sent back with the reply; the process's own stdout and stderr go to ``/dev/null``. Nothing
here is trusted by the grader: it checks every reply (see
:mod:`genai_course.course.sandbox.process`).

Used in: grading (every chapter).
"""

from __future__ import annotations

import ast
import builtins
import io
import sys
import traceback
from multiprocessing.connection import Connection
from typing import Any

import numpy as np
import torch

from genai_course.course.sandbox import codec

OUTPUT_LIMIT = 4_000
MAX_REQUEST = codec.MAX_BYTES + 8
_MISSING = object()


class CappedOutput(io.TextIOBase):
    """A text stream that keeps the first ``limit`` characters and counts the rest."""

    def __init__(self, limit: int = OUTPUT_LIMIT):
        self.limit, self.parts, self.kept, self.dropped = limit, [], 0, 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        text = str(text)
        room = self.limit - self.kept
        self.parts.append(text[:room])
        self.kept += min(room, len(text))
        self.dropped += max(0, len(text) - room)
        return len(text)

    def take(self) -> str:
        text = "".join(self.parts)
        if self.dropped:
            text += f"\n[... {self.dropped:,} more characters of output cut]\n"
        self.parts, self.kept, self.dropped = [], 0, 0
        return text


def _error(request_id: int, exc: BaseException, output: str) -> tuple:
    lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
    # drop the sandbox's own frames: the student sees their code only
    lines = [lines[0]] + [ln for ln in lines[1:] if __file__ not in ln]
    return (request_id, "error", type(exc).__name__, str(exc)[:2000], "".join(lines)[-4000:],
            output)


def _encodable(value: Any) -> bool:
    try:
        codec.encode(value)
    except codec.CodecError:
        return False
    return True


def _snapshot(value: Any) -> Any:
    """A copy of a tensor or array argument (None for anything else)."""
    if type(value) is torch.Tensor:
        return value.detach().clone()
    if type(value) is np.ndarray:
        return value.copy()
    return None


def _changed(before: Any, after: Any) -> Any:
    """``after`` if the call changed the tensor or array in place, else None."""
    if before is None:
        return None
    if type(after) is torch.Tensor:
        same = before.shape == after.shape and torch.equal(before, after.detach())
        return None if same else after.detach()
    return None if np.array_equal(before, after, equal_nan=True) else after


def imports_only(source: str) -> str:
    """The import statements of ``source`` (the notebook's imports cell), nothing else."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return ""
    kept = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    return ast.unparse(ast.Module(body=kept, type_ignores=[]))


class Student:
    """The student namespace and what the requests do to it."""

    def __init__(self) -> None:
        self.namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
        self.setup = ""
        self.saved: dict[str, Any] = {}

    def exec(self, source: str, label: str, exports: list[str]) -> tuple:
        if label == "setup":
            self.setup = source
        exec(compile(source, f"<{label}>", "exec"), self.namespace)
        functions, values = [], {}
        for name in exports:
            if callable(self.namespace.get(name)):
                functions.append(name)
            elif name in self.namespace and _encodable(self.namespace[name]):
                values[name] = self.namespace[name]
        return functions, values

    def call(self, name: str, args: tuple, kwargs: dict) -> tuple:
        before_args = [_snapshot(a) for a in args]
        before_kwargs = {k: _snapshot(v) for k, v in kwargs.items()}
        result = self.namespace[name](*args, **kwargs)
        return (result, [_changed(b, a) for b, a in zip(before_args, args, strict=True)],
                {k: c for k, v in kwargs.items()
                 if (c := _changed(before_kwargs[k], v)) is not None})

    def bind(self, references: dict[str, str]) -> None:
        for name, source in references.items():
            scope: dict[str, Any] = {"__name__": "__reference__"}
            exec(compile(imports_only(self.setup), "<imports>", "exec"), scope)
            exec(compile(source, f"<reference {name}>", "exec"), scope)
            self.saved.setdefault(name, self.namespace.get(name, _MISSING))
            self.namespace[name] = scope[name]

    def unbind(self) -> None:
        for name, value in self.saved.items():
            if value is _MISSING:
                self.namespace.pop(name, None)
            else:
                self.namespace[name] = value
        self.saved = {}


def serve(conn: Connection) -> None:
    """Answer requests until the grader closes the connection."""
    out = CappedOutput()
    sys.stdout = sys.stderr = out
    student = Student()
    while True:
        try:
            request = codec.decode(conn.recv_bytes(MAX_REQUEST))
        except (EOFError, OSError):
            return
        request_id, kind, *args = request
        try:
            if kind == "exec":
                value: Any = student.exec(*args)
            elif kind == "call":
                value = student.call(*args)
            elif kind == "bind":
                value = student.bind(*args)
            elif kind == "unbind":
                value = student.unbind()
            else:
                raise ValueError(f"unknown request {kind!r}")
            try:
                message = codec.encode((request_id, "ok", value, out.take()))
            except codec.CodecError as exc:  # the result is not plain data
                message = codec.encode((request_id, "error", "TypeError", str(exc), "",
                                        out.take()))
        except BaseException as exc:  # the student's code may raise anything, even SystemExit
            try:
                message = codec.encode(_error(request_id, exc, out.take()))
            except codec.CodecError:
                message = codec.encode((request_id, "error", type(exc).__name__, "", "", ""))
        conn.send_bytes(message)
