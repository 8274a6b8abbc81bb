"""The warm template of the grading sandbox: one process, started inside bubblewrap, that has
imported torch and the package once and forks a fresh, isolated process for each student.

Starting Python and importing torch costs seconds; forking a process that has already done
so costs milliseconds. The template never runs student code. For each ``spawn`` request it
forks, and the new process, before the first line of student code runs:

1. enters new mount, PID, network, IPC and UTS namespaces (and, where the grader is not root,
   a user namespace of its own), so it sees no other process, has no network, and is the
   init process of its PID namespace: when it exits or is killed, every process it started
   dies with it;
2. mounts a private, size-capped tmpfs on ``/tmp`` and ``/dev/shm``, and a ``/proc`` of its own;
3. replaces the package functions a hidden test switches off (``grading.package_disabled``)
   by ones that raise, in memory and on disk (their source and bytecode are hidden behind
   a stripped copy), so no copy of the real code is left to find;
4. sets resource limits (processes, address space, file size, open files, no core dumps),
   becomes an unprivileged user (its own uid per sandbox where the grader is root), gives
   up every capability, and only then serves the grader
   (:func:`genai_course.course.sandbox.child.serve`).

While children run, the template watches each one's whole process tree every few
milliseconds (memory, including its tmpfs; CPU cores used; processes) and kills the tree
that goes over a limit, telling the grader why.

Protocol with the grader (:class:`genai_course.course.sandbox.process.Template`): JSON
messages on one ``SOCK_SEQPACKET`` socket; a ``spawn`` carries the new student's end of a
socket pair as ``SCM_RIGHTS``::

    -> {"op": "spawn", "id": 3, "modules": [...], "disable": [[module, qualname], ...],
        "uid": 1073741827 or null, "limits": {...}}
    <- {"op": "spawned", "id": 3} or {"op": "error", "id": 3, "error": "..."}
    -> {"op": "kill", "id": 3}
    <- {"op": "ended", "id": 3, "why": null or "used more than 1024 MB of memory"}

Used in: grading (every chapter).
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import resource
import select
import signal
import socket
import sys
import time
import traceback
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from genai_course.course.sandbox import linux

STRIPPED_DIR = "/run/genai-course-stripped"
PROC_COVERED = ("/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus")
WATCH_INTERVAL = 0.05
CPU_WINDOW = 2.0


@dataclass
class Limits:
    """What one student's process tree may use (see docs/instructors.md)."""

    memory_mb: int = 2048
    processes: int = 32
    tmp_mb: int = 64
    cpus: float = 1.5
    open_files: int = 256


@dataclass
class Child:
    """A student process (the init process of its own PID namespace) and its bookkeeping."""

    id: int
    pid: int
    limits: Limits
    why: str | None = None
    cpu: list[tuple[float, float]] = field(default_factory=list)


# -- the student's side of a fork --------------------------------------------------------------
def strip_functions(source: str, qualnames: set[str], message: str) -> str:
    """``source`` with each function named in ``qualnames`` (``f``, ``Class.method``) reduced
    to a stub that raises ``PackageCallForbidden``; decorators and everything else kept."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    found: list[ast.FunctionDef | ast.AsyncFunctionDef] = []

    def walk(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if prefix + node.name in qualnames:
                    found.append(node)
                walk(node.body, f"{prefix}{node.name}.<locals>.")
            elif isinstance(node, ast.ClassDef):
                walk(node.body, f"{prefix}{node.name}.")

    walk(tree.body, "")
    for node in sorted(found, key=lambda n: n.lineno, reverse=True):
        indent = " " * node.col_offset
        stub = (f"{indent}def {node.name}(*args, **kwargs):\n{indent}    raise __import__("
                f"'genai_course.grading', fromlist=['_']).PackageCallForbidden({message!r})\n")
        lines[node.lineno - 1:node.end_lineno] = [stub]
    return "".join(lines)


def _resolve(module: str, qualname: str) -> Any:
    target: Any = importlib.import_module(module)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


def disable(functions: list[list[str]], hide_sources: bool) -> None:
    """Switch the package's ``functions`` off for good in this process (see the module
    docstring, step 3)."""
    from genai_course.grading import _forbidden_code

    by_file: dict[str, set[str]] = {}
    for module, qualname in functions:
        target = getattr(_resolve(module, qualname), "__func__", _resolve(module, qualname))
        if not hasattr(target, "__code__") or target.__closure__:
            raise TypeError(f"cannot switch off {module}.{qualname}")
        target.__code__ = _forbidden_code(target.__qualname__)
        by_file.setdefault(sys.modules[module].__file__ or "", set()).add(qualname)
    if not hide_sources or not by_file:
        return
    linux.mount("tmpfs", STRIPPED_DIR, "tmpfs", linux.MS_NOSUID | linux.MS_NODEV, "size=4m")
    message = ("This exercise asks you to write the computation yourself; the package's own "
               "version is switched off while it is graded.")
    for number, (path, qualnames) in enumerate(sorted(by_file.items())):
        copy = Path(STRIPPED_DIR) / f"{number}.py"
        copy.write_text(strip_functions(Path(path).read_text(), qualnames, message))
        linux.mount(str(copy), path, None, linux.MS_BIND)
        linux.mount("none", path, None, linux.MS_REMOUNT | linux.MS_BIND | linux.MS_RDONLY)
        cache = Path(path).parent / "__pycache__"
        if cache.is_dir():  # the compiled original must not be found either
            linux.mount("tmpfs", str(cache), "tmpfs", linux.MS_RDONLY, "size=4k")
    linux.mount("none", STRIPPED_DIR, None, linux.MS_REMOUNT | linux.MS_RDONLY, "size=4m")


def become_student(request: dict, conn_fd: int, mode: str) -> None:
    """Runs in the forked process, in its new namespaces: isolate it (module docstring,
    steps 2-4), then serve the grader. Never returns."""
    import linecache

    from genai_course.course.sandbox import child

    limits = Limits(**request["limits"])
    isolated = mode != "none"
    if isolated:
        linux.mount("none", "/", None, linux.MS_REC | linux.MS_PRIVATE)
        flags = linux.MS_NOSUID | linux.MS_NODEV
        linux.mount("tmpfs", "/tmp", "tmpfs", flags, f"size={limits.tmp_mb}m,mode=1777")
        if os.path.isdir("/dev/shm"):
            linux.mount("tmpfs", "/dev/shm", "tmpfs", flags, "size=16m,mode=1777")
        linux.mount("proc", "/proc", "proc", flags | linux.MS_NOEXEC)
        for path in PROC_COVERED:  # read-only, as bubblewrap does
            if os.path.exists(path):
                linux.mount(path, path, None, linux.MS_BIND | linux.MS_REC)
                linux.mount("none", path, None,
                            linux.MS_REMOUNT | linux.MS_BIND | linux.MS_RDONLY)
        linux.sethostname("sandbox")
    os.closerange(3, conn_fd)
    os.closerange(conn_fd + 1, 1 << 16)
    disable(request["disable"], hide_sources=isolated)
    linecache.clearcache()
    size = 0
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                size = int(line.split()[1]) * 1024
    mb = 2**20
    for what, value in [(resource.RLIMIT_NPROC, limits.processes),
                        (resource.RLIMIT_AS, size + (limits.memory_mb + 256) * mb),
                        (resource.RLIMIT_FSIZE, limits.tmp_mb * mb),
                        (resource.RLIMIT_NOFILE, limits.open_files),
                        (resource.RLIMIT_CORE, 0)]:
        hard = resource.getrlimit(what)[1]
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(what, (value, value))
    if mode == "root":
        linux.drop_bounding_set()  # needs CAP_SETPCAP: before the uid change
        os.setgroups([])
        os.setresgid(request["uid"], request["uid"], request["uid"])
        os.setresuid(request["uid"], request["uid"], request["uid"])
    if isolated:
        linux.drop_capabilities()
        linux.prctl(linux.PR_SET_DUMPABLE, 1)  # its own /proc/self, as for any process
    os.chdir("/tmp" if isolated else os.getcwd())
    child.serve(Connection(conn_fd))


# -- the template ------------------------------------------------------------------------------
class Template:
    """The template's main loop: spawn, kill and watch children (see the module docstring)."""

    def __init__(self, ctl: socket.socket, mode: str) -> None:
        self.ctl, self.mode = ctl, mode
        self.children: dict[int, Child] = {}
        self.helpers: set[int] = set()  # forked intermediates, reaped when they exit
        self.preimported: set[str] = set()

    def send(self, message: dict) -> None:
        try:
            self.ctl.send(json.dumps(message).encode())
        except OSError:
            os._exit(0)  # the grader is gone

    def preimport(self, modules: list[str]) -> None:
        """Import what the notebook's imports cell imports, once, so children start warm."""
        for name in modules:
            if name in self.preimported:
                continue
            self.preimported.add(name)
            try:
                importlib.import_module(name)
            except Exception:
                pass  # the imports cell will report it in the student's process

    def spawn(self, request: dict, conn_fd: int) -> None:
        self.preimport(request["modules"])
        ready_r, ready_w = os.pipe()
        go_r, go_w = os.pipe()
        flags = 0 if self.mode == "none" else (
            linux.CLONE_NEWNS | linux.CLONE_NEWPID | linux.CLONE_NEWNET | linux.CLONE_NEWIPC
            | linux.CLONE_NEWUTS | (linux.CLONE_NEWUSER if self.mode == "user" else 0))
        helper = os.fork()
        if helper == 0:  # the intermediate: new namespaces, then fork the student's process
            code = 1
            try:
                os.close(ready_r)
                os.close(go_w)
                self.ctl.close()
                if flags:
                    linux.unshare(flags)
                os.write(ready_w, b"u")
                os.read(go_r, 1)  # the template has written our uid/gid maps
                pid = os.fork()
                if pid == 0:
                    try:
                        os.close(ready_w)
                        become_student(request, conn_fd, self.mode)
                    except BaseException:
                        traceback.print_exc()  # to the template's stderr (for debugging)
                    finally:
                        os._exit(70)
                os.write(ready_w, str(pid).encode())
                code = 0
            finally:
                os._exit(code)
        os.close(ready_w)
        os.close(go_r)
        os.close(conn_fd)
        try:
            if os.read(ready_r, 1) != b"u":
                raise OSError("the sandbox could not create its namespaces")
            if self.mode == "user":  # the student is nobody (65534) in its own user namespace
                Path(f"/proc/{helper}/setgroups").write_text("deny")
                Path(f"/proc/{helper}/uid_map").write_text(f"65534 {os.getuid()} 1\n")
                Path(f"/proc/{helper}/gid_map").write_text(f"65534 {os.getgid()} 1\n")
            os.write(go_w, b"g")
            pid = int(os.read(ready_r, 32) or b"0")
        except (OSError, ValueError) as exc:
            self.send({"op": "error", "id": request["id"], "error": str(exc)})
            return
        finally:
            os.close(ready_r)
            os.close(go_w)
            self.helpers.add(helper)
        if not pid:
            self.send({"op": "error", "id": request["id"], "error": "fork failed"})
            return
        self.children[pid] = Child(request["id"], pid, Limits(**request["limits"]))
        self.send({"op": "spawned", "id": request["id"]})

    def kill(self, child: Child, why: str | None) -> None:
        if child.why is None:
            child.why = why
        try:
            os.kill(child.pid, signal.SIGKILL)  # the init of its PID namespace: all go
        except ProcessLookupError:
            pass

    def reap(self) -> None:
        while True:
            try:
                pid, _status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.helpers.discard(pid)
            child = self.children.pop(pid, None)
            if child is not None:
                self.send({"op": "ended", "id": child.id, "why": child.why})

    # -- watching -------------------------------------------------------------------------
    @staticmethod
    def _stat(pid: str) -> tuple[int, float] | None:
        """(parent pid, CPU seconds including reaped children) of ``pid``."""
        try:
            with open(f"/proc/{pid}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            return None
        ticks = os.sysconf("SC_CLK_TCK")
        return int(fields[1]), sum(int(f) for f in fields[11:15]) / ticks

    @staticmethod
    def _memory(pid: int, precise: bool) -> int:
        """Resident bytes of ``pid``: RSS (cheap; counts pages shared with the template
        once per process), or PSS (precise and slow) when ``precise``."""
        try:
            if precise:
                with open(f"/proc/{pid}/smaps_rollup") as handle:
                    for line in handle:
                        if line.startswith("Pss:"):
                            return int(line.split()[1]) * 1024
                return 0
            with open(f"/proc/{pid}/statm") as handle:
                return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            return 0

    @staticmethod
    def _tmpfs_bytes(pid: int) -> int:
        used = 0
        for mount in ("tmp", "dev/shm"):
            try:
                st = os.statvfs(f"/proc/{pid}/root/{mount}")
                used += (st.f_blocks - st.f_bfree) * st.f_frsize
            except OSError:
                pass
        return used

    def watch(self) -> None:
        """Check every child's whole process tree against its limits."""
        parents: dict[int, int] = {}
        cpu: dict[int, float] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                stat = self._stat(entry)
                if stat is not None:
                    parents[int(entry)], cpu[int(entry)] = stat
        me = os.getpid()
        for pid, parent in parents.items():  # an orphan escaped to us (no PID namespace)
            if parent == me and pid not in self.children and pid not in self.helpers:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        trees: dict[int, list[int]] = {pid: [pid] for pid in self.children}
        for pid in parents:
            ancestor, hops = pid, 0
            while ancestor not in trees and ancestor in parents and hops < 64:
                ancestor, hops = parents[ancestor], hops + 1
            if ancestor in trees and ancestor != pid:
                trees[ancestor].append(pid)
        now = time.monotonic()
        for pid, child in list(self.children.items()):
            tree, limits = trees[pid], child.limits
            if child.why is not None:
                continue
            if len(tree) > limits.processes:
                self.kill(child, f"started more than {limits.processes} processes")
                continue
            limit = limits.memory_mb * 2**20
            used = self._tmpfs_bytes(pid) if self.mode != "none" else 0
            if used + sum(self._memory(p, False) for p in tree) > limit:
                used += sum(self._memory(p, True) for p in tree)
                if used > limit:
                    self.kill(child, f"used more than {limits.memory_mb} MB of memory")
                    continue
            child.cpu.append((now, sum(cpu.get(p, 0.0) for p in tree)))
            while len(child.cpu) > 2 and now - child.cpu[1][0] >= CPU_WINDOW:
                child.cpu.pop(0)
            (t0, c0), (t1, c1) = child.cpu[0], child.cpu[-1]
            if t1 - t0 >= CPU_WINDOW and (c1 - c0) / (t1 - t0) > limits.cpus:
                self.kill(child, f"kept more than {limits.cpus:g} CPU cores busy")

    def run(self) -> None:
        while True:
            ready, _, _ = select.select([self.ctl], [], [],
                                        WATCH_INTERVAL if self.children else None)
            if ready:
                try:
                    data, fds, _flags, _addr = socket.recv_fds(self.ctl, 1 << 20, 1)
                except OSError:
                    data, fds = b"", []
                if not data:
                    return  # the grader closed the connection
                message = json.loads(data)
                if message["op"] == "spawn" and fds:
                    self.spawn(message, fds[0])
                elif message["op"] == "kill":
                    for child in self.children.values():
                        if child.id == message["id"]:
                            self.kill(child, None)
            self.reap()
            if self.children:
                self.watch()


def main() -> None:
    """The template's entry point: ``python -c "...; main()" MODE CONTROL_FD``."""
    mode, ctl_fd = sys.argv[1], int(sys.argv[2])
    linux.prctl(linux.PR_SET_CHILD_SUBREAPER, 1)
    if mode != "none":
        linux.prctl(linux.PR_SET_DUMPABLE, 0)  # children cannot read or write our memory
    if mode == "user":
        # bubblewrap covers parts of /proc; the kernel lets a user namespace mount a /proc
        # of its own only where the existing one is fully visible (the children re-cover)
        for path in PROC_COVERED:
            try:
                linux.umount(path)
            except OSError:
                pass
    import torch

    torch.set_num_threads(1)
    from genai_course.course.sandbox import child  # noqa: F401  (imported once, warm)

    Template(socket.socket(fileno=ctl_fd), mode).run()

