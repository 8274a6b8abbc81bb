"""Grade one generated class of chapter-1 submissions four ways, in one run, and compare:

    python benchmarks/grading.py [--students 40] [--chapter 01_history]

1. plain sequential ``nbgrader autograde CHAPTER`` (nbgrader's own path: one process grading
   everyone in turn, a fresh kernel and sandbox per submission; the course's plug-ins
   included, so it isolates and grades exactly as below),
2. ``genai-course grade --jobs 1 --no-isolation`` (no bubblewrap: what isolation costs),
3. ``genai-course grade --jobs 1``,
4. ``genai-course grade --jobs 2``,

each from scratch in a fresh copy of the course. Prints seconds per submission, the speed-up
over (1), what isolation costs per submission ((3) - (2)), and whether the gradebooks agree
cell for cell. A measurement, not a test: on a shared machine, compare the ratios of one run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from genai_course.course import classroom as grader
from genai_course.course.sample_class import ChapterNotebooks, cell_scores, make_course

ROOT = Path(__file__).resolve().parents[1]


def generated_class(chapter: str, n: int) -> dict[str, bytes]:
    """n submissions cycling through: all solved, the first half solved, the second half
    solved, untouched (every cell both passes and fails somewhere in the class)."""
    ch = ChapterNotebooks(ROOT, chapter)
    middle = len(ch.order) // 2
    first = {name: ch.answers[name] for name in ch.order[:middle]}
    second = {name: ch.answers[name] for name in ch.order[middle:]}
    kinds = [ch.notebook(ch.answers), ch.notebook(first), ch.notebook(second), ch.notebook({})]
    return {f"student{i:03d}": kinds[i % len(kinds)] for i in range(n)}


def run(label: str, chapter: str, submissions: dict[str, bytes], base: Path, cmd,
        env: dict[str, str]) -> tuple[float, dict]:
    root = base / label
    make_course(root, ROOT, chapter)
    for student, content in submissions.items():
        folder = root / "submitted" / student / chapter
        folder.mkdir(parents=True)
        (folder / f"{chapter}.ipynb").write_bytes(content)
    start = time.perf_counter()
    subprocess.run(cmd(root), cwd=root, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, env=env)
    seconds = time.perf_counter() - start
    scores = cell_scores(root, chapter)
    shutil.rmtree(root)
    return seconds, scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--chapter", default="01_history")
    args = parser.parse_args()
    submissions = generated_class(args.chapter, args.students)
    py, ch, n = sys.executable, args.chapter, args.students
    grade = [py, "-m", "genai_course.course.cli", "grade", ch]
    ways = {
        "nbgrader autograde (sequential)": lambda r: [
            py, "-m", "nbgrader", "autograde", ch, f"--CourseDirectory.db_url={grader.db_url(r)}"],
        "genai-course grade -j 1, no isolation": lambda r: [
            *grade, "--jobs", "1", "--no-isolation", "--root", str(r)],
        "genai-course grade -j 1": lambda r: [*grade, "--jobs", "1", "--root", str(r)],
        "genai-course grade -j 2": lambda r: [*grade, "--jobs", "2", "--root", str(r)],
    }
    env = {k: v for k, v in os.environ.items() if k != "GENAI_COURSE_ISOLATION"}
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, (label, cmd) in enumerate(ways.items()):
            results[label] = run(f"way{i}", ch, submissions, Path(tmp), cmd, env)
            print(f"{label:38s} {results[label][0]:7.1f} s  "
                  f"{results[label][0] / n:5.2f} s per submission", flush=True)
    base_s, base_scores = results["nbgrader autograde (sequential)"]
    for label, (seconds, scores) in results.items():
        same = "same gradebook" if scores == base_scores else "GRADEBOOK DIFFERS"
        print(f"{label:38s} speed-up {base_s / seconds:5.2f}x  {same}")
    cost = (results["genai-course grade -j 1"][0]
            - results["genai-course grade -j 1, no isolation"][0]) / n
    print(f"isolation costs {cost:+.2f} s per submission (grade -j 1 with and without it)")
    print(f"{os.cpu_count()} CPU cores; load average before the last run: "
          f"{os.getloadavg()[0]:.1f} (other work on the machine slows every way alike)")


if __name__ == "__main__":
    main()
