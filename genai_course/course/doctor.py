"""``genai-course doctor``: check that this machine can run the course.

Each check prints ``[OK]`` or ``[FAIL]`` with what was found and, on failure, what to do.
Optional parts (the lab extra, and OS isolation, which only grading needs) print ``[--]``
instead of failing.
"""

from __future__ import annotations

import importlib
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata

MIN_PYTHON = (3, 10)

# (import name, distribution name) of everything the notebooks need (`pip install genai-course`,
# which is all Colab installs).
DEPENDENCIES = (
    ("torch", "torch"),
    ("numpy", "numpy"),
    ("matplotlib", "matplotlib"),
    ("ipywidgets", "ipywidgets"),
    ("tqdm", "tqdm"),
    ("nltk", "nltk"),
    ("sklearn", "scikit-learn"),
    ("scipy", "scipy"),
    ("ipykernel", "ipykernel"),
    ("nbformat", "nbformat"),
    ("nbclient", "nbclient"),
    # TinyChat's server and client (`genai-course serve`, chapters 6-10), JSON Schema checks
    ("fastapi", "fastapi"),
    ("uvicorn", "uvicorn"),
    ("httpx", "httpx"),
    ("jsonschema", "jsonschema"),
    # chapter 9's deployment: the ONNX export and ONNX Runtime
    ("onnx", "onnx"),
    ("onnxscript", "onnxscript"),
    ("onnxruntime", "onnxruntime"),
)
# The lab extra (`pip install "genai-course[lab]"`): JupyterLab and nbgrader's Validate button;
# instructors need it too. Reported, never a failure, without it.
LAB_DEPENDENCIES = (("jupyterlab", "jupyterlab"), ("nbgrader", "nbgrader"))
LAB_EXTRA = "pip install 'genai-course[lab]'"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    optional: bool = False  # a missing optional part is reported as [--], not a failure

    def line(self) -> str:
        mark = "OK" if self.ok else "--" if self.optional else "FAIL"
        return f"[{mark}] {self.name}: {self.detail}"


def _run(name: str, probe: Callable[[], str], optional: bool = False) -> Check:
    try:
        return Check(name, True, probe(), optional)
    except Exception as exc:  # a failing probe is a finding, not a crash
        return Check(name, False, f"{type(exc).__name__}: {exc}", optional)


def _isolation() -> str:
    from genai_course.course.sandbox.isolation import probe

    found = probe()
    if not found.available:
        raise RuntimeError(f"{found.detail}. Only needed to grade: genai-course grade refuses "
                           "to run without it (docs/instructors.md)")
    return found.detail


def _python() -> str:
    version = ".".join(map(str, sys.version_info[:3]))
    if sys.version_info[:2] < MIN_PYTHON:
        raise RuntimeError(f"Python {version} found; the course needs >= 3.10")
    return f"{version} ({sys.executable})"


def _dependency(module: str, dist: str) -> Callable[[], str]:
    def probe() -> str:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise RuntimeError(f"cannot import {module} ({exc}); run: pip install {dist}") from exc
        return metadata.version(dist)

    return probe


def _torch_compute() -> str:
    import torch

    from genai_course.runtime import get_device

    device = get_device()
    a = torch.arange(6, dtype=torch.float32, device=device).reshape(2, 3)
    got = (a @ a.T).cpu().tolist()
    if got != [[5.0, 14.0], [14.0, 50.0]]:
        raise RuntimeError(f"a 2x3 matrix product gave {got}")
    return f"2x3 matmul correct on {device.type}"


def _device() -> str:
    import torch

    from genai_course.runtime import get_device

    device = get_device()
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(0)}): GPU cells use bigger configs"
    return f"{device.type} (no GPU needed: every notebook runs on a CPU)"


def _command(name: str) -> Callable[[], str]:
    def probe() -> str:
        path = shutil.which(name)
        if path is None:
            raise RuntimeError(f"'{name}' is not on PATH (is the environment activated?)")
        return path

    return probe


def run_checks() -> list[Check]:
    checks = [_run("python", _python)]
    checks += [_run(dist, _dependency(module, dist)) for module, dist in DEPENDENCIES]
    checks += [
        _run("device", _device),
        _run("torch computation", _torch_compute),
    ]
    lab = [_run(dist, _dependency(module, dist)) for module, dist in LAB_DEPENDENCIES]
    lab += [_run("jupyter command", _command("jupyter")),
            _run("nbgrader command", _command("nbgrader"))]
    if not any(c.ok for c in lab[:len(LAB_DEPENDENCIES)]):  # the notebooks-only install
        return checks + [Check("lab extra", False, f"not installed; the notebooks do not need "
                               f"it (for `genai-course lab` and Validate: {LAB_EXTRA})",
                               optional=True)]
    # half an extra is a broken install; isolation matters to instructors only
    return checks + lab + [_run("grading isolation", _isolation, optional=True)]


def main() -> int:
    checks = run_checks()
    for check in checks:
        print(check.line())
    failed = sum(not c.ok and not c.optional for c in checks)
    print(f"{len(checks) - failed} passed, {failed} failed" if failed else "All checks passed.")
    return 1 if failed else 0
