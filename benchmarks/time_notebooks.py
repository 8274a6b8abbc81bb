"""Time every solution notebook top to bottom in full and quick mode (a fresh kernel each).

    python benchmarks/time_notebooks.py [--write] [CHAPTER ...]

Prints one line per notebook and mode; the budgets are 5 min (full) and 60 s (quick) on a
2-core CPU. This is a measurement, not a test: machines are noisy, so measure on an idle one.
``--write`` stores the numbers in ``genai_course/measured_runtimes.json``, the one source of
runtime claims, and rewrites the README's runtime column from it (each notebook's header
reads the same file).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from genai_course.course import readme  # noqa: E402
from genai_course.course.release import list_chapters  # noqa: E402

TABLE = ROOT / "genai_course" / "measured_runtimes.json"

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


def main(chapters: list[str], write: bool) -> None:
    measured: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as home:
        os.environ.setdefault("MPLCONFIGDIR", home)
        os.environ.setdefault("IPYTHONDIR", home)
        for chapter in chapters or list_chapters(ROOT):
            path = ROOT / "solutions" / chapter / f"{chapter}.ipynb"
            for mode in ("full", "quick"):
                seconds = time_notebook(path, quick=mode == "quick")
                measured.setdefault(chapter, {})[f"{mode}_s"] = round(seconds)
                verdict = "within" if seconds <= BUDGET_S[mode] else "OVER"
                print(f"{chapter:16s} {mode:5s} {seconds:7.1f} s  ({verdict} the "
                      f"{BUDGET_S[mode]} s budget)", flush=True)
    if write:
        data = json.loads(TABLE.read_text(encoding="utf-8"))
        data["chapters"].update(measured)
        data["chapters"] = dict(sorted(data["chapters"].items()))
        TABLE.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        text = (ROOT / "README.md").read_text(encoding="utf-8")
        (ROOT / "README.md").write_text(readme.with_runtimes(text, data["chapters"]),
                                        encoding="utf-8")
        print(f"wrote {TABLE.relative_to(ROOT)} and the README's runtime column")


if __name__ == "__main__":
    args = sys.argv[1:]
    main([a for a in args if a != "--write"], write="--write" in args)
