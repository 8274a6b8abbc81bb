"""Time every solution notebook top to bottom in full and quick mode (a fresh kernel each).

    python benchmarks/time_notebooks.py [--write [--force]] [CHAPTER ...]

Prints one line per notebook and mode: the wall time, the CPU time of the kernel (and of any
process it started), and the machine's load average before the run; the budgets are 5 min
(full) and 60 s (quick) on a 2-core CPU. This is a measurement, not a test: on a busy machine
the wall time grows with the load while the CPU time barely moves, so compare the two.
``--write`` stores the wall times in ``genai_course/measured_runtimes.json``, the one source
of runtime claims, and rewrites the README's runtime column from it (each notebook's header
reads the same file); it refuses when the machine was busy (load average above 1 before a
run) unless ``--force``.
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
IDLE_LOAD = 1.0
CPU_SECONDS = ("import resource as _r\n"
               "print(sum(getattr(_r.getrusage(w), f) for w in (_r.RUSAGE_SELF, "
               "_r.RUSAGE_CHILDREN) for f in ('ru_utime', 'ru_stime')))")


def time_notebook(path: Path, quick: bool) -> tuple[float, float]:
    """Wall seconds to run every cell in a fresh kernel, and the kernel's CPU seconds."""
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(CPU_SECONDS))
    env_backup = os.environ.copy()
    os.environ.pop("NBGRADER_EXECUTION", None)
    os.environ["GENAI_COURSE_QUICK"] = "1" if quick else "0"
    try:
        client = NotebookClient(nb, timeout=600, kernel_name="python3",
                                resources={"metadata": {"path": str(path.parent)}})
        start = time.perf_counter()
        client.execute()
        wall = time.perf_counter() - start
        return wall, float(nb.cells[-1].outputs[0]["text"])
    finally:
        os.environ.clear()
        os.environ.update(env_backup)


def main(chapters: list[str], write: bool, force: bool = False) -> None:
    measured: dict[str, dict[str, float]] = {}
    busiest = 0.0
    with tempfile.TemporaryDirectory() as home:
        os.environ.setdefault("MPLCONFIGDIR", home)
        os.environ.setdefault("IPYTHONDIR", home)
        for chapter in chapters or list_chapters(ROOT):
            path = ROOT / "solutions" / chapter / f"{chapter}.ipynb"
            for mode in ("full", "quick"):
                load = os.getloadavg()[0]
                busiest = max(busiest, load)
                seconds, cpu = time_notebook(path, quick=mode == "quick")
                measured.setdefault(chapter, {})[f"{mode}_s"] = round(seconds)
                verdict = "within" if seconds <= BUDGET_S[mode] else "OVER"
                print(f"{chapter:16s} {mode:5s} {seconds:7.1f} s wall, {cpu:7.1f} s CPU, load "
                      f"average {load:4.1f} before ({verdict} the {BUDGET_S[mode]} s budget)",
                      flush=True)
    if write and busiest > IDLE_LOAD and not force:
        sys.exit(f"not written: the load average reached {busiest:.1f} (above {IDLE_LOAD:g}), "
                 "so the wall times say more about the other programs; measure on an idle "
                 "machine, or pass --force")
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
    main([a for a in args if not a.startswith("--")], write="--write" in args,
         force="--force" in args)
