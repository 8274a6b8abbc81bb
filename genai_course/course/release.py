"""Regenerate the student notebooks in ``chapters/`` from the instructor's ``solutions/``.

``chapters/`` is never edited by hand. :func:`release` runs nbgrader's
``generate_assignment`` (which removes solutions and hidden tests and locks the test
cells), then normalises every notebook (no outputs, canonical metadata, nbformat's
sorted-key JSON) so that releasing twice gives byte-identical files and ``git diff``
shows only cell sources. :func:`release` with ``check=True`` writes nothing and
returns the files that differ from what a release would write.
"""

from __future__ import annotations

import filecmp
import logging
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from genai_course.course.conventions import RELEASE_DIR, SOURCE_DIR, STUB_MARKERS

CHAPTER_RE = re.compile(r"^\d\d_[a-z0-9_]+$")
#: Where a release moves files it finds in chapters/ but does not write (it never deletes one).
ASIDE_DIR = ".release-aside"
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
# Cell metadata worth keeping: nbgrader's own, the lock flags it sets, and tags.
KEPT_CELL_METADATA = ("nbgrader", "deletable", "editable", "tags")
# Text that nbgrader's stubs (nbgrader_config.py) leave in an unanswered cell.


class ReleaseError(RuntimeError):
    """Raised when the course layout or nbgrader stops a release."""


def find_course_root(start: Path | str | None = None) -> Path:
    """The nearest directory at or above ``start`` (default: the current one) holding
    ``nbgrader_config.py`` and ``solutions/``."""
    here = Path(start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "nbgrader_config.py").is_file() and (candidate / SOURCE_DIR).is_dir():
            return candidate
    raise ReleaseError(
        f"No course found at or above {here}: expected a directory with nbgrader_config.py "
        "and solutions/ (run this from the course repository, or pass --root)."
    )


def list_chapters(root: Path) -> list[str]:
    """Chapter folders under ``solutions/`` (``NN_name`` holding ``NN_name.ipynb``)."""
    return sorted(
        p.name
        for p in (root / SOURCE_DIR).iterdir()
        if p.is_dir() and CHAPTER_RE.match(p.name) and (p / f"{p.name}.ipynb").is_file()
    )


def normalize(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Strip outputs and execution counts, keep only meaningful metadata (in place)."""
    nb.metadata = nbformat.from_dict(
        {"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}}
    )
    for cell in nb.cells:
        cell.metadata = nbformat.from_dict(
            {k: cell.metadata[k] for k in KEPT_CELL_METADATA if k in cell.metadata}
        )
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    nbformat.validate(nb)
    return nb


def dumps(nb: nbformat.NotebookNode) -> str:
    """The canonical text of a notebook (nbformat's JSON, trailing newline)."""
    return nbformat.writes(nb, version=4) + "\n"


def normalized_text(path: Path) -> str:
    return dumps(normalize(nbformat.read(path, as_version=4)))


@dataclass
class ReleaseReport:
    """What a release wrote (or, with ``check``, would write)."""

    changed: list[Path] = field(default_factory=list)  # differ from the release
    removed: list[Path] = field(default_factory=list)  # in chapters/ but not released
    unnormalized_sources: list[Path] = field(default_factory=list)  # solutions with outputs
    moved: dict[Path, Path] = field(default_factory=dict)  # removed file -> where it went

    @property
    def clean(self) -> bool:
        return not (self.changed or self.removed or self.unnormalized_sources)


def _generate(root: Path, chapter: str, out: Path, db_url: str | None) -> Path:
    """Run nbgrader generate_assignment for one chapter into ``out``; return its folder."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    config = Config()
    config.merge(PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config())
    config.CourseDirectory.root = str(root)
    config.CourseDirectory.release_directory = str(out)
    if db_url is not None:
        config.CourseDirectory.db_url = db_url
    config.NbGraderAPI.log_level = logging.WARNING
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    result = api.generate_assignment(chapter, force=True, create=True)
    if not result["success"]:
        raise ReleaseError(
            f"nbgrader generate_assignment failed for {chapter}:\n"
            f"{result.get('error') or result.get('log', '')}"
        )
    return out / chapter


def _has_student_work(path: Path) -> bool:
    """True if overwriting ``path`` could lose a student's work: the notebook holds
    outputs (somebody ran it) or an answer cell no longer holds nbgrader's stub."""
    if path.suffix != ".ipynb":
        return False
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception:  # unreadable: treat as someone's file, never overwrite silently
        return True
    for cell in nb.cells:
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count")):
            return True
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and not any(m in cell.source for m in STUB_MARKERS):
            return True
    return False


def release(
    root: Path,
    chapters: list[str] | None = None,
    check: bool = False,
    force: bool = False,
    db_url: str | None = None,
) -> ReleaseReport:
    """Regenerate ``chapters/<chapter>/`` from ``solutions/<chapter>/``.

    ``db_url`` is the gradebook that learns each chapter's graded cells (nbgrader needs
    them to autograde); by default the one ``nbgrader_config.py`` names (the course's
    ``gradebook.db``), and a throw-away one with ``check=True``. With ``check=True``
    nothing in the course is written. Files in ``chapters/`` holding someone's work (see
    :func:`_has_student_work`) are only overwritten with ``force=True``; otherwise
    :class:`ReleaseError` names them and nothing is written. A file in ``chapters/`` that the
    release does not write (someone's notes, a file dropped from ``solutions/``) is never
    deleted: it is moved to ``.release-aside/<time>/`` (``report.moved`` says where).
    """
    root = Path(root).resolve()
    available = list_chapters(root)
    wanted = chapters or available
    unknown = [c for c in wanted if c not in available]
    if unknown:
        raise ReleaseError(
            f"Unknown chapter(s) {', '.join(unknown)}; solutions/ has: {', '.join(available)}"
        )
    report = ReleaseReport()
    writes: list[tuple[Path, Path]] = []
    with tempfile.TemporaryDirectory(prefix="genai-release-") as tmp:
        tmp_path = Path(tmp)
        if check and db_url is None:
            db_url = f"sqlite:///{tmp_path / 'gradebook.db'}"
        for chapter in wanted:
            source = root / SOURCE_DIR / chapter / f"{chapter}.ipynb"
            if source.read_text(encoding="utf-8") != normalized_text(source):
                report.unnormalized_sources.append(source)
                if not check:
                    source.write_text(normalized_text(source), encoding="utf-8")
            generated = _generate(root, chapter, tmp_path / "release", db_url)
            target_dir = root / RELEASE_DIR / chapter
            for new in sorted(p for p in generated.rglob("*") if p.is_file()):
                target = target_dir / new.relative_to(generated)
                if new.suffix == ".ipynb":
                    new.write_text(normalized_text(new), encoding="utf-8")
                if target.is_file() and filecmp.cmp(new, target, shallow=False):
                    continue
                report.changed.append(target)
                writes.append((new, target))
            if target_dir.is_dir():
                for old in sorted(p for p in target_dir.rglob("*") if p.is_file()):
                    if ".ipynb_checkpoints" in old.parts:
                        continue
                    if not (generated / old.relative_to(target_dir)).exists():
                        report.removed.append(old)
        if check:
            return report
        at_risk = [p for _, p in writes if p.exists() and _has_student_work(p)]
        if at_risk and not force:
            raise ReleaseError(
                "Not overwriting notebooks that hold someone's work (outputs or answers):\n"
                + "\n".join(f"  {p.relative_to(root)}" for p in at_risk)
                + "\nCopy them somewhere else first, or pass --force to overwrite them."
            )
        for new, target in writes:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(new, target)
        aside = root / ASIDE_DIR / time.strftime("%Y%m%d-%H%M%S")
        for old in report.removed:
            target = aside / old.relative_to(root)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(old, target)
            report.moved[old] = target
    return report
