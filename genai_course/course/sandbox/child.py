"""The student's side of the sandbox: a child process that runs answer cells and calls.

Started by :class:`genai_course.course.sandbox.process.StudentProcess` as
``python -m genai_course.course.sandbox.child READ_FD WRITE_FD``. It reads requests, each a
:mod:`~genai_course.course.sandbox.codec` message, and answers each one:

* ``("exec", source, label, exports)``: run ``source`` in the student namespace; reply with
  which exported names are callables and the values of the other exported names.
* ``("call", name, args, kwargs)``: call the student's function; reply with its result.
* ``("disable", [(module, qualname), ...])`` / ``("enable",)``: switch the package's own
  implementations off (``grading.package_disabled``) and back on.

Whatever the student's code prints is kept up to a limit and sent back with the reply; the
process's own stdout and stderr go to ``/dev/null``.
"""

from __future__ import annotations

import builtins
import contextlib
import importlib
import io
import os
import sys
import traceback
from multiprocessing.connection import Connection
from typing import Any

from genai_course.course.sandbox import codec

OUTPUT_LIMIT = 20_000


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


def _error(exc: BaseException, output: str) -> tuple:
    lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
    # drop the worker's own frames: the student sees their code only
    lines = [lines[0]] + [ln for ln in lines[1:] if __file__ not in ln]
    return ("error", type(exc).__name__, str(exc)[:2000], "".join(lines)[-4000:], output)


def _encodable(value: Any) -> bool:
    try:
        codec.encode(value)
    except codec.CodecError:
        return False
    return True


def _resolve(module: str, qualname: str) -> Any:
    target: Any = importlib.import_module(module)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


def serve(inbox: Connection, outbox: Connection) -> None:
    out = CappedOutput()
    sys.stdout = sys.stderr = out
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    disabled: contextlib.ExitStack | None = None
    while True:
        try:
            request = codec.decode(inbox.recv_bytes())
        except EOFError:
            return
        kind = request[0]
        try:
            if kind == "exec":
                _, source, label, exports = request
                exec(compile(source, f"<{label}>", "exec"), namespace)
                functions, values = [], {}
                for name in exports:
                    if callable(namespace.get(name)):
                        functions.append(name)
                    elif name in namespace and _encodable(namespace[name]):
                        values[name] = namespace[name]
                reply: tuple = ("ok", (functions, values), out.take())
            elif kind == "call":
                _, name, args, kwargs = request
                reply = ("ok", namespace[name](*args, **kwargs), out.take())
            elif kind == "disable":
                from genai_course.grading import package_disabled

                disabled = contextlib.ExitStack()
                disabled.enter_context(package_disabled(*(_resolve(*f) for f in request[1])))
                reply = ("ok", None, "")
            elif kind == "enable":
                if disabled is not None:
                    disabled.close()
                    disabled = None
                reply = ("ok", None, "")
            else:
                reply = ("error", "ValueError", f"unknown request {kind!r}", "", "")
            try:
                message = codec.encode(reply)
            except codec.CodecError as exc:  # the result is not plain data
                message = codec.encode(("error", "TypeError", str(exc), "", out.take()))
        except BaseException as exc:  # the student's code may raise anything, even SystemExit
            try:
                message = codec.encode(_error(exc, out.take()))
            except codec.CodecError:
                message = codec.encode(("error", type(exc).__name__, "", "", ""))
        outbox.send_bytes(message)


if __name__ == "__main__":
    inbox = Connection(int(sys.argv[1]), writable=False)
    serve(inbox, Connection(int(sys.argv[2]), readable=False))
    os._exit(0)  # do not wait for threads the student's code may have left running
