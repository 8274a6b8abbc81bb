"""Grade classes of submissions for real, through ``genai-course grade`` (nbgrader's own
autograde, the sandbox, bubblewrap): on the first chapter a class of hostile and broken
submissions and the attacks of a determined student on the operating system (tests/hostile.py),
on every chapter a correct, an untouched and a mistaken submission and the catalogue's
alternative correct answers. Each gets exactly the points it earned and an honest status
line (the correct one every point of the code cells, with its written answers left to a
person); nobody else's grade changes; nothing is left running; the checkout and the course
files are byte-identical afterwards. Grading twice, or with plain sequential
``nbgrader autograde``, gives the same gradebook; feedback never shows hidden tests; the
per-exercise export adds up and agrees with the autograded notebooks.

What a hostile submission does (loop, crash, flood, patch the checks, attack the machine)
does not depend on the chapter, so the hostile class is graded on one chapter only; the
others get the small class, which is what depends on the chapter (its answers and tests)."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from genai_course.course import classroom as grader
from genai_course.course import sample_class
from genai_course.course.cli import main
from genai_course.course.conventions import COURSE_ID
from genai_course.course.release import list_chapters
from genai_course.course.sample_class import cell_scores
from genai_course.course.sandbox.isolation import UID_BASE, UID_SLOTS
from genai_course.course.workers import AutogradeWorker

from .conftest import ROOT
from .hostile import MARKER_ENV, attack_class, hostile_class, small_class, write_class

CHAPTERS = list_chapters(ROOT)
HOSTILE_CHAPTERS = CHAPTERS[:1]
MARKER = uuid.uuid4().hex
# the graded classes are cached per module: keep the module on one xdist worker
pytestmark = pytest.mark.xdist_group("grading_class")


@pytest.fixture(scope="module", autouse=True)
def limits():
    """Short limits keep the hostile submissions quick; the gradings run as subprocesses,
    which carry a marker the attacks look for (so they can only harm this test)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("GENAI_COURSE_CALL_TIMEOUT", "5")
    mp.setenv("GENAI_COURSE_MEMORY_MB", "1024")
    mp.setenv(MARKER_ENV, MARKER)
    yield
    mp.undo()


def digests(*folders: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folders`` (bytecode caches aside: Python may add new
    ones; :func:`same_files` still checks those that existed)."""
    out = {}
    for folder in folders:
        files = [folder] if folder.is_file() else sorted(p for p in folder.rglob("*")
                                                        if p.is_file())
        for path in files:
            out[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def same_files(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Files changed or removed, and new files outside bytecode caches."""
    changed = [p for p, d in before.items() if after.get(p) != d]
    added = [p for p in after if p not in before and "__pycache__" not in p]
    return changed + added


def leftovers() -> list[str]:
    """Processes of this test's gradings still alive: a sandbox uid, or our marker in
    their environment (this pytest process aside)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            uid = os.stat(f"/proc/{entry}").st_uid
            environ = Path(f"/proc/{entry}/environ").read_bytes()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if UID_BASE <= uid < UID_BASE + UID_SLOTS or MARKER.encode() in environ:
            found.append(f"{entry}: {cmdline.decode(errors='replace')[:120]}")
    return found


def class_for(chapter: str) -> list:
    """The full hostile class and the attacks on HOSTILE_CHAPTERS, the small class elsewhere."""
    if chapter not in HOSTILE_CHAPTERS:
        return small_class(chapter)
    other = next(c for c in CHAPTERS if c != chapter)
    fixtures = hostile_class(chapter, other)
    fixtures += attack_class(chapter)
    names = {f.student for f in fixtures}
    return fixtures + [f for f in small_class(chapter) if f.student not in names]


def make_course(root: Path, chapter: str) -> None:
    sample_class.make_course(root, ROOT, chapter)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Each chapter's class, graded once (cached per chapter), with what the files and
    processes looked like before and after."""
    done: dict[str, tuple[Path, list, list, dict]] = {}

    def get(chapter: str):
        if chapter not in done:
            root = tmp_path_factory.mktemp(f"course_{chapter}")
            make_course(root, chapter)
            fixtures = class_for(chapter)
            write_class(root, chapter, fixtures)
            course = [root / "nbgrader_config.py", root / "solutions", root / "chapters",
                      root / "submitted"]
            checkout = [ROOT / "genai_course", ROOT / "solutions", ROOT / "chapters",
                        ROOT / "nbgrader_config.py"]
            before = digests(*course, *checkout)
            # two at a time where submissions graded side by side matter (the hostile class:
            # killers, daemons, forged replies); one worker for a small class, whose start-up
            # (an nbgrader, a warm kernel, a sandbox) costs more than grading it
            results = grader.grade(root, chapter, jobs=2 if chapter in HOSTILE_CHAPTERS else 1)
            deadline = time.monotonic() + 15  # the kernels stop within a second or two
            while leftovers() and time.monotonic() < deadline:
                time.sleep(0.5)
            state = {"changed": same_files(before, digests(*course, *checkout)),
                     "leftovers": leftovers(), "scores": cell_scores(root, chapter)}
            done[chapter] = (root, fixtures, results, state)
        return done[chapter]

    return get


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_submission_gets_exactly_its_points(chapter, graded):
    root, fixtures, results, state = graded(chapter)
    assert len(fixtures) >= (25 if chapter in HOSTILE_CHAPTERS else 3)
    scores = state["scores"]
    by_student = {r.student: r for r in results}
    wrong, lines = {}, []
    for f in fixtures:
        got = {gid: scores[f.student].get(gid) for gid in f.expected}
        if got != f.expected:
            wrong[f.student] = {g: (got[g], f.expected[g]) for g in got if got[g] != f.expected[g]}
        r = by_student[f.student]
        if r.status != f.status or not re.search(f.note, " ".join(r.notes)):
            lines.append(f"{r.line()}  (expected {f.status}: {f.note})")
        limit = f.extra.get("max_notebook_bytes")
        if limit:
            graded_nb = root / "autograded" / f.student / chapter / f"{chapter}.ipynb"
            assert graded_nb.stat().st_size < limit
    assert not wrong, f"(got, expected) per cell: {json.dumps(wrong, indent=1)}"
    assert not lines, "\n".join(lines)
    zero = {"untouched"} | ({"weakened_tests", "not_json", "other_chapter", "steals_answers"}
                            if chapter in HOSTILE_CHAPTERS else set())
    assert {f.student for f in fixtures if sum(f.expected.values()) == 0} >= zero
    correct = next(f for f in fixtures if f.student == "correct").expected
    assert all(v > 0 for v in correct.values()), "the solution must earn every point"
    for f in fixtures:
        if f.student.startswith("right_answers"):
            assert f.expected == correct, (f.student, "a right answer fails in-process")
    assert any(f.student.startswith("right_answers") for f in fixtures) or int(chapter[:2]) > 4
    # in nbgrader's own sums: the solution earns every point of the code cells, the untouched
    # release none, and the written answers wait for a person
    with Gradebook(grader.db_url(root), course_id=COURSE_ID) as gb:
        max_code = sum(g.max_score for nb in gb.find_assignment(chapter).notebooks
                       for g in nb.grade_cells if g.cell_type == "code")
        assert max_code >= 10
        solved, untouched = (gb.find_submission(chapter, s) for s in ("correct", "untouched"))
        assert solved.code_score == max_code and untouched.code_score == 0
        assert solved.needs_manual_grade


@pytest.mark.parametrize("chapter", HOSTILE_CHAPTERS)
def test_attacks_leave_no_trace(chapter, graded):
    """The checkout and the course files are byte-identical, nothing is left running, and
    the gradebook is still what grading wrote, seconds later; printed output is short and
    keeps no secret."""
    root, fixtures, results, state = graded(chapter)
    assert state["changed"] == [], state["changed"]
    assert state["leftovers"] == [], state["leftovers"]
    time.sleep(2)  # a daemon that survived would rewrite the gradebook now
    assert cell_scores(root, chapter) == state["scores"]
    assert grader.crosscheck(root, [chapter]) == []
    graded_nb = nbformat.read(root / "autograded" / "prints_secrets" / chapter /
                              f"{chapter}.ipynb", as_version=4)
    limit = next(f for f in fixtures if f.student == "prints_secrets").extra["max_output_lines"]
    for cell in graded_nb.cells:
        text = "".join(o.get("text", "") for o in cell.get("outputs", []))
        assert MARKER not in text and MARKER_ENV not in text, "the grader's environment leaked"
        assert len(text.splitlines()) <= limit, text[:500]


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_no_hidden_test_reaches_the_feedback(chapter, graded):
    root, fixtures, _, _ = graded(chapter)
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
    root, fixtures, _, _ = graded(chapter)
    first = cell_scores(root, chapter)
    skipped = grader.grade(root, chapter, jobs=2)
    assert {r.status for r in skipped if r.student != "empty_folder"} == {"skipped"}
    sample = ["correct", "partial", "common_mistakes", "monkeypatches_checks",
              "copies_package_function"]
    again = grader.grade(root, chapter, jobs=2, force=True, only=sample)
    assert all(r.status != "skipped" for r in again) and len(again) == len(sample)
    assert cell_scores(root, chapter) == first


def test_plain_sequential_nbgrader_autograde_gives_the_same_gradebook(graded, tmp_path):
    chapter = CHAPTERS[0]
    root, fixtures, _, _ = graded(chapter)
    parallel = cell_scores(root, chapter)
    plain = tmp_path / "plain"
    make_course(plain, chapter)
    sample = {"correct", "common_mistakes", "always_equal", "copies_package_function"}
    readable = [f for f in fixtures if f.student in sample]
    write_class(plain, chapter, readable)
    # one nbgrader process grades every submission in turn, with its own kernel for each
    subprocess.run([sys.executable, "-m", "nbgrader", "autograde", chapter,
                    f"--CourseDirectory.db_url={grader.db_url(plain)}"],
                   cwd=plain, check=True, capture_output=True)
    assert cell_scores(plain, chapter) == {f.student: parallel[f.student] for f in readable}


def test_export_has_one_column_per_exercise_and_adds_up(graded, tmp_path, capsys):
    chapter = CHAPTERS[0]
    root, fixtures, _, _ = graded(chapter)
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
    root, fixtures, _, _ = graded(chapter)
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
    root, fixtures, _, _ = graded(chapter)
    assert main(["grade", chapter, "--root", str(root), "--student", "correct",
                 "--student", "infinite_loop", "--force"]) == 0
    out = capsys.readouterr()
    assert "timed out in" in out.err + out.out and "2 submissions" in out.out
    assert main(["grade", "no_such_chapter", "--root", str(root)]) == 2
    assert "no chapter 'no_such_chapter'" in capsys.readouterr().err
    assert main(["grade", chapter, "--root", str(root), "--student", "nobody"]) == 2
    assert "no submission of" in capsys.readouterr().err
    assert main(["grade", chapter, "--root", str(root), "--jobs", "0"]) == 2
