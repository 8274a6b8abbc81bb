"""The grader's side of the sandbox: run a student's answers in a child process and call
them through proxies, so no student code ever runs in the process that checks the results.

The child (:mod:`genai_course.course.sandbox.child`) runs the set-up code (the notebook's imports
cell) and each answer cell. The grader gets back, for each name the exercise asks for, a
proxy function: calling it sends the arguments to the child, runs the student's function
there, and returns its result rebuilt from plain data by :mod:`~genai_course.course.sandbox.codec`.
Patching ``torch.allclose``, the check helpers, ``assert`` or IPython inside the child
changes nothing in the grader, and a result whose type is not plain data is refused.

Every request runs under a time limit and a memory limit. When the child loops, crashes
(``os._exit``, a segfault) or outgrows its memory, it is killed (with everything it started)
and the proxy raises :class:`GradingTimeout`, :class:`StudentProcessDied` or
:class:`MemoryLimitExceeded`; the next request starts a fresh child and replays the set-up
and the answer cells that ran cleanly. A function that timed out or crashed once fails at
once afterwards, so a looping answer costs one time limit, not one per test.
"""

from __future__ import annotations

import builtins
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from genai_course.course.sandbox import codec

MAX_MESSAGE = codec.MAX_BYTES + 2**20


class SandboxError(Exception):
    """Base class of the ways a student's process can fail outside their own code."""


class GradingTimeout(SandboxError):
    """The student's code did not finish within the time limit."""


class StudentProcessDied(SandboxError):
    """The process running the student's code exited (os._exit, a crash, a segfault)."""


class MemoryLimitExceeded(SandboxError):
    """The process running the student's code used more memory than allowed."""


class StudentCodeError(Exception):
    """The student's code raised an exception that is not a Python built-in one."""


def _rss_bytes(pid: int) -> int:
    """Resident memory of ``pid`` (Linux /proc; 0 where unavailable)."""
    try:
        with open(f"/proc/{pid}/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _rebuild_exception(name: str, message: str, trace: str) -> Exception:
    """The student's exception as a built-in type of the same name where there is one, so
    a test expecting ``ValueError`` still sees one; the traceback goes in the message."""
    kind = getattr(builtins, name, None)
    text = f"{message}\n\nTraceback in your code:\n{trace}" if trace else message
    if isinstance(kind, type) and issubclass(kind, Exception) and kind.__module__ == "builtins":
        try:
            return kind(text)
        except Exception:  # an exception type whose constructor needs more arguments
            pass
    return StudentCodeError(f"{name}: {text}")


@dataclass
class _Cell:
    source: str
    label: str
    exports: list[str]


@dataclass
class StudentProcess:
    """A sandboxed child process holding one student's answers (see the module docstring).

    ``setup`` runs first (the notebook's imports); ``call_timeout`` (seconds) bounds each
    answer cell and each call, ``setup_timeout`` the set-up; ``memory_mb`` bounds the child's
    resident memory.
    """

    setup: str = ""
    call_timeout: float = 10.0
    setup_timeout: float = 120.0
    memory_mb: int = 2048
    on_output: Callable[[str], None] = print
    _proc: subprocess.Popen | None = field(default=None, repr=False)
    _replies: queue.Queue | None = field(default=None, repr=False)
    _inbox: Connection | None = field(default=None, repr=False)
    _cells: list[_Cell] = field(default_factory=list, repr=False)
    _broken: dict[str, SandboxError] = field(default_factory=dict, repr=False)
    _disabled: list[tuple[str, str]] = field(default_factory=list, repr=False)
    _pending: bool = field(default=False, repr=False)

    # -- process management -------------------------------------------------------------
    def _start(self) -> None:
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "genai_course.course.sandbox.child", str(to_child_r),
             str(from_child_w)],
            pass_fds=(to_child_r, from_child_w), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            env=env,
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self._inbox = Connection(to_child_w, readable=False)
        replies: queue.Queue = queue.Queue()
        self._replies = replies
        outbox = Connection(from_child_r, writable=False)

        def read() -> None:  # a thread, so a child that stalls mid-message cannot block us
            try:
                while True:
                    replies.put(outbox.recv_bytes(MAX_MESSAGE))
            except (EOFError, OSError):
                replies.put(None)
            finally:
                outbox.close()

        threading.Thread(target=read, daemon=True).start()
        # the set-up runs while the caller goes on; the first request waits for it
        self._send(("exec", self.setup, "setup", []))
        self._pending = True

    def _replay(self) -> None:
        """After a restart: the answer cells that ran before, quietly, errors and all."""
        shown, self.on_output = self.on_output, lambda text: None
        try:
            for cell in self._cells:
                try:
                    self._request(("exec", cell.source, cell.label, cell.exports),
                                  self.call_timeout, cell.label)
                except Exception:
                    pass
        finally:
            self.on_output = shown
        if self._disabled:
            self._request(("disable", self._disabled), self.call_timeout, "set-up")

    def close(self) -> None:
        """Kill the child and everything it started."""
        if self._proc is not None:
            try:
                os.killpg(self._proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self._proc.wait()
            self._proc = None
        if self._inbox is not None:
            self._inbox.close()
            self._inbox = None
        self._pending = False

    def _send(self, request: tuple) -> None:
        assert self._inbox is not None
        try:
            self._inbox.send_bytes(codec.encode(request))
        except OSError:
            pass  # the child is gone; waiting for the reply reports how

    def _request(self, request: tuple, timeout: float, what: str) -> Any:
        if self._pending:
            self._pending = False
            self._await(self.setup_timeout, "the set-up code")
        self._send(request)
        return self._await(timeout, what)

    def _await(self, timeout: float, what: str) -> Any:
        assert self._proc is not None and self._replies is not None
        deadline = time.monotonic() + timeout
        limit = self.memory_mb * 2**20
        while True:
            try:
                message = self._replies.get(timeout=0.02)
                break
            except queue.Empty:
                pass
            if _rss_bytes(self._proc.pid) > limit:
                self.close()
                raise MemoryLimitExceeded(
                    f"{what} used more than {self.memory_mb} MB of memory; it was stopped")
            if time.monotonic() > deadline:
                self.close()
                raise GradingTimeout(
                    f"{what} did not finish within {timeout:g} s (an infinite loop?); "
                    "it was stopped")
        if message is None:
            code = self._proc.wait()
            self.close()
            raise StudentProcessDied(
                f"the Python process running your code exited (exit code {code}) during "
                f"{what}; grading went on in a fresh process")
        status, *rest = codec.decode(message)
        if status == "ok":
            value, output = rest
            if output:
                self.on_output(output)
            return value
        name, text, trace, output = rest
        if output:
            self.on_output(output)
        raise _rebuild_exception(name, text, trace)

    def start(self) -> None:
        """Start the child now (it runs the set-up while the caller goes on)."""
        if self._proc is None:
            self._start()

    def _ensure(self) -> None:
        if self._proc is None:
            self._start()
            self._replay()

    # -- what the grader calls ----------------------------------------------------------
    def run_cell(self, source: str, label: str, exports: Iterable[str]) -> dict[str, Any]:
        """Run an answer cell in the child; return ``{name: proxy or value}`` for each of
        ``exports`` the cell defined. A cell that hangs or crashes is not replayed."""
        cell = _Cell(source, label, list(exports))
        self._ensure()
        try:
            functions, values = self._request(
                ("exec", source, label, cell.exports), self.call_timeout, f"answer cell {label}")
        except SandboxError:
            raise  # a cell that hangs or kills the process is not replayed
        except Exception:
            self._cells.append(cell)  # it ran, with an error, as it would in a notebook
            raise
        self._cells.append(cell)
        return {**values, **{name: self.proxy(name) for name in functions}}

    def call(self, name: str, args: tuple, kwargs: dict) -> Any:
        """Call the student's ``name(*args, **kwargs)`` in the child."""
        if name in self._broken:
            earlier = self._broken[name]
            raise type(earlier)(f"{earlier} (earlier in this grading run; not run again)")
        self._ensure()
        try:
            return self._request(("call", name, args, kwargs), self.call_timeout, f"{name}()")
        except SandboxError as exc:
            self._broken[name] = exc
            raise

    def proxy(self, name: str) -> Callable[..., Any]:
        """A function that forwards its calls to the student's ``name``."""

        def student_function(*args: Any, **kwargs: Any) -> Any:
            return self.call(name, args, kwargs)

        student_function.__name__ = student_function.__qualname__ = name
        student_function.__doc__ = f"Your {name}, run in the grading sandbox."
        return student_function

    def disable(self, functions: Iterable[Callable[..., Any]]) -> None:
        """Switch the package's ``functions`` off in the child (see grading.package_disabled)."""
        names = [(f.__module__, f.__qualname__) for f in functions]
        self._disabled = names
        if self._proc is not None:
            self._request(("disable", names), self.call_timeout, "package_disabled")

    def enable(self) -> None:
        self._disabled = []
        if self._proc is not None:
            self._request(("enable",), self.call_timeout, "package_disabled")
