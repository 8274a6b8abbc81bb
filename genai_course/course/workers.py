"""A long-lived ``nbgrader autograde`` process, so a class is not graded at the cost of one
nbgrader start-up, one kernel start-up and one sandbox start-up per submission.

The worker loads the course's configuration exactly as the ``nbgrader`` command does
(Jupyter's config paths, then the course's ``nbgrader_config.py``) and grades each request
with nbgrader's own API (``NbGraderAPI.autograde``, what the Formgrader calls), so the
gradebook is the one ``nbgrader autograde`` writes. It turns on
``SandboxedExecute.reuse_kernel``: one warm grading kernel (with torch imported, and the
sandbox template it started) grades every submission, reset in between; no student code
ever runs in it. Requests and replies are JSON lines:

    {"chapter": ..., "student": ..., "submitted_dir": ... or null, "log": path}
    {"success": true} or {"success": false, "error": "..."}

:class:`AutogradeWorker` is the parent's side: it starts the process, sends a request,
and kills and replaces the process when a submission runs past its time limit.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path


def serve(root: Path, db_url: str) -> None:
    """Answer requests from stdin until it closes (the worker's main loop)."""
    replies = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # anything printed while grading goes to stderr, not into the replies
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.apps.baseapp import NbGrader
    from nbgrader.utils import temp_attrs

    from genai_course.course.nbgrader_plugins import SandboxedExecute

    os.chdir(root)
    app = NbGrader()
    app.initialize([], root=str(root))
    app.coursedir.db_url = db_url
    app.config.SandboxedExecute.reuse_kernel = True  # one warm kernel for every submission
    api = NbGraderAPI(coursedir=app.coursedir, parent=app)
    for line in sys.stdin:
        request = json.loads(line)
        with ExitStack() as stack:
            if request["submitted_dir"]:
                stack.enter_context(temp_attrs(api.coursedir,
                                               submitted_directory=request["submitted_dir"]))
            result = api.autograde(request["chapter"], request["student"], force=True,
                                   create=True)
        Path(request["log"]).write_text(result.get("log", "") + result.get("error", ""))
        reply = {"success": result["success"]}
        if not result["success"]:
            reply["error"] = result.get("error", "").strip().splitlines()[-1:]
        replies.write(json.dumps(reply) + "\n")
        replies.flush()
    SandboxedExecute.shutdown_warm_kernel()


class AutogradeWorker:
    """The parent's handle on one worker process (started on first use)."""

    def __init__(self, root: Path, db_url: str, isolated: bool = True) -> None:
        self.root, self.db_url, self.isolated = root, db_url, isolated
        self._proc: subprocess.Popen | None = None

    def _start(self) -> subprocess.Popen:
        env = dict(os.environ)
        env.pop("GENAI_COURSE_ISOLATION", None)
        if not self.isolated:
            env["GENAI_COURSE_ISOLATION"] = "off"
        return subprocess.Popen(
            [sys.executable, "-m", "genai_course.course.workers", str(self.root),
             self.db_url],
            cwd=self.root, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True, start_new_session=True, env=env,
        )

    def autograde(self, chapter: str, student: str, submitted_dir: Path | None, log: Path,
                  timeout: float) -> str | None:
        """Grade one submission; None on success, else why it failed (see ``log``)."""
        if self._proc is None:
            self._proc = self._start()
        log.parent.mkdir(parents=True, exist_ok=True)
        assert self._proc.stdin is not None and self._proc.stdout is not None
        request = {"chapter": chapter, "student": student, "log": str(log),
                   "submitted_dir": None if submitted_dir is None else str(submitted_dir)}
        try:
            self._proc.stdin.write(json.dumps(request) + "\n")
            self._proc.stdin.flush()
        except OSError:
            pass  # the worker is gone; reading its reply says so
        ready, _, _ = select.select([self._proc.stdout], [], [], timeout)
        if not ready:
            self.close(graceful=False)
            return f"grading took longer than {timeout:g} s and was stopped"
        line = self._proc.stdout.readline()
        if not line:
            code = self._proc.wait()
            self._proc = None
            return f"the nbgrader process exited (exit code {code}) while grading"
        reply = json.loads(line)
        if not reply["success"]:
            where = log.relative_to(self.root) if log.is_relative_to(self.root) else log
            return f"nbgrader autograde failed ({' '.join(reply['error'])}); see {where}"
        return None

    def close(self, graceful: bool = True) -> None:
        """Stop the worker: let it shut its kernel (and the sandbox) down, or kill it (its
        kernel follows within a second, and the sandbox with the kernel)."""
        if self._proc is None:
            return
        if graceful and self._proc.stdin is not None:
            try:
                self._proc.stdin.close()
                self._proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                pass
        try:
            os.killpg(self._proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self._proc.wait()
        for stream in (self._proc.stdin, self._proc.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        self._proc = None


if __name__ == "__main__":
    serve(Path(sys.argv[1]), sys.argv[2])
