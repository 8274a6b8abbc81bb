"""Operating-system isolation of student code with bubblewrap (``bwrap``), on Linux.

The sandbox template (:mod:`genai_course.course.sandbox.template`) runs inside a bubblewrap
sandbox that sees, read-only, only the Python interpreter, the environment's site-packages
and the course package (mounted at :data:`PACKAGE_MOUNT`), plus the system libraries; not the
course folder (solutions, submissions, gradebook), not ``$HOME``, not the host's ``/tmp``.
It has no network, its own PID, IPC and UTS namespaces, a cleared environment, and dies with
the grading process. Each student process forked from it gets namespaces, a tmpfs and an
unprivileged identity of its own (see the template's docstring).

Two modes, chosen by who grades:

* ``"root"`` (the grader runs as root, e.g. in a container or CI): bubblewrap runs without a
  user namespace; each student process runs as a uid of its own (:func:`claim_uid`), so the
  kernel's per-user process limit counts one student's processes only;
* ``"user"`` (anyone else; needs unprivileged user namespaces): bubblewrap creates a user
  namespace and each student process is ``nobody`` in a user namespace of its own.

``GENAI_COURSE_ISOLATION=off`` turns isolation off (student code then runs as the grader,
with rlimits and the supervisor's limits only): ``genai-course grade`` refuses that unless
told ``--no-isolation``, and says so on every line.

Used in: grading (every chapter).
"""

from __future__ import annotations

import functools
import os
import shutil
import site
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

PACKAGE_MOUNT = "/opt/genai-course"
UID_BASE = 1_610_612_736  # 0x60000000: far above any real account's uid
UID_SLOTS = 4096
TEMPLATE_CAPS = ("CAP_SYS_ADMIN", "CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP", "CAP_SYS_PTRACE",
                 "CAP_KILL")
PASSED_ENV = ("NBGRADER_EXECUTION", "GENAI_COURSE_QUICK")
INSTALL_HINT = ("install bubblewrap (Debian/Ubuntu: sudo apt-get install bubblewrap; Fedora: "
                "sudo dnf install bubblewrap) or grade inside a Linux container "
                "(docs/instructors.md, 'Grading in a container')")


class IsolationUnavailable(RuntimeError):
    """Student code cannot be isolated on this machine (and isolation was not turned off)."""


@dataclass(frozen=True)
class Isolation:
    """What :func:`probe` found: ``mode`` is ``"root"``, ``"user"`` or ``"none"``."""

    mode: str
    detail: str

    @property
    def available(self) -> bool:
        return self.mode != "none"


def turned_off() -> bool:
    """True when ``GENAI_COURSE_ISOLATION=off`` asks for grading without isolation."""
    return os.environ.get("GENAI_COURSE_ISOLATION", "").strip().lower() in ("off", "0", "no")


def _mode() -> str:
    forced = os.environ.get("GENAI_COURSE_SANDBOX_MODE", "")  # tests: "user" as root
    if forced in ("root", "user"):
        return forced
    return "root" if os.geteuid() == 0 else "user"


def _python_dirs() -> list[str]:
    """Folders the interpreter and its packages live in (never the course folder)."""
    dirs = {sys.base_prefix, sys.prefix}
    for entry in [*site.getsitepackages(), site.getusersitepackages(), *sys.path]:
        if entry and Path(entry).name in ("site-packages", "dist-packages") \
                and Path(entry).is_dir():
            dirs.add(entry)
    real = sorted({str(Path(d).resolve()) for d in dirs} | dirs)
    # a folder inside another one is mounted with it
    return [d for d in real if not any(d != o and d.startswith(o + os.sep) for o in real)]


def _package_dir() -> Path:
    import genai_course

    return Path(genai_course.__file__).resolve().parent


def bwrap_command(mode: str, argv: list[str], tmp_mb: int = 64) -> list[str]:
    """The bubblewrap command line that runs ``argv`` as the sandbox template."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise IsolationUnavailable(f"bubblewrap (bwrap) is not installed: {INSTALL_HINT}")
    cmd = [bwrap, "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-net",
           "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    if mode == "user":
        cmd += ["--unshare-user", "--uid", "0", "--gid", "0"]
    for cap in TEMPLATE_CAPS:
        cmd += ["--cap-add", cap]
    binds = [(p, p) for p in ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32",
                              "/etc/ld.so.cache", "/etc/localtime", "/etc/alternatives")
             if os.path.exists(p)]
    binds += [(folder, folder) for folder in _python_dirs()]
    binds.append((str(_package_dir()), f"{PACKAGE_MOUNT}/genai_course"))
    parents = sorted({str(a) for _, dest in binds for a in Path(dest).parents if str(a) != "/"},
                     key=lambda p: p.count("/"))
    for parent in parents:  # bubblewrap would make them 0700: the student could not enter
        cmd += ["--perms", "0755", "--dir", parent]
    for source, dest in binds:
        cmd += ["--ro-bind", source, dest]
    cmd += ["--proc", "/proc", "--dev", "/dev", "--size", str(tmp_mb * 2**20), "--tmpfs", "/tmp",
            "--perms", "0755", "--tmpfs", "/run", "--perms", "0755", "--dir",
            "/run/genai-course-stripped", "--remount-ro", "/",
            "--chdir", "/tmp", "--clearenv"]
    extra = [d for d in _python_dirs() if Path(d).name in ("site-packages", "dist-packages")]
    env = {
        "HOME": "/tmp", "TMPDIR": "/tmp", "LANG": "C.UTF-8", "MPLBACKEND": "Agg",
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin",
                                 "/usr/bin", "/bin"]),
        "PYTHONPATH": os.pathsep.join([PACKAGE_MOUNT, *extra]),
        "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1",
        "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
        **{k: os.environ[k] for k in PASSED_ENV if k in os.environ},
    }
    for key, value in env.items():
        cmd += ["--setenv", key, value]
    return cmd + ["--", *argv]


@functools.lru_cache(maxsize=1)
def probe() -> Isolation:
    """Can student code be isolated here? Runs a tiny sandbox once per process."""
    if not sys.platform.startswith("linux"):
        return Isolation("none", f"bubblewrap needs Linux (this is {sys.platform}); "
                                 "grade inside a Linux container (docs/instructors.md)")
    mode = _mode()
    try:
        cmd = bwrap_command(mode, [sys.executable, "-S", "-c", "import os; os.getpid()"])
    except IsolationUnavailable as exc:
        return Isolation("none", str(exc))
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        why = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
        hint = ("" if mode == "root" else "; unprivileged user namespaces may be disabled "
                "(sysctl kernel.unprivileged_userns_clone=1, or run the grader as root in a "
                "container)")
        return Isolation("none", f"bubblewrap failed: {why}{hint}")
    version = subprocess.run([cmd[0], "--version"], capture_output=True, text=True).stdout
    who = ("each student runs as a uid of its own" if mode == "root"
           else "each student is nobody in a user namespace of its own")
    return Isolation(mode, f"{version.strip() or 'bubblewrap'} ({mode} mode: {who})")


def require() -> Isolation:
    """The isolation to grade with; raises :class:`IsolationUnavailable` when there is none
    and ``GENAI_COURSE_ISOLATION=off`` was not set."""
    if turned_off():
        return Isolation("none", "turned off (GENAI_COURSE_ISOLATION=off): student code runs "
                                 "with the grader's rights")
    found = probe()
    if not found.available:
        raise IsolationUnavailable(
            f"student code cannot be isolated on this machine: {found.detail}. To grade "
            "anyway, unprotected, set GENAI_COURSE_ISOLATION=off (genai-course grade "
            "--no-isolation)")
    return found


def claim_uid() -> tuple[int, socket.socket]:
    """A uid no other live sandbox on this machine uses, and the lock that holds it (an
    abstract Unix socket, freed by the kernel when its owner exits): close it when done."""
    for slot in range(UID_SLOTS):
        lock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            lock.bind(f"\0genai-course-sandbox-uid-{slot}")
        except OSError:
            lock.close()
            continue
        return UID_BASE + slot, lock
    raise IsolationUnavailable(f"all {UID_SLOTS} sandbox uids are in use")
