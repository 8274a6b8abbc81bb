"""``genai-course lab``: JupyterLab set up for a student, or for an instructor.

For a **student** (the default) the lab

* works in a personal copy of ``chapters/`` (``my-work/`` in the course, ignored by git), made
  on first start: chapters added to the course later are copied in at the next start, and a
  chapter the course has changed since it was copied is reported, never overwritten (``--update
  CHAPTER`` moves the student's copy aside, saying where, and copies the new one), so pulling
  course updates never conflicts with a student's answers;
* opens on a start page, ``START_HERE.md`` (the chapters, how exercises, Validate and the self-check
  work, where the table of contents is), written at every start from the chapters themselves;
* hides nbgrader's instructor extensions (the Create Assignment sidebar, Formgrader, the course
  list) and the exchange's assignment list, keeping the Validate button.

``--instructor`` starts the lab on the course root with every nbgrader extension, as nbgrader
installs them. Extra arguments go to JupyterLab (``--no-browser --port 8888`` for headless use).

Used in: the README's quick start; ``tests/test_browser.py`` drives it in Chromium.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from genai_course.course.conventions import RELEASE_DIR

WORKSPACE = "my-work"
MANIFEST = ".course-copies.json"
START_PAGE = "START_HERE.md"
#: nbgrader's JupyterLab plug-ins and server extensions a student here does not need: the
#: instructor's (Create Assignment, Formgrader, the course list) and the assignment list,
#: which needs nbgrader's exchange (a JupyterHub set-up; plain `jupyter lab` keeps it there).
INSTRUCTOR_PLUGINS = ("@jupyter/nbgrader:create-assignment", "@jupyter/nbgrader:formgrader",
                      "@jupyter/nbgrader:course-list", "@jupyter/nbgrader:assignment-list")
INSTRUCTOR_SERVER_EXTENSIONS = ("nbgrader.server_extensions.formgrader",
                                "nbgrader.server_extensions.course_list",
                                "nbgrader.server_extensions.assignment_list")


class LabError(RuntimeError):
    """The workspace cannot be prepared as asked."""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class Workspace:
    """What preparing the student's workspace did."""

    path: Path
    copied: list[str] = field(default_factory=list)  # chapters copied in now
    changed: list[str] = field(default_factory=list)  # the course's version is newer
    moved: list[tuple[Path, Path]] = field(default_factory=list)  # (old copy, where it went)


def chapter_files(root: Path) -> dict[str, Path]:
    """The released notebooks, by chapter folder (``01_history`` -> its notebook)."""
    release = root / RELEASE_DIR
    if not release.is_dir():
        return {}
    return {p.name: p / f"{p.name}.ipynb" for p in sorted(release.iterdir())
            if (p / f"{p.name}.ipynb").is_file()}


def prepare_workspace(root: Path, workspace: Path | None = None,
                      update: list[str] | None = None) -> Workspace:
    """Copy the chapters the workspace lacks from ``chapters/``, report those the course has
    changed since they were copied, and for each chapter in ``update`` move the student's
    copy aside (``<name>.before-<date>.ipynb``) and copy the course's version."""
    workspace = (workspace or root / WORKSPACE).resolve()
    chapters = chapter_files(root)
    unknown = sorted(set(update or []) - set(chapters))
    if unknown:
        raise LabError(f"no chapter {', '.join(unknown)}; chapters: {', '.join(chapters)}")
    workspace.mkdir(parents=True, exist_ok=True)
    manifest_path = workspace / MANIFEST
    manifest: dict[str, str] = (json.loads(manifest_path.read_text())
                                if manifest_path.is_file() else {})
    done = Workspace(workspace)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for chapter, release in chapters.items():
        folder = workspace / chapter
        mine = folder / release.name
        if chapter in (update or []) and mine.exists():
            aside = folder / f"{chapter}.before-{stamp}.ipynb"
            mine.rename(aside)
            done.moved.append((mine, aside))
        if not mine.exists():
            folder.mkdir(exist_ok=True)
            for extra in release.parent.iterdir():  # the notebook and any data beside it
                target = folder / extra.name
                if extra.is_file() and not target.exists():
                    shutil.copy2(extra, target)
            manifest[chapter] = _sha256(release)
            done.copied.append(chapter)
        elif manifest.get(chapter) != _sha256(release):
            done.changed.append(chapter)
    manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    (workspace / START_PAGE).write_text(start_page(workspace, chapters), encoding="utf-8")
    return done


def _title(notebook: Path) -> str:
    """The first heading of a notebook ("Chapter 1 — A short history of generative AI")."""
    try:
        nb = nbformat.read(notebook, as_version=4)
    except Exception:  # a damaged copy still gets a line on the start page
        return notebook.stem
    for cell in nb.cells:
        m = re.search(r"^#\s+(.+)$", cell.source, re.M) if cell.cell_type == "markdown" else None
        if m:
            return m.group(1).strip()
    return notebook.stem


def start_page(workspace: Path, chapters: dict[str, Path]) -> str:
    """The start page's Markdown: the chapters (linking the student's copies), how exercises,
    Validate and the self-check work, where the table of contents is."""
    rows = "\n".join(
        f"{i}. [{_title(workspace / c / p.name)}]({c}/{p.name})"
        for i, (c, p) in enumerate(chapters.items(), 1))
    return f"""# Generative AI, from scratch: start here

Your own copies of the chapters are in this folder; open one and run its cells from the top
(**Run → Run All Cells** runs the whole notebook, shortcut: select a cell and press
Shift+Enter to run it and move on).

{rows}

## How the exercises work

* Each exercise says what to write, how many points it is worth, and gives a hint. Replace the
  line `raise NotImplementedError(...)` in the answer cell with your code.
* The locked cell under your answer holds the **visible tests**: run it to check your work.
  More **hidden tests** run when your notebook is graded, so make your function right for
  every input the exercise describes, not just the examples.
* Until you solve an exercise, the cells after it use the course's own version and say so, so
  the rest of the chapter still runs. Failed tests show their error and Run All goes on.
* Written answers go in the cells that say `YOUR ANSWER HERE`; a person marks them.

## Checking your work before you hand it in

* **Validate** (the button in the notebook's toolbar) saves the notebook and runs it as
  grading will, then says "Success" or which tests fail.
* The chapter's last cell runs `self_check()`: a table of every exercise, passed, failed or
  not attempted, with its points. It works on Colab too (save first in JupyterLab: it checks
  the saved file).

## Finding your way

* **Table of contents**: the list icon in the left sidebar (or **View → Table of Contents**)
  shows a chapter's sections and exercises; click one to jump there.
* Your copies are yours: updating the course never changes them. When a chapter has a new
  version, `genai-course lab` says so; `genai-course lab --update 01_history` keeps your copy
  as `01_history.before-<date>.ipynb` beside the new one.
"""


def lab_config_dir(base: Path, app_settings: Path | None) -> Path:
    """A Jupyter config directory, used through ``JUPYTER_CONFIG_PATH`` so nothing in the
    user's own configuration changes: nbgrader's instructor extensions switched off, and
    JupyterLab's settings (a copy of ``app_settings``, JupyterLab's own) opening Markdown files
    rendered, so the start page reads as a page, and no news fetched from the internet."""
    (base / "labconfig").mkdir(parents=True, exist_ok=True)
    (base / "labconfig" / "page_config.json").write_text(json.dumps(
        {"disabledExtensions": {name: True for name in INSTRUCTOR_PLUGINS}}, indent=1))
    (base / "jupyter_server_config.json").write_text(json.dumps(
        {"ServerApp": {"jpserver_extensions": {n: False for n in INSTRUCTOR_SERVER_EXTENSIONS}}},
        indent=1))
    settings = base / "app_settings"
    if settings.exists():
        shutil.rmtree(settings)
    if app_settings is not None and app_settings.is_dir():
        shutil.copytree(app_settings, settings)
    settings.mkdir(parents=True, exist_ok=True)
    overrides_path = settings / "overrides.json"
    overrides = json.loads(overrides_path.read_text()) if overrides_path.is_file() else {}
    overrides.setdefault("@jupyterlab/docmanager-extension:plugin", {}).setdefault(
        "defaultViewers", {})["markdown"] = "Markdown Preview"
    # a chapter opens with its Python kernel running, without a "Select Kernel" question
    overrides.setdefault("@jupyterlab/notebook-extension:tracker", {})[
        "autoStartDefaultKernel"] = True
    # the course is offline-first: no "get notified about Jupyter news?" question
    overrides.setdefault("@jupyterlab/apputils-extension:notification", {}).update(
        {"fetchNews": "false", "checkForUpdates": False})
    overrides_path.write_text(json.dumps(overrides, indent=1))
    return base


def default_app_settings() -> Path | None:
    """JupyterLab's own application settings folder (None without JupyterLab)."""
    try:
        from jupyterlab.commands import get_app_dir
    except ImportError:
        return None
    return Path(get_app_dir()) / "settings"


def command(workdir: Path, config_dir: Path | None, extra: list[str]) -> list[str]:
    """The JupyterLab command line: on ``workdir``; for a student (``config_dir`` given)
    opening the start page with the student's settings."""
    cmd = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={workdir}"]
    if config_dir is not None:
        cmd += [f"--LabApp.default_url=/lab/tree/{START_PAGE}",
                f"--LabApp.app_settings_dir={config_dir / 'app_settings'}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    return cmd + extra


def environment(config_dir: Path | None) -> dict[str, str]:
    """The server's environment: the student config directory first on the config path."""
    env = dict(os.environ)
    if config_dir is not None:
        env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(
            p for p in (str(config_dir), env.get("JUPYTER_CONFIG_PATH", "")) if p)
    return env
