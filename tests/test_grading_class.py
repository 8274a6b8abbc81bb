"""Grade a class of hostile and broken submissions for every chapter, for real: each gets
exactly the points it earned and an honest status line; grading twice, or with plain
sequential ``nbgrader autograde``, gives the same gradebook; feedback never shows hidden
tests; the per-exercise export adds up."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from genai_course.course import classroom as grader
from genai_course.course.cli import main
from genai_course.course.release import list_chapters, release
from genai_course.course.workers import AutogradeWorker

from .conftest import ROOT
from .hostile import hostile_class, write_class

CHAPTERS = list_chapters(ROOT)
# the graded classes are cached per module: keep the module on one xdist worker
pytestmark = pytest.mark.xdist_group("grading_class")


def cell_scores(root: Path, chapter: str) -> dict[str, dict[str, float]]:
    from nbgrader.api import Gradebook

    with Gradebook(grader.db_url(root), course_id=grader.COURSE_ID) as gb:
        return {
            sub.student.id: {g.name: g.score for nb in sub.notebooks for g in nb.grades}
            for sub in gb.find_assignment(chapter).submissions
        }


@pytest.fixture(scope="module", autouse=True)
def limits():
    """Short limits keep the hostile submissions quick; the gradings run as subprocesses."""
    mp = pytest.MonkeyPatch()
    mp.setenv("GENAI_COURSE_CALL_TIMEOUT", "5")
    mp.setenv("GENAI_COURSE_MEMORY_MB", "1024")
    yield
    mp.undo()


def make_course(root: Path, chapter: str) -> None:
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "nbgrader_config.py", root)
    shutil.copytree(ROOT / "solutions" / chapter, root / "solutions" / chapter)
    release(root, [chapter], db_url=grader.db_url(root))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Each chapter's hostile class, graded once with --jobs 2 (cached per chapter)."""
    done: dict[str, tuple[Path, list, list]] = {}

    def get(chapter: str):
        if chapter not in done:
            root = tmp_path_factory.mktemp(f"course_{chapter}")
            make_course(root, chapter)
            other = next(c for c in CHAPTERS if c != chapter)
            # the first chapter gets five extra fixtures; the sandbox does not depend on it
            fixtures = hostile_class(chapter, other, extras=chapter == CHAPTERS[0])
            write_class(root, chapter, fixtures)
            results = grader.grade(root, chapter, jobs=2)
            done[chapter] = (root, fixtures, results)
        return done[chapter]

    return get


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_hostile_submission_gets_exactly_its_points(chapter, graded):
    root, fixtures, results = graded(chapter)
    assert len(fixtures) >= 15
    scores = cell_scores(root, chapter)
    by_student = {r.student: r for r in results}
    wrong = {}
    for f in fixtures:
        got = {gid: scores[f.student].get(gid) for gid in f.expected}
        if got != f.expected:
            wrong[f.student] = {g: (got[g], f.expected[g]) for g in got if got[g] != f.expected[g]}
        r = by_student[f.student]
        assert r.status == f.status, (f.student, r.line())
        assert f.note in " ".join(r.notes), (f.student, r.line())
        limit = f.extra.get("max_notebook_bytes")
        if limit:
            graded_nb = root / "autograded" / f.student / chapter / f"{chapter}.ipynb"
            assert graded_nb.stat().st_size < limit
    assert not wrong, f"(got, expected) per cell: {json.dumps(wrong, indent=1)}"
    assert {f.student for f in fixtures if sum(f.expected.values()) == 0} >= {
        "untouched", "weakened_tests", "not_json", "other_chapter"}
    correct = sum(fixtures[0].expected.values())
    assert correct > 0 and all(v > 0 for v in fixtures[0].expected.values())


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_no_hidden_test_reaches_the_feedback(chapter, graded):
    root, fixtures, _ = graded(chapter)
    files = grader.feedback(root, chapter)
    assert len(files) == len(fixtures)  # malformed ones get the release's feedback
    secret = grader.hidden_test_lines(root, chapter)
    assert len(secret) >= 5
    for f in files:
        html = f.read_text()
        assert not grader.leaks(html, secret), f
        assert "Hidden tests" in html
    assert grader.leaks("<pre>" + secret[0] + "</pre>", secret), "the scanner must catch a leak"


def test_regrading_skips_unless_forced_and_gives_identical_gradebooks(graded):
    chapter = CHAPTERS[0]
    root, fixtures, _ = graded(chapter)
    first = cell_scores(root, chapter)
    skipped = grader.grade(root, chapter, jobs=2)
    assert {r.status for r in skipped if r.student != "empty_folder"} == {"skipped"}
    again = grader.grade(root, chapter, jobs=2, force=True)
    assert all(r.status != "skipped" for r in again)
    assert cell_scores(root, chapter) == first


def test_plain_sequential_nbgrader_autograde_gives_the_same_gradebook(graded, tmp_path):
    chapter = CHAPTERS[0]
    root, fixtures, _ = graded(chapter)
    parallel = cell_scores(root, chapter)
    plain = tmp_path / "plain"
    make_course(plain, chapter)
    sample = {"correct", "partial", "common_mistakes", "always_equal", "deleted_test_cells",
              "calls_the_package", "infinite_loop"}
    readable = [f for f in fixtures if f.student in sample]
    write_class(plain, chapter, readable)
    for f in readable:
        subprocess.run([sys.executable, "-m", "nbgrader", "autograde", chapter, "--student",
                        f.student, f"--CourseDirectory.db_url={grader.db_url(plain)}"],
                       cwd=plain, check=True, capture_output=True)
    assert cell_scores(plain, chapter) == {f.student: parallel[f.student] for f in readable}


def test_export_has_one_column_per_exercise_and_adds_up(graded, tmp_path, capsys):
    chapter = CHAPTERS[0]
    root, fixtures, _ = graded(chapter)
    out, js = tmp_path / "grades.csv", tmp_path / "grades.json"
    assert main(["export", "--root", str(root), "--out", str(out), "--json", str(js)]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {len(fixtures)} students" in printed
    # nobody marked the written answers: their cells stay empty, and the command says so
    assert "written answers await a person: their exercises are left empty" in printed
    rows = {r["student"]: r for r in csv.DictReader(out.open())}
    exercises = [c for c in next(csv.reader(out.open())) if c.startswith(chapter + "/")]
    assert len(exercises) >= 6  # every autograded exercise plus the written answer
    assert all(c.startswith(chapter + "/") for c in next(csv.reader(out.open()))[1:-2]), \
        "chapters nobody submitted are left out"
    for f in fixtures:
        row = rows[f.student]
        assert float(row["total"]) == pytest.approx(sum(float(row[c] or 0) for c in exercises))
        assert float(row["total"]) == pytest.approx(sum(f.expected.values()))
        assert float(row["max"]) > sum(fixtures[0].expected.values())  # + written answers
    assert json.loads(js.read_text())["columns"][0] == "student"


def test_a_submission_past_the_time_limit_is_stopped_and_its_worker_replaced(graded):
    chapter = CHAPTERS[0]
    root, fixtures, _ = graded(chapter)
    correct = next(f for f in fixtures if f.student == "correct")
    before = cell_scores(root, chapter)["correct"]
    worker = AutogradeWorker(root, grader.db_url(root))
    try:
        slow = grader.grade_one(root, chapter, "correct", timeout=0.5, worker=worker)
        assert slow.status == "failed" and "longer than 0.5 s" in slow.notes[0]
        again = grader.grade_one(root, chapter, "correct", worker=worker)
        assert again.status == "graded"
        assert again.score == pytest.approx(sum(correct.expected.values()))
    finally:
        worker.close()
    assert cell_scores(root, chapter)["correct"] == before


def test_cli_grade_reports_status_lines_and_bad_input(graded, capsys):
    chapter = CHAPTERS[0]
    root, fixtures, _ = graded(chapter)
    assert main(["grade", chapter, "--root", str(root), "--student", "correct",
                 "--student", "infinite_loop", "--force"]) == 0
    out = capsys.readouterr()
    assert "timed out in" in out.err + out.out and "2 submissions" in out.out
    assert main(["grade", "no_such_chapter", "--root", str(root)]) == 2
    assert "no chapter 'no_such_chapter'" in capsys.readouterr().err
    assert main(["grade", chapter, "--root", str(root), "--student", "nobody"]) == 2
    assert "no submission of" in capsys.readouterr().err
    assert main(["grade", chapter, "--root", str(root), "--jobs", "0"]) == 2
