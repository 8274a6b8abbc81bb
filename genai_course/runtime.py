"""Where and how a notebook runs: device, seeds, run mode and per-mode sizes.

Run modes (the README's "Run modes, CPU and GPU"):

* ``"full"``     a student runs the notebook (<= 5 min on a 2-core CPU),
* ``"quick"``    ``GENAI_COURSE_QUICK=1`` (CI; <= 60 s per notebook),
* ``"grading"``  nbgrader sets ``NBGRADER_EXECUTION`` while validating or autograding;
  sizes are the quick ones.
"""

from __future__ import annotations

import json
import os
import platform
import random
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from typing import TypeVar

import numpy as np
import torch

T = TypeVar("T")

MODES = ("full", "quick", "grading")


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no", "off")


def get_device() -> torch.device:
    """Pick the compute device: CUDA if available, else CPU.

    Apple's ``mps`` is used only when ``GENAI_COURSE_MPS=1`` opts in, because its
    float32 kernels differ numerically from the CPU reference the tests use.
    """
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if _env_flag("GENAI_COURSE_MPS") and mps is not None and mps.is_available():
        warnings.warn(
            "Using Apple MPS (GENAI_COURSE_MPS=1): results can differ numerically from the "
            "CPU reference, so a few graded checks with tight tolerances may disagree.",
            stacklevel=2,
        )
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int, deterministic: bool = True) -> None:
    """Seed Python's ``random``, NumPy and PyTorch (CPU and CUDA).

    With ``deterministic=True`` and a GPU present, PyTorch is asked for deterministic
    algorithms (``warn_only`` so an op without one warns instead of failing) and cuDNN
    autotuning is switched off. On a CPU-only machine the course's operations are already
    deterministic at a fixed thread count, and the flag is left alone: its first use imports
    PyTorch's compiler (about 1.3 s, paid twice per graded submission).
    """
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    if deterministic and torch.cuda.is_available():
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True


@contextmanager
def seeded(seed: int | None) -> Iterator[None]:
    """Run the block (e.g. a model's parameter initialisation) under
    ``torch.manual_seed(seed)`` without touching the caller's global random state;
    a no-op for ``seed=None``."""
    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def run_mode() -> str:
    """Return ``"grading"``, ``"quick"`` or ``"full"`` (in that order of precedence)."""
    if "NBGRADER_EXECUTION" in os.environ:
        return "grading"
    if _env_flag("GENAI_COURSE_QUICK"):
        return "quick"
    return "full"


def is_small() -> bool:
    """True in quick and grading mode, where every size is the small one."""
    return run_mode() != "full"


def scale(cpu: T, gpu: T | None = None, quick: T | None = None) -> T:
    """Pick a size for the current mode and device.

    ``quick`` (defaults to ``cpu``) in quick and grading mode; ``gpu`` (defaults to
    ``cpu``) in full mode on a GPU; ``cpu`` otherwise.

    >>> scale(cpu=2000, gpu=20000, quick=200)  # doctest: +SKIP
    """
    if is_small():
        return cpu if quick is None else quick
    if gpu is not None and get_device().type != "cpu":
        return gpu
    return cpu


def format_seconds(seconds: float) -> str:
    """A runtime as people say it: ``"9 s"`` under 90 seconds, ``"2.3 min"`` above."""
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def measured_runtimes() -> dict[str, dict[str, float]]:
    """The measured runtime table (``genai_course/measured_runtimes.json``): seconds per
    chapter in ``full`` and ``quick`` mode on an idle 2-core CPU. The README's chapter table
    and every notebook's header read it; ``benchmarks/time_notebooks.py --write`` updates it."""
    text = (resources.files("genai_course") / "measured_runtimes.json").read_text("utf-8")
    return json.loads(text)["chapters"]


def header(title: str, minutes_cpu: float | None = None, minutes_quick: float | None = None,
           *, chapter: str | None = None) -> str:
    """Print (and return) the line every notebook starts with: device, mode, runtime.

    With ``chapter`` (``"01_history"``) the runtime comes from :func:`measured_runtimes`,
    the one source of runtime claims; ``minutes_cpu`` / ``minutes_quick`` are for a notebook
    that is not a chapter yet.
    """
    device = get_device()
    mode = run_mode()
    if chapter is not None:
        if minutes_cpu is not None or minutes_quick is not None:
            raise TypeError("give either chapter (the measured table) or minutes, not both")
        row = measured_runtimes().get(chapter)
        if row is None:
            raise ValueError(f"no measured runtime for {chapter!r} in measured_runtimes.json "
                             "(run benchmarks/time_notebooks.py --write)")
        expect = format_seconds(row["full_s"] if mode == "full" else row["quick_s"])
    else:
        minutes = minutes_cpu if mode == "full" else minutes_quick
        expect = f"{minutes if minutes is not None else 1.0:g} min"
    name = torch.cuda.get_device_name(0) if device.type == "cuda" else platform.processor()
    text = (
        f"{title}\n"
        f"  device : {device.type}{f' ({name})' if name else ''}\n"
        f"  mode   : {mode}"
        f"{'  (set GENAI_COURSE_QUICK=1 for a fast smoke run)' if mode == 'full' else ''}\n"
        f"  torch  : {torch.__version__}\n"
        f"  expect : about {expect} to run every cell on a 2-core CPU"
    )
    print(text)
    return text
