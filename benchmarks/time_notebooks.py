"""Time every solution notebook top to bottom in full and quick mode (a fresh kernel each).

    python benchmarks/time_notebooks.py [CHAPTER ...]

Prints one line per notebook and mode; the budgets are 5 min (full) and 60 s (quick) on a
2-core CPU. This is a measurement, not a test: machines are noisy.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from genai_course.course.release import list_chapters  # noqa: E402

BUDGET_S = {"full": 300, "quick": 60}


def time_notebook(path: Path, quick: bool) -> float:
    nb = nbformat.read(path, as_version=4)
    env_backup = os.environ.copy()
    os.environ.pop("NBGRADER_EXECUTION", None)
    os.environ["GENAI_COURSE_QUICK"] = "1" if quick else "0"
    try:
        client = NotebookClient(nb, timeout=600, kernel_name="python3",
                                resources={"metadata": {"path": str(path.parent)}})
        start = time.perf_counter()
        client.execute()
        return time.perf_counter() - start
    finally:
        os.environ.clear()
        os.environ.update(env_backup)


def main(chapters: list[str]) -> None:
    with tempfile.TemporaryDirectory() as home:
        os.environ.setdefault("MPLCONFIGDIR", home)
        os.environ.setdefault("IPYTHONDIR", home)
        for chapter in chapters or list_chapters(ROOT):
            path = ROOT / "solutions" / chapter / f"{chapter}.ipynb"
            for mode in ("full", "quick"):
                seconds = time_notebook(path, quick=mode == "quick")
                verdict = "within" if seconds <= BUDGET_S[mode] else "OVER"
                print(f"{chapter:16s} {mode:5s} {seconds:7.1f} s  ({verdict} the "
                      f"{BUDGET_S[mode]} s budget)", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
