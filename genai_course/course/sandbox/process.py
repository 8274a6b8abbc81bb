"""The grader's side of the sandbox: run a student's answers in an isolated process and call
them through proxies, so no student code ever runs in the process that checks the results.

A :class:`StudentProcess` asks the sandbox template (:class:`Template`, one per grading
process, kept warm across submissions) for a fresh student process, runs the notebook's
imports cell and each answer cell there, and binds, for each name the exercise asks for, a
proxy function: calling it sends the arguments over, runs the student's function there, and
returns its result rebuilt from plain data by :mod:`~genai_course.course.sandbox.codec`.
Patching ``torch.allclose``, the check helpers, ``assert`` or IPython inside the student's
process changes nothing here, and a result whose type is not plain data is refused.

Nothing the student's process sends is trusted. Every reply must answer the request just
sent (request ids), decode under the codec's strict rules, have the right shape, and name
only the exercise's exports; anything else is a :class:`ProtocolViolation` and the process
is killed. Every request runs under a time limit, and the template watches the student's
whole process tree (memory, CPU, processes). When the process loops, crashes, outgrows a
limit or breaks the protocol, its whole process tree is killed and the proxy raises
:class:`GradingTimeout`, :class:`StudentProcessDied`, :class:`MemoryLimitExceeded`,
:class:`ResourceLimitExceeded` or :class:`ProtocolViolation`; the next request starts a
fresh process and replays the set-up and the answer cells that ran before (the template
imports ahead what those cells import of :data:`WARM_ANSWER_MODULES`). A function that failed
that way once fails at once afterwards, so a looping answer costs one time limit.

``package_disabled`` (:mod:`genai_course.grading`) is honoured by starting a fresh student
process in which the package's functions were switched off before the student's cells are
replayed, so no copy of them exists there; the process without them is kept and taken back
afterwards. ``reference_answers`` binds the solution of an earlier exercise under its name.

Used in: grading (every chapter).
"""

from __future__ import annotations

import ast
import builtins
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import numpy as np
import torch

from genai_course.course.sandbox import codec, isolation
from genai_course.course.sandbox.template import Limits

MAX_MESSAGE = codec.MAX_BYTES + 8
OUTPUT_LINES = 8
OUTPUT_LINE_CHARS = 160


class SandboxError(Exception):
    """Base class of the ways a student's process can fail outside their own code."""


class GradingTimeout(SandboxError):
    """The student's code did not finish within the time limit."""


class StudentProcessDied(SandboxError):
    """The process running the student's code exited (os._exit, a crash, a segfault)."""


class MemoryLimitExceeded(SandboxError):
    """The student's processes used more memory than allowed."""


class ResourceLimitExceeded(SandboxError):
    """The student's processes used too many CPU cores or processes."""


class ProtocolViolation(SandboxError):
    """The student's process sent something the grader did not ask for."""


class StudentCodeError(Exception):
    """The student's code raised an exception that is not a Python built-in one."""


def _write_back(mine: Any, theirs: Any) -> None:
    """Leave the grader's argument ``mine`` as the student's function left its copy
    ``theirs`` (changed in place), as an in-process call would: only a tensor or array of the
    same type, shape and dtype is copied, into ``mine``'s own memory; anything else is
    ignored, so the student's process can never change what a test holds beyond the
    arguments the test gave it."""
    if theirs is None or type(theirs) is not type(mine):
        return
    if type(mine) is torch.Tensor and theirs.shape == mine.shape and theirs.dtype == mine.dtype:
        with torch.no_grad():
            mine.copy_(theirs)
    elif type(mine) is np.ndarray and theirs.shape == mine.shape and \
            theirs.dtype == mine.dtype and mine.flags.writeable:
        np.copyto(mine, theirs)


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


# Modules of a student's answer cells the template may import ahead, so a fresh process
# (``package_disabled``) does not import them again under the time limit. Only libraries
# whose import starts no thread and changes nothing shared: the template forks every later
# student's process, so a student must not choose what else it runs.
WARM_ANSWER_MODULES = frozenset({
    "bisect", "cmath", "collections", "dataclasses", "decimal", "fractions", "functools",
    "heapq", "itertools", "math", "numpy", "operator", "random", "re", "scipy", "statistics",
    "string", "torch", "typing"})


def warm_answer_modules(source: str) -> list[str]:
    """The modules of :data:`WARM_ANSWER_MODULES` (and their submodules) an answer cell
    imports."""
    return [name for name in imported_modules(source)
            if name.partition(".")[0] in WARM_ANSWER_MODULES]


def imported_modules(source: str) -> list[str]:
    """Modules an imports cell imports (the template imports them once, ahead)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # a student's source
        return []
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def _cell_number() -> object:
    """The notebook cell running now (IPython's execution count), or None outside IPython."""
    shell = getattr(builtins, "get_ipython", lambda: None)()
    return None if shell is None else shell.execution_count


class Template:
    """The grader's handle on the sandbox template process (see
    :mod:`genai_course.course.sandbox.template`); use :func:`template`."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        argv = [sys.executable, "-c", "from genai_course.course.sandbox.template import main; "
                "main()", mode, str(theirs.fileno())]
        cmd = argv if mode == "none" else isolation.bwrap_command(mode, argv)
        self.proc = subprocess.Popen(cmd, pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        theirs.close()
        self.ctl = ours
        self.lock = threading.Lock()
        self.events: dict[tuple[str, int], dict] = {}
        self.forget: set[int] = set()  # killed without waiting: drop their "ended"
        self.changed = threading.Condition()
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                data = self.ctl.recv(1 << 16)
            except OSError:
                data = b""
            with self.changed:
                if not data:
                    self.events[("gone", 0)] = {}
                    self.changed.notify_all()
                    return
                message = json.loads(data)
                if message["op"] == "ended" and message["id"] in self.forget:
                    self.forget.discard(message["id"])
                else:
                    self.events[(message["op"], message["id"])] = message
                self.changed.notify_all()

    def alive(self) -> bool:
        return self.proc.poll() is None and ("gone", 0) not in self.events

    def _wait(self, kinds: tuple[str, ...], child: int, timeout: float) -> dict | None:
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                for kind in kinds:
                    if (kind, child) in self.events:
                        return self.events.pop((kind, child))
                if ("gone", 0) in self.events or time.monotonic() > deadline:
                    return None
                self.changed.wait(min(0.5, max(0.0, deadline - time.monotonic())))

    def spawn(self, modules: list[str], disable: list[tuple[str, str]], limits: Limits,
              uid: int | None) -> tuple[int, socket.socket]:
        """Ask for a new student process; returns its id and the grader's end of its
        connection (the template answers while the caller goes on: see :meth:`started`)."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        with self.lock:
            self.next_id += 1
            child = self.next_id
            request = {"op": "spawn", "id": child, "modules": modules,
                       "disable": [list(f) for f in disable], "uid": uid,
                       "limits": asdict(limits)}
            try:
                socket.send_fds(self.ctl, [json.dumps(request).encode()], [theirs.fileno()])
            except OSError:
                pass  # the template is gone; started() says so
        theirs.close()
        return child, ours

    def started(self, child: int, timeout: float) -> None:
        reply = self._wait(("spawned", "error"), child, timeout)
        if reply is None:
            raise StudentProcessDied("the sandbox template did not start a process "
                                     f"(within {timeout:g} s)")
        if reply["op"] == "error":
            raise StudentProcessDied(f"the sandbox could not start a process: {reply['error']}")

    def ended(self, child: int, timeout: float) -> dict | None:
        """The template's word that ``child`` ended, and why (None if it has not)."""
        return self._wait(("ended",), child, timeout)

    def kill(self, child: int, wait: bool = True) -> None:
        """Kill ``child``'s whole process tree (and wait until it is gone)."""
        with self.changed:
            if self.events.pop(("ended", child), None) is not None:
                return  # it ended already
            if not wait:
                self.forget.add(child)
        with self.lock:
            try:
                self.ctl.send(json.dumps({"op": "kill", "id": child}).encode())
            except OSError:
                self.forget.discard(child)
                return
        if wait:
            self.ended(child, 10.0)

    def wait_gone(self, children: Iterable[int], timeout: float) -> None:
        """Wait until the children killed without waiting have ended."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while self.forget & set(children) and "gone" not in {k for k, _ in self.events}:
                if time.monotonic() > deadline:
                    return
                self.changed.wait(0.1)

    def close(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()
        self.ctl.close()


_TEMPLATE: Template | None = None
_TEMPLATE_LOCK = threading.Lock()


def template(mode: str) -> Template:
    """This process's sandbox template in ``mode``, started on first use and restarted if
    it died."""
    global _TEMPLATE
    with _TEMPLATE_LOCK:
        if _TEMPLATE is not None and (_TEMPLATE.mode != mode or not _TEMPLATE.alive()):
            _TEMPLATE.close()
            _TEMPLATE = None
        if _TEMPLATE is None:
            _TEMPLATE = Template(mode)
        return _TEMPLATE


@dataclass
class _Cell:
    source: str
    label: str
    exports: list[str]


@dataclass
class _Child:
    """One student process: its id at the template, its connection, and its replies."""

    id: int
    conn: Connection
    replies: queue.Queue
    done: threading.Event
    pending: bool = True  # the set-up is running; the first request waits for it

    @classmethod
    def open(cls, child: int, sock: socket.socket) -> _Child:
        conn = Connection(sock.detach())
        replies: queue.Queue = queue.Queue(maxsize=1)  # never read ahead of the grader
        done = threading.Event()

        def put(item: tuple) -> bool:
            while not done.is_set():
                try:
                    replies.put(item, timeout=0.5)
                    return True
                except queue.Full:
                    pass
            return False

        def read() -> None:  # a thread, so a child that stalls mid-message cannot block us
            try:
                while put(("message", conn.recv_bytes(MAX_MESSAGE))):
                    pass
            except (EOFError, OSError) as exc:
                too_long = isinstance(exc, OSError) and "bad message length" in str(exc)
                put(("violation" if too_long else "eof", str(exc)))

        threading.Thread(target=read, daemon=True).start()
        return cls(child, conn, replies, done)

    def close(self) -> None:
        self.done.set()
        self.conn.close()


@dataclass
class StudentProcess:
    """A sandboxed student process holding one student's answers (module docstring).

    ``setup`` runs first (the notebook's imports); ``call_timeout`` (seconds) bounds each
    answer cell and each call, ``setup_timeout`` the set-up; ``limits`` bound the whole
    process tree; ``references`` are the solutions of the chapter's exercises by grade_id
    (for ``grading.reference_answers``); ``warm_modules`` are modules of
    :data:`WARM_ANSWER_MODULES` the answers import, which the template imports ahead so their
    import time is not charged to the student's time limit.
    """

    setup: str = ""
    call_timeout: float = 10.0
    setup_timeout: float = 120.0
    limits: Limits = field(default_factory=Limits)
    on_output: Callable[[str], None] = print
    references: dict[str, str] = field(default_factory=dict)
    warm_modules: list[str] = field(default_factory=list)
    isolation: isolation.Isolation | None = None
    _child: _Child | None = field(default=None, repr=False)
    _clean: _Child | None = field(default=None, repr=False)
    _cells: list[_Cell] = field(default_factory=list, repr=False)
    _broken: dict[str, SandboxError] = field(default_factory=dict, repr=False)
    _disabled: list[tuple[str, str]] = field(default_factory=list, repr=False)
    _bound: dict[str, str] = field(default_factory=dict, repr=False)
    _request: int = field(default=0, repr=False)
    _uid: tuple[int, socket.socket] | None = field(default=None, repr=False)
    _dying: list[int] = field(default_factory=list, repr=False)
    _output_cell: object = field(default=None, repr=False)
    _output_lines: int = field(default=0, repr=False)

    # -- process management -------------------------------------------------------------
    def _template(self) -> Template:
        if self.isolation is None:
            self.isolation = isolation.require()
        return template(self.isolation.mode)

    def _spawn(self, disabled: list[tuple[str, str]]) -> _Child:
        tmpl = self._template()
        if tmpl.mode == "root" and self._uid is None:
            self._uid = isolation.claim_uid()
        modules = imported_modules(self.setup) + self.warm_modules
        modules += [m for cell in self._cells for m in warm_answer_modules(cell.source)]
        child, sock = tmpl.spawn(modules, disabled, self.limits,
                                 None if self._uid is None else self._uid[0])
        self._child = _Child.open(child, sock)
        self._send(("exec", self.setup, "setup", []))
        return self._child

    def start(self) -> None:
        """Start the student process now (it runs the set-up while the caller goes on)."""
        if self._child is None:
            self._spawn(self._disabled)

    def _replay(self) -> None:
        """After a restart: the answer cells that ran before, quietly, errors and all, and
        the reference answers bound now."""
        shown, self.on_output = self.on_output, lambda text: None
        try:
            for cell in self._cells:
                try:
                    self._call(("exec", cell.source, cell.label, cell.exports),
                               self.call_timeout, cell.label)
                except Exception:
                    pass
        finally:
            self.on_output = shown
        if self._bound:
            self._call(("bind", self._reference_sources()), self.call_timeout, "set-up")

    def _ensure(self) -> None:
        if self._child is None:
            self._spawn(self._disabled)
            self._replay()

    def _kill(self, child: _Child | None, wait: bool = True) -> None:
        if child is None:
            return
        if _TEMPLATE is not None:
            _TEMPLATE.kill(child.id, wait)
            if not wait:
                self._dying.append(child.id)
        child.close()

    def close(self) -> None:
        """Kill the student's processes (every one of them) and free their uid."""
        self._kill(self._child)
        self._kill(self._clean)
        self._child = self._clean = None
        if _TEMPLATE is not None:
            _TEMPLATE.wait_gone(self._dying, 10.0)
        self._dying = []
        if self._uid is not None:
            self._uid[1].close()
            self._uid = None

    # -- requests -------------------------------------------------------------------------
    def _send(self, request: tuple) -> int:
        assert self._child is not None
        self._request += 1
        try:
            self._child.conn.send_bytes(codec.encode((self._request, *request)))
        except OSError:
            pass  # the process is gone; waiting for the reply reports how
        return self._request

    def _call(self, request: tuple, timeout: float, what: str) -> Any:
        assert self._child is not None
        if self._child.pending:
            self._child.pending = False
            self._template().started(self._child.id, self.setup_timeout)
            shown, self.on_output = self.on_output, lambda text: None
            try:  # the kernel runs and shows the same imports cell
                self._await(self._request, self.setup_timeout, "the set-up code")
            finally:
                self.on_output = shown
        return self._await(self._send(request), timeout, what)

    def _fail(self, error: SandboxError) -> SandboxError:
        self._kill(self._child)
        self._child = None
        return error

    def _await(self, request_id: int, timeout: float, what: str) -> Any:
        assert self._child is not None
        child = self._child
        try:
            kind, data = child.replies.get(timeout=timeout)
        except queue.Empty:
            raise self._fail(GradingTimeout(
                f"{what} did not finish within {timeout:g} s (an infinite loop?); "
                "it was stopped")) from None
        if kind == "eof":
            ended = (_TEMPLATE.ended(child.id, 2.0) if _TEMPLATE is not None else None) or {}
            why = ended.get("why")
            self._child = None
            child.close()
            if why and "memory" in why:
                raise MemoryLimitExceeded(f"{what} {why}; it was stopped")
            if why:
                raise ResourceLimitExceeded(f"{what} {why}; it was stopped")
            raise StudentProcessDied(
                f"the Python process running your code exited during {what}; grading "
                "went on in a fresh process")
        if kind == "violation":
            raise self._fail(ProtocolViolation(f"{what}: the reply was too long ({data})"))
        try:
            reply = codec.decode(data)
            if type(reply) is not tuple or len(reply) < 3 or reply[0] != request_id:
                raise codec.CodecError(f"a reply that does not answer request {request_id}")
            status = reply[1]
            if status == "ok" and len(reply) == 4 and type(reply[3]) is str:
                _, _, value, output = reply
                self._show(output)
                return value
            if status == "error" and len(reply) == 6 and all(type(x) is str for x in reply[2:]):
                _, _, name, text, trace, output = reply
                self._show(output)
                if name == "MemoryError":
                    raise self._fail(MemoryLimitExceeded(
                        f"{what} used more than {self.limits.memory_mb} MB of memory; "
                        "it was stopped"))
                raise _rebuild_exception(name, text, trace)
            raise codec.CodecError("a reply of the wrong shape")
        except codec.CodecError as exc:
            raise self._fail(ProtocolViolation(
                f"{what}: the student's process broke the grading protocol ({exc}); it was "
                "stopped")) from None

    def _show(self, output: str) -> None:
        """Pass on what the student's code printed, cut to a few short lines per notebook
        cell (the rest is counted, not shown)."""
        if not output:
            return
        cell = _cell_number()
        if cell != self._output_cell:
            self._output_cell, self._output_lines = cell, 0
        lines = output.splitlines()
        room = max(0, OUTPUT_LINES - self._output_lines)
        shown = [ln if len(ln) <= OUTPUT_LINE_CHARS else ln[:OUTPUT_LINE_CHARS] + " [...]"
                 for ln in lines[:room]]
        if len(lines) > room and self._output_lines <= OUTPUT_LINES:
            shown.append("[... the rest of your code's output here is not shown]")
        self._output_lines += len(lines) + 1
        if shown:
            self.on_output("\n".join(shown))

    # -- what the grader calls ----------------------------------------------------------
    def run_cell(self, source: str, label: str, exports: Iterable[str]) -> dict[str, Any]:
        """Run an answer cell; return ``{name: proxy or value}`` for each of ``exports``
        the cell defined. A cell that hangs or crashes is not replayed."""
        cell = _Cell(source, label, list(exports))
        self._ensure()
        try:
            reply = self._call(("exec", source, label, cell.exports), self.call_timeout,
                               f"answer cell {label}")
        except SandboxError:
            raise  # a cell that hangs or kills the process is not replayed
        except Exception:
            self._cells.append(cell)  # it ran, with an error, as it would in a notebook
            raise
        self._cells.append(cell)
        try:
            functions, values = reply
            if not (type(functions) is list and type(values) is dict
                    and set(functions) | set(values) <= set(cell.exports)
                    and all(type(n) is str for n in functions)):
                raise TypeError
        except (TypeError, ValueError):
            raise self._fail(ProtocolViolation(
                f"answer cell {label}: the student's process named values the exercise "
                "does not ask for; it was stopped")) from None
        return {**values, **{name: self.proxy(name) for name in functions}}

    def call(self, name: str, args: tuple, kwargs: dict) -> Any:
        """Call the student's ``name(*args, **kwargs)`` in the student's process."""
        if name in self._broken:
            earlier = self._broken[name]
            raise type(earlier)(f"{earlier} (earlier in this grading run; not run again)")
        self._ensure()
        try:
            reply = self._call(("call", name, args, kwargs), self.call_timeout, f"{name}()")
        except SandboxError as exc:
            self._broken[name] = exc
            raise
        try:
            result, changed_args, changed_kwargs = reply
            if not (type(changed_args) is list and len(changed_args) == len(args)
                    and type(changed_kwargs) is dict and set(changed_kwargs) <= set(kwargs)):
                raise TypeError
        except (TypeError, ValueError):
            raise self._fail(ProtocolViolation(
                f"{name}(): the student's process sent a malformed reply; it was "
                "stopped")) from None
        for mine, theirs in [*zip(args, changed_args, strict=True),
                             *((kwargs[k], v) for k, v in changed_kwargs.items())]:
            _write_back(mine, theirs)
        return result

    def proxy(self, name: str) -> Callable[..., Any]:
        """A function that forwards its calls to the student's ``name``."""

        def student_function(*args: Any, **kwargs: Any) -> Any:
            return self.call(name, args, kwargs)

        student_function.__name__ = student_function.__qualname__ = name
        student_function.__doc__ = f"Your {name}, run in the grading sandbox."
        return student_function

    def disable(self, functions: Iterable[Callable[..., Any]]) -> None:
        """Switch the package's ``functions`` off for the student's code: a fresh process
        in which they never existed (see grading.package_disabled)."""
        names = [(f.__module__, getattr(f, "__func__", f).__qualname__) for f in functions]
        self._clean, self._child = self._child, None
        self._disabled = names
        self._ensure()

    def enable(self) -> None:
        """Back to the student's process with the package intact."""
        self._disabled = []
        self._kill(self._child, wait=False)  # close() waits for every process at the end
        self._child, self._clean = self._clean, None

    def _reference_sources(self) -> dict[str, str]:
        return {name: self.references[gid] for name, gid in self._bound.items()}

    def bind_references(self, names: dict[str, str]) -> None:
        """While the tests of a later exercise run, the student's code sees the solution of
        each earlier exercise (``{name: grade_id}``) under ``name``."""
        unknown = [gid for gid in names.values() if gid not in self.references]
        if unknown:
            raise KeyError(f"no reference answer for {', '.join(unknown)}")
        self._bound = dict(names)
        self._ensure()
        self._call(("bind", self._reference_sources()), self.call_timeout, "set-up")

    def unbind_references(self) -> None:
        self._bound = {}
        if self._child is not None:
            self._call(("unbind",), self.call_timeout, "set-up")
