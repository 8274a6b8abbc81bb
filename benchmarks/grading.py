"""Grade a generated class of 40 chapter-1 submissions three ways, in one run:

    python benchmarks/grading.py [--students 40] [--chapter 01_history]

1. plain sequential ``nbgrader autograde CHAPTER`` (one process grading everyone in turn),
2. ``genai-course grade CHAPTER --jobs 2``, 3. ``genai-course grade CHAPTER --jobs 4``,

each from scratch in a fresh copy of the course, then prints the wall times, the speed-up
ratios, and whether the three gradebooks agree cell for cell. A measurement, not a test.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from genai_course.course import classroom as grader  # noqa: E402
from tests.hostile import Chapter  # noqa: E402
from tests.test_grading_class import cell_scores, make_course  # noqa: E402


def generated_class(chapter: str, n: int) -> dict[str, bytes]:
    """n submissions cycling through: all correct, half done, common mistakes, untouched."""
    ch = Chapter(chapter)
    wrong = {name: next(iter(ch.wrong[name].values())) for name in ch.order}
    half = {name: ch.answers[name] for name in ch.order[: len(ch.order) // 2]}
    kinds = [ch.notebook(ch.answers), ch.notebook(half), ch.notebook(wrong), ch.notebook({})]
    return {f"student{i:03d}": kinds[i % len(kinds)] for i in range(n)}


def run(label: str, chapter: str, submissions: dict[str, bytes], base: Path, cmd) -> tuple:
    root = base / label
    make_course(root, chapter)
    for student, content in submissions.items():
        folder = root / "submitted" / student / chapter
        folder.mkdir(parents=True)
        (folder / f"{chapter}.ipynb").write_bytes(content)
    start = time.perf_counter()
    subprocess.run(cmd(root), cwd=root, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
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
    py, ch = sys.executable, args.chapter
    ways = {
        "nbgrader autograde (sequential)": lambda r: [
            py, "-m", "nbgrader", "autograde", ch, f"--CourseDirectory.db_url={grader.db_url(r)}"],
        "genai-course grade --jobs 2": lambda r: [
            py, "-m", "genai_course.course.cli", "grade", ch, "--jobs", "2", "--root", str(r)],
        "genai-course grade --jobs 4": lambda r: [
            py, "-m", "genai_course.course.cli", "grade", ch, "--jobs", "4", "--root", str(r)],
    }
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, cmd in ways.items():
            results[label] = run(label.split()[0] + label[-1], ch, submissions, Path(tmp), cmd)
            print(f"{label:34s} {results[label][0]:7.1f} s", flush=True)
    base_s, base_scores = results["nbgrader autograde (sequential)"]
    for label, (seconds, scores) in results.items():
        same = "same gradebook" if scores == base_scores else "GRADEBOOK DIFFERS"
        print(f"{label:34s} speed-up {base_s / seconds:4.2f}x  {same}")


if __name__ == "__main__":
    main()
