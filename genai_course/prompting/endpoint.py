"""Starting ``genai-course serve`` from a notebook: a free loopback port, a subprocess, a
wait until it answers, and a clean stop, so the same chat-client cells can talk to TinyChat
over HTTP exactly as they would to any OpenAI-compatible endpoint.

Used in: chapters 6, 9.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class ServerProcess:
    """``genai-course serve`` running in a subprocess on ``host:port``; ``base_url`` ends
    in ``/v1``. Use as a context manager or call :meth:`stop`."""

    def __init__(self, model: str = "tinychat", host: str = "127.0.0.1",
                 port: int | None = None, timeout: float = 120.0) -> None:
        self.host, self.port = host, port or free_port(host)
        self.base_url = f"http://{self.host}:{self.port}/v1"
        self.command = [sys.executable, "-m", "genai_course.course.cli", "serve",
                        "--host", self.host, "--port", str(self.port), "--model", model]
        self.process = subprocess.Popen(self.command, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                output = self.process.stdout.read() if self.process.stdout else ""
                raise RuntimeError(f"genai-course serve exited with code "
                                   f"{self.process.returncode}:\n{output[-2000:]}")
            try:
                if httpx.get(f"{self.base_url}/models", timeout=2.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"genai-course serve did not answer within {timeout} s")
            time.sleep(0.2)

    def stop(self, timeout: float = 10.0) -> int:
        """Stop the server (terminate, then kill if needed); returns its exit code."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        if self.process.stdout:
            self.process.stdout.close()
        return self.process.returncode

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
