"""Instructor commands on nbgrader's course layout: grade a class in parallel, export grades
per exercise, and write feedback that never shows hidden tests.

``grade`` runs nbgrader's own autograde (the course's nbgrader config, with the plug-ins of
:mod:`genai_course.course.nbgrader_plugins`) in ``jobs`` long-lived worker processes
(:mod:`genai_course.course.workers`), one submission at a time each, so the gradebook is
the one sequential ``nbgrader autograde`` writes. Each submission gets one
status line saying what happened; nothing one submission does stops the others. It refuses
to run where the operating system cannot isolate student code
(:mod:`genai_course.course.sandbox.isolation`) unless told ``isolated=False``, and then says
so on every line. :func:`crosscheck` compares the gradebook with the autograded notebooks.
"""

from __future__ import annotations

import csv
import json
import queue
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from genai_course.course import nbgrader_plugins
from genai_course.course.conventions import COURSE_ID, HIDDEN_MARK, exercise_of
from genai_course.course.release import find_course_root, list_chapters
from genai_course.course.release import release as release_chapters
from genai_course.course.workers import AutogradeWorker

SANDBOX_FAILURES = {
    "GradingTimeout": "timed out",
    "StudentProcessDied": "crashed its Python process",
    "MemoryLimitExceeded": "ran out of memory",
    "ResourceLimitExceeded": "used too many processes or CPU cores",
    "ProtocolViolation": "broke the grading protocol",
}
NOT_ISOLATED = "NOT ISOLATED"


class GradingError(RuntimeError):
    """The course or the command line is not in a state that can be graded."""


@dataclass
class Result:
    """What happened to one submission."""

    student: str
    status: str  # graded | problems | malformed | missing | failed | skipped
    score: float | None = None
    max_score: float | None = None
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    awaiting: float = 0.0  # points of written answers a person has not marked yet
    isolated: bool = True

    def line(self) -> str:
        score = "" if self.score is None else f"{self.score:g}/{self.max_score:g}"
        text = f"{self.student:<20} {score:>9}  {self.status}"
        if self.awaiting:
            text += f" ({self.awaiting:g} points await a person)"
        text += ": " + "; ".join(self.notes) if self.notes else ""
        return text if self.isolated else f"{text}  [{NOT_ISOLATED}]"


def db_url(root: Path) -> str:
    """The course gradebook, with a lock timeout long enough for parallel writers."""
    return f"sqlite:///{root / 'gradebook.db'}?timeout=120"


def _gradebook(root: Path):
    from nbgrader.api import Gradebook

    return Gradebook(db_url(root), course_id=COURSE_ID)


def _paths(root: Path, chapter: str, student: str) -> tuple[Path, Path]:
    name = f"{chapter}.ipynb"
    return (root / "submitted" / student / chapter / name,
            root / "autograded" / student / chapter / name)


def students(root: Path, chapter: str) -> list[str]:
    """Students with a ``submitted/<student>/<chapter>/`` folder, sorted."""
    base = root / "submitted"
    return sorted(p.parent.name for p in base.glob(f"*/{chapter}") if p.is_dir())


def _ensure_registered(root: Path, chapter: str) -> None:
    from nbgrader.api import MissingEntry

    if chapter not in list_chapters(root):
        raise GradingError(f"no chapter {chapter!r}; chapters: {', '.join(list_chapters(root))}")
    with _gradebook(root) as gb:
        try:
            gb.find_assignment(chapter)
            return
        except MissingEntry:
            pass
    release_chapters(root, [chapter], db_url=db_url(root))  # registers its graded cells


def _check_notebook(path: Path) -> str | None:
    """Why ``path`` cannot be graded as a notebook, or None if it can."""
    try:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
    except Exception as exc:  # nbformat raises several unrelated types
        return f"not a valid notebook ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})"
    return None


def _sandbox_failures(autograded: Path) -> list[str]:
    """'timed out in ex3' and the like, from the errors in the graded test cells."""
    found: dict[str, list[str]] = {}
    try:
        nb = nbformat.read(autograded, as_version=4)
    except Exception:
        return []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        exercise = exercise_of(str(meta.get("grade_id", "")))
        for out in cell.get("outputs", []):
            what = SANDBOX_FAILURES.get(out.get("ename", "")) if out.get("output_type") == \
                "error" else None
            if what and exercise and exercise not in found.setdefault(what, []):
                found[what].append(exercise)
    return [f"{what} in {', '.join(exs)}" for what, exs in found.items()]


def _score(root: Path, chapter: str, student: str) -> tuple[float | None, float | None]:
    from nbgrader.api import MissingEntry

    with _gradebook(root) as gb:
        try:
            sub = gb.find_submission(chapter, student)
        except MissingEntry:
            return None, None
        return float(sub.score), float(sub.max_score)


def grade_one(root: Path, chapter: str, student: str, timeout: float = 600.0,
              worker: AutogradeWorker | None = None) -> Result:
    """Autograde one submission (with ``worker``, or an isolated worker of its own) and say
    what happened."""
    if worker is None:
        worker = AutogradeWorker(root, db_url(root))
        try:
            return grade_one(root, chapter, student, timeout, worker)
        finally:
            worker.close()
    result = _grade_one(root, chapter, student, timeout, worker)
    result.isolated = worker.isolated
    return result


def _grade_one(root: Path, chapter: str, student: str, timeout: float,
               worker: AutogradeWorker) -> Result:
    start = time.perf_counter()
    submitted, autograded = _paths(root, chapter, student)
    log = root / ".grading" / "logs" / chapter / f"{student}.log"
    notes: list[str] = []
    staged: Path | None = None
    status = "graded"
    why = "nothing submitted" if not submitted.is_file() else _check_notebook(submitted)
    if why is not None:
        # nbgrader cannot read it: grade the untouched release in its place (every test
        # fails on the stubs), so the gradebook records zeros and the class stays complete
        status = "missing" if not submitted.is_file() else "malformed"
        notes = [f"{why}; graded as the untouched release (0 points)"]
        staged = root / ".grading" / "staged"
        folder = staged / student / chapter
        folder.mkdir(parents=True, exist_ok=True)
        release = root / "chapters" / chapter / f"{chapter}.ipynb"
        (folder / submitted.name).write_bytes(release.read_bytes())
        stamp = submitted.parent / "timestamp.txt"
        if stamp.is_file():
            (folder / "timestamp.txt").write_text(stamp.read_text())
    else:
        release_nb = nbgrader_plugins.release_notebook(_config(root), chapter, chapter)
        notes += nbgrader_plugins.rebuild(release_nb, nbformat.read(submitted, as_version=4))[1]
    failure = worker.autograde(chapter, student, staged, log, timeout)
    if failure:
        return Result(student, "failed", notes=[failure], seconds=time.perf_counter() - start)
    if status == "graded":
        problems = _sandbox_failures(autograded)
        notes += problems
        if problems or notes:
            status = "problems"
    score, max_score = _score(root, chapter, student)
    return Result(student, status, score, max_score, notes, time.perf_counter() - start,
                  awaiting_points(root, chapter, student))


def _config(root: Path):
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    config = Config()
    config.merge(PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config())
    config.CourseDirectory.root = str(root)
    return config


def _already_graded(root: Path, chapter: str, student: str) -> bool:
    submitted, autograded = _paths(root, chapter, student)
    return (autograded.is_file() and submitted.is_file()
            and autograded.stat().st_mtime >= submitted.stat().st_mtime
            and _score(root, chapter, student)[0] is not None)


def grade(root: Path | str | None, chapter: str, jobs: int = 1, force: bool = False,
          only: Iterable[str] | None = None, timeout: float = 600.0,
          report: Callable[[Result, int, int], None] | None = None,
          isolated: bool = True) -> list[Result]:
    """Grade every submission of ``chapter`` (or the students in ``only``), ``jobs`` at a
    time; already graded ones are skipped unless ``force``. Results in student order.

    Student code runs isolated by the operating system; where that is impossible this
    raises :class:`GradingError`, unless ``isolated=False`` asks to grade without it (every
    result then says so)."""
    root = find_course_root(root)
    if jobs < 1:
        raise GradingError(f"--jobs must be at least 1, got {jobs}")
    if isolated:
        from genai_course.course.sandbox.isolation import IsolationUnavailable, require

        try:
            require()
        except IsolationUnavailable as exc:
            raise GradingError(f"{exc} (pass --no-isolation)") from None
    _ensure_registered(root, chapter)
    everyone = students(root, chapter)
    if only is not None:
        wanted = list(only)
        unknown = sorted(set(wanted) - set(everyone))
        if unknown:
            raise GradingError(f"no submission of {chapter} from: {', '.join(unknown)}")
        everyone = [s for s in everyone if s in wanted]
    if not everyone:
        raise GradingError(f"no submissions in {root / 'submitted'}/<student>/{chapter}/")
    results: dict[str, Result] = {}
    todo = []
    for student in everyone:
        if not force and _already_graded(root, chapter, student):
            score, max_score = _score(root, chapter, student)
            results[student] = Result(student, "skipped", score, max_score,
                                      ["already graded; --force regrades"], isolated=isolated)
        else:
            todo.append(student)
    done = len(results)
    if report:
        for student in everyone:
            if student in results:
                report(results[student], everyone.index(student) + 1, len(everyone))
    idle: queue.SimpleQueue[AutogradeWorker] = queue.SimpleQueue()
    workers = [AutogradeWorker(root, db_url(root), isolated=isolated)
               for _ in range(min(jobs, len(todo)))]
    for worker in workers:
        idle.put(worker)

    def run(student: str) -> Result:
        worker = idle.get()
        try:
            return grade_one(root, chapter, student, timeout, worker)
        finally:
            idle.put(worker)

    try:
        with ThreadPoolExecutor(max_workers=len(workers) or 1) as pool:
            for future in as_completed([pool.submit(run, s) for s in todo]):
                result = future.result()
                results[result.student] = result
                done += 1
                if report:
                    report(result, done, len(everyone))
    finally:
        for worker in workers:
            worker.close()
    return [results[s] for s in everyone]


def crosscheck(root: Path | str | None, chapters: Iterable[str] | None = None) -> list[str]:
    """Where the gradebook's automatic scores differ from the scores nbgrader's own rule
    (``nbgrader.utils.determine_grade``) gives the autograded notebooks: one line per
    difference (a gradebook edited behind grading's back, or a missing notebook)."""
    from nbgrader.utils import determine_grade, is_grade

    root = find_course_root(root)
    problems: list[str] = []
    with _gradebook(root) as gb:
        for assignment in gb.assignments:
            if chapters is not None and assignment.name not in chapters:
                continue
            for sub in assignment.submissions:
                for snb in sub.notebooks:
                    where = f"{sub.student.id}/{assignment.name}/{snb.name}"
                    recorded = {g.name: g.auto_score for g in snb.grades
                                if g.auto_score is not None}
                    path = root / "autograded" / sub.student.id / assignment.name / \
                        f"{snb.name}.ipynb"
                    if not path.is_file():
                        if recorded:
                            problems.append(f"{where}: scores in the gradebook, no autograded "
                                            "notebook")
                        continue
                    nb = nbformat.read(path, as_version=4)
                    for cell in nb.cells:
                        if not is_grade(cell):
                            continue
                        name = cell.metadata.nbgrader["grade_id"]
                        score, _ = determine_grade(cell)
                        if score is not None and recorded.get(name) != score:
                            problems.append(f"{where}/{name}: gradebook {recorded.get(name)}, "
                                            f"autograded notebook {score:g}")
    return problems


# -- export --------------------------------------------------------------------------------
def per_exercise(root: Path | str | None, chapters: Iterable[str] | None = None
                 ) -> tuple[list[str], list[dict[str, object]], int]:
    """Columns and rows of the grade table, and how many cells await a person: one row per
    student, one column per exercise (``<chapter>/<exercise>``, the grade_id before ``__``),
    plus ``total`` and ``max``. An exercise's score is the sum of its graded cells (manual
    score where a person graded it); an answer still waiting for a person leaves its exercise
    empty (not 0), and so do chapters a student did not submit. Without ``chapters``, only
    chapters with at least one graded submission are included."""
    root = find_course_root(root)
    with _gradebook(root) as gb:
        assignments = [a for a in gb.assignments
                       if (a.name in chapters if chapters is not None else a.submissions)]
        columns: dict[str, float] = {}
        for a in sorted(assignments, key=lambda a: a.name):
            for nb in a.notebooks:
                for cell in sorted(nb.grade_cells, key=lambda c: c.name):
                    key = f"{a.name}/{cell.name.partition('__')[0]}"
                    columns[key] = columns.get(key, 0.0) + float(cell.max_score)
        rows, waiting = [], 0
        for student in sorted(gb.students, key=lambda s: s.id):
            row: dict[str, object] = {"student": student.id}
            total = maximum = 0.0
            pending: set[str] = set()
            for a in assignments:
                try:
                    sub = gb.find_submission(a.name, student.id)
                except Exception:
                    continue
                maximum += float(sub.max_score)
                for nb in sub.notebooks:
                    for g in nb.grades:
                        key = f"{a.name}/{g.name.partition('__')[0]}"
                        if nbgrader_plugins.awaits_a_person(g):
                            pending.add(key)
                            waiting += 1
                            continue
                        row[key] = float(row.get(key, 0.0)) + float(g.score)
                        total += float(g.score)
            for key in pending:
                row.pop(key, None)
            row["total"], row["max"] = total, maximum
            rows.append(row)
    return ["student", *columns, "total", "max"], rows, waiting


def export(root: Path | str | None, csv_path: Path, json_path: Path | None = None,
           chapters: Iterable[str] | None = None) -> tuple[int, int]:
    """Write the per-exercise grade table as CSV (and JSON); returns the number of rows and
    of answers awaiting a person (their cells are left empty)."""
    columns, rows, waiting = per_exercise(root, None if chapters is None else list(chapters))
    with open(csv_path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(rows)
    if json_path is not None:
        json_path.write_text(json.dumps({"columns": columns, "rows": rows}, indent=1))
    return len(rows), waiting


def awaiting_points(root: Path, chapter: str, student: str) -> float:
    """Points of ``student``'s written answers in ``chapter`` that await a person."""
    from nbgrader.api import MissingEntry

    with _gradebook(root) as gb:
        try:
            sub = gb.find_submission(chapter, student)
        except MissingEntry:
            return 0.0
        return sum(float(g.max_score) for nb in sub.notebooks for g in nb.grades
                   if nbgrader_plugins.awaits_a_person(g))


# -- feedback ------------------------------------------------------------------------------
def hidden_test_lines(root: Path, chapter: str, min_length: int = 12) -> list[str]:
    """Distinctive lines of the chapter's hidden tests (from the instructor's source)."""
    source = nbformat.read(root / "solutions" / chapter / f"{chapter}.ipynb", as_version=4)
    lines = []
    for cell in source.cells:
        if HIDDEN_MARK in cell.source:
            hidden = cell.source.split(HIDDEN_MARK, 1)[1]
            hidden = hidden.split("### END HIDDEN TESTS", 1)[0]
            lines += [ln.strip() for ln in hidden.splitlines() if len(ln.strip()) >= min_length]
    return lines


def leaks(html: str, secret_lines: Iterable[str]) -> list[str]:
    """The secret lines that appear in ``html`` (compared after HTML-escaping too)."""
    import html as html_lib

    return [ln for ln in secret_lines if ln in html or html_lib.escape(ln) in html
            or html_lib.escape(ln, quote=False) in html]


def feedback(root: Path | str | None, chapter: str, force: bool = True) -> list[Path]:
    """Run ``nbgrader generate_feedback`` (hidden tests summarised by the course config),
    then refuse any file that still contains a line of a hidden test: it is deleted and
    the command fails. Returns the feedback files written."""
    root = find_course_root(root)
    cmd = [sys.executable, "-m", "nbgrader", "generate_feedback", chapter,
           f"--CourseDirectory.db_url={db_url(root)}"] + (["--force"] if force else [])
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    if proc.returncode != 0:
        raise GradingError(f"nbgrader generate_feedback failed:\n{proc.stdout}{proc.stderr}")
    files = sorted((root / "feedback").glob(f"*/{chapter}/*.html"))
    secret = hidden_test_lines(root, chapter)
    leaked = [f for f in files if leaks(f.read_text(errors="replace"), secret)]
    for f in leaked:
        f.unlink()
    if leaked:
        raise GradingError("hidden tests appeared in feedback; deleted: "
                           + ", ".join(str(f.relative_to(root)) for f in leaked))
    return files
