"""The release pipeline: chapters/ is generated from solutions/, reproducibly, leak-free."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from genai_course.course import release as rel
from genai_course.course.cli import main as cli_main

from .conftest import ROOT

CHAPTERS = rel.list_chapters(ROOT)


def copy_course(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "nbgrader_config.py", dest)
    shutil.copytree(ROOT / "solutions", dest / "solutions")
    shutil.copytree(ROOT / "chapters", dest / "chapters")
    return dest


def test_there_is_a_chapter_for_every_solution():
    assert "01_history" in CHAPTERS
    for chapter in CHAPTERS:
        assert (ROOT / "chapters" / chapter / f"{chapter}.ipynb").is_file()


def test_release_check_is_clean_on_the_repository(capsys):
    assert cli_main(["release", "--check", "--root", str(ROOT)]) == 0
    assert "up to date" in capsys.readouterr().out


def test_hand_edit_makes_check_fail_and_release_repairs_it(tmp_path, capsys):
    course = copy_course(tmp_path)
    target = course / "chapters" / "01_history" / "01_history.ipynb"
    nb = nbformat.read(target, as_version=4)
    nb.cells[0].source += "\nA hand edit."
    nbformat.write(nb, target)
    assert cli_main(["release", "--check", "--root", str(course)]) == 1
    out = capsys.readouterr().out
    assert "chapters/01_history/01_history.ipynb" in out
    assert cli_main(["release", "--root", str(course)]) == 0
    assert cli_main(["release", "--check", "--root", str(course)]) == 0
    assert target.read_bytes() == (ROOT / "chapters/01_history/01_history.ipynb").read_bytes()


def test_stale_files_and_unstripped_sources_are_reported(tmp_path, capsys):
    course = copy_course(tmp_path)
    stale = course / "chapters" / "01_history" / "old_notes.txt"
    stale.write_text("left over")
    source = course / "solutions" / "01_history" / "01_history.ipynb"
    nb = nbformat.read(source, as_version=4)
    code = next(c for c in nb.cells if c.cell_type == "code")
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="hello\n")]
    code.execution_count = 3
    nbformat.write(nb, source)
    report = rel.release(course, check=True)
    assert report.removed == [stale]
    assert report.unnormalized_sources == [source]
    assert stale.exists()  # check writes nothing
    # a release never deletes a file it did not write: it moves it aside and says where
    assert cli_main(["release", "--root", str(course)]) == 0
    out = capsys.readouterr().out
    assert not stale.exists()
    (aside,) = (course / rel.ASIDE_DIR).rglob("old_notes.txt")
    assert aside.read_text() == "left over"
    assert f"moved chapters/01_history/old_notes.txt (not in the release) to " \
           f"{aside.relative_to(course)}" in out
    assert rel.release(course, check=True).clean


def test_release_is_byte_reproducible(tmp_path):
    first = copy_course(tmp_path / "a")
    second = copy_course(tmp_path / "b")
    for course in (first, second):
        shutil.rmtree(course / "chapters")
        rel.release(course)
    for path in sorted((first / "chapters").rglob("*")):
        if path.is_file():
            twin = second / path.relative_to(first)
            assert path.read_bytes() == twin.read_bytes(), path
            assert path.read_bytes() == (ROOT / path.relative_to(first)).read_bytes(), path


def test_release_refuses_to_overwrite_a_students_answers(tmp_path):
    course = copy_course(tmp_path)
    target = course / "chapters" / "01_history" / "01_history.ipynb"
    nb = nbformat.read(target, as_version=4)
    answer = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution"))
    answer.source = "def count_bigrams(sentences):\n    return {}  # my work\n"
    nbformat.write(nb, target)
    with pytest.raises(rel.ReleaseError, match="01_history.ipynb"):
        rel.release(course)
    assert "my work" in target.read_text()
    rel.release(course, force=True)
    assert "my work" not in target.read_text()


def test_unknown_chapter_and_missing_course_give_clear_errors(tmp_path, capsys):
    with pytest.raises(rel.ReleaseError, match="Unknown chapter"):
        rel.release(ROOT, ["99_nothing"], check=True)
    assert cli_main(["release", "--root", str(tmp_path)]) == 2
    assert "No course found" in capsys.readouterr().err


def _marked_blocks(source: str, begin: str, end: str) -> list[str]:
    pattern = re.compile(rf"{re.escape(begin)}\n(.*?){re.escape(end)}", re.S)
    return pattern.findall(source)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_no_solution_or_hidden_test_text_in_chapters(chapter):
    source = nbformat.read(ROOT / "solutions" / chapter / f"{chapter}.ipynb", as_version=4)
    secrets = []
    for cell in source.cells:
        blocks = _marked_blocks(cell.source, "### BEGIN SOLUTION", "### END SOLUTION")
        blocks += _marked_blocks(cell.source, "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
        if cell.metadata.get("nbgrader", {}).get("solution") and cell.cell_type == "markdown":
            blocks.append(cell.source)
        for block in blocks:
            # every substantial line of a solution or hidden test is a secret
            secrets += [ln.strip() for ln in block.splitlines() if len(ln.strip()) > 12]
    assert secrets, "expected solution and hidden-test text in the source notebook"
    released = "\n".join(
        p.read_text(encoding="utf-8") for p in (ROOT / "chapters").rglob("*") if p.is_file()
    )
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in released
    for nb in (ROOT / "chapters").rglob("*.ipynb"):
        text = "\n".join(c.source for c in nbformat.read(nb, as_version=4).cells)
        # in another chapter only a distinctive line counts: `except ValueError:` or an
        # import shared by two chapters' tests is no leak
        own = nb.parent.name == chapter
        leaked = [s for s in secrets if s in text and (own or (
            len(s) > 30 and not s.startswith(("from ", "import "))))]
        assert not leaked, f"{nb} leaks: {leaked[:3]}"


def test_grade_ids_are_unique_across_chapters():
    """Grading matches a submission's answer cells to the release by grade_id, so a grade_id
    shared by two chapters would let one chapter's notebook earn points in the other."""
    owners: dict[str, list[str]] = {}
    for chapter in CHAPTERS:
        source = nbformat.read(ROOT / "solutions" / chapter / f"{chapter}.ipynb", as_version=4)
        for cell in source.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id:
                owners.setdefault(grade_id, []).append(chapter)
    assert {c for where in owners.values() for c in where} == set(CHAPTERS)
    shared = {grade_id: where for grade_id, where in owners.items() if len(where) > 1}
    assert not shared, f"grade_ids used more than once: {shared}"


def test_notebooks_in_git_have_no_outputs():
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "*.ipynb"], capture_output=True, text=True
    )
    paths = (
        [ROOT / p for p in listed.stdout.split()]
        if listed.returncode == 0 and listed.stdout.strip()
        else sorted(ROOT.glob("chapters/**/*.ipynb")) + sorted(ROOT.glob("solutions/**/*.ipynb"))
    )
    assert paths
    for path in paths:
        text = path.read_text(encoding="utf-8")
        assert text == rel.normalized_text(path), f"{path} is not stripped/normalised"


def test_cli_runs_as_a_module():
    out = subprocess.run(
        [sys.executable, "-m", "genai_course.course.cli", "--version"], capture_output=True,
        text=True)
    assert out.returncode == 0 and "genai-course" in out.stdout
