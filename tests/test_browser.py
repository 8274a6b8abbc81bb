"""A student's path in a real browser: Playwright drives Debian's Chromium against
``genai-course lab`` on a loopback port (quick mode).

The lab opens on the start page with nbgrader's instructor extensions hidden; Run All on the
untouched chapter 1 reaches the last cell; a widget's slider changes its output; Validate on a
fully solved notebook says "Success". Screenshots go to the folder printed at the end of the
test run (the ``screenshots`` fixture). Without Playwright or Chromium the tests are skipped,
except in CI (``CI`` set), where they fail: ``.ci/run`` installs both.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from genai_course.course import exercises
from genai_course.course.lab import INSTRUCTOR_PLUGINS, START_PAGE

from .conftest import ROOT

pytestmark = pytest.mark.xdist_group("browser")  # one lab server for the module
CHROMIUM = Path(os.environ.get("GENAI_COURSE_CHROMIUM", "/usr/bin/chromium"))
CHAPTER = "01_history"

try:
    from playwright.sync_api import Page, expect, sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None

if sync_playwright is None or not CHROMIUM.is_file():
    why = "needs Playwright for Python and Debian's chromium (bash .ci/run installs both)"
    if os.environ.get("CI"):
        raise RuntimeError(f"browser tests {why}")
    pytest.skip(why, allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Iterator[dict]:
    """``genai-course lab`` for a student, on a loopback port, in quick mode, with a fully
    solved copy of chapter 1 beside the untouched one."""
    work = tmp_path_factory.mktemp("lab") / "my-work"
    solved = work / "solved"
    solved.mkdir(parents=True)
    source = nbformat.read(ROOT / "solutions" / CHAPTER / f"{CHAPTER}.ipynb", as_version=4)
    release = nbformat.read(ROOT / "chapters" / CHAPTER / f"{CHAPTER}.ipynb", as_version=4)
    nbformat.write(exercises.with_answers(release, exercises.solved_answers(source)),
                   solved / f"{CHAPTER}.ipynb")
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ, GENAI_COURSE_QUICK="1")
    log = (work.parent / "lab.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "genai_course.course.cli", "lab", "--root", str(ROOT),
         "--workspace", str(work), "--no-browser", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
         f"--IdentityProvider.token={token}"],
        env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the lab did not start:\n"
                                       + (work.parent / "lab.log").read_text()[-3000:]) from None
                time.sleep(0.5)
        yield {"base": base, "token": token, "work": work, "log": work.parent / "lab.log"}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                     args=["--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()


@pytest.fixture()
def page(browser, request, screenshots) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    page.screenshot(path=str(screenshots / f"{request.node.name}.png"))
    context.close()


def open_lab(page: Page, lab: dict, path: str = "", workspace: str = "") -> None:
    """Open ``path`` in the lab, or the server's front page (which redirects to the lab's
    default URL, the start page). A named ``workspace`` starts from an empty layout: JupyterLab
    otherwise reopens what an earlier test left open."""
    where = f"/lab/workspaces/{workspace}" if workspace else "/lab"
    url = f"{lab['base']}{where}/tree/{path}?token={lab['token']}" if path else \
        f"{lab['base']}/?token={lab['token']}"
    page.goto(url)
    page.wait_for_selector("#jp-main-dock-panel", timeout=120_000)


def wait_for_idle_kernel(page: Page) -> None:
    """The notebook's kernel started by itself (no "Select Kernel" question: the lab's
    settings auto-start it) and is idle, as the status bar says."""
    expect(page.locator(".jp-Dialog")).to_have_count(0)
    expect(page.locator(".jp-StatusBar-Widget", has_text="| Idle").first).to_be_visible(
        timeout=120_000)


def run_menu(page: Page, menu: str, item: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=menu).first.click()
    page.locator(".lm-Menu-itemLabel", has_text=item).first.click()


def test_start_page_and_no_instructor_ui(page, lab):
    open_lab(page, lab)
    # the default page is the start page, rendered (not opened in the text editor)
    preview = page.locator(".jp-RenderedMarkdown").filter(has_text="start here").first
    expect(preview).to_be_visible(timeout=60_000)
    expect(preview.locator("a", has_text="A short history of generative AI")).to_be_visible()
    expect(preview).to_contain_text("Table of contents")
    # nbgrader's instructor plug-ins are disabled, the student's kept
    config = json.loads(page.locator("#jupyter-config-data").text_content())
    disabled = config.get("disabledExtensions", [])
    assert set(INSTRUCTOR_PLUGINS) <= set(disabled), disabled
    assert "@jupyter/nbgrader:validate-assignment" not in disabled
    menus = [m.strip() for m in page.locator(".lm-MenuBar-itemLabel").all_inner_texts()]
    assert "Formgrader" not in menus
    if "Nbgrader" in menus:  # what is left of nbgrader's menu
        page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").first.click()
        items = " ".join(page.locator(".lm-Menu-itemLabel").all_inner_texts())
        page.keyboard.press("Escape")
        assert not {"Formgrader", "Course List", "Assignment List"} & set(items.split("\n")), \
            items
    tabs = " ".join(t.get_attribute("title") or "" for t in
                    page.locator(".jp-SideBar .lm-TabBar-tab").all())
    assert "Create Assignment" not in tabs, tabs
    # the server side of formgrader is off too
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(f"{lab['base']}/formgrader?token={lab['token']}", timeout=30)
    assert (lab["work"] / START_PAGE).is_file()


def test_run_all_reaches_the_last_cell_and_a_slider_moves_the_widget(page, lab):
    open_lab(page, lab, f"{CHAPTER}/{CHAPTER}.ipynb", workspace="run-all")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
    wait_for_idle_kernel(page)
    run_menu(page, "Run", "Run All Cells")
    n_code = sum(1 for c in nbformat.read(lab["work"] / CHAPTER / f"{CHAPTER}.ipynb",
                                          as_version=4).cells if c.cell_type == "code")
    # every code cell's prompt shows an execution count: Run All went through to the end
    page.wait_for_function(
        """n => { const p = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
                 .map(e => e.textContent.trim());
                 return p.length === n && p.every(t => /^\\[\\d+\\]:$/.test(t)); }""",
        arg=n_code, timeout=400_000)
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    assert errors.count() >= 1  # the unsolved exercises' tests failed and Run All went on
    expect(page.get_by_text("is not solved yet: the cells below use the package's reference")
           .first).to_be_attached()
    # the last cell, the self-check, printed its table
    expect(page.locator(".jp-Cell").last).to_contain_text("Self-check of")
    expect(page.locator(".jp-Cell").last).to_contain_text("not attempted")
    # a widget: moving its slider redraws its output
    cell = page.locator(".jp-CodeCell").filter(has=page.locator(".widget-slider")).first
    cell.scroll_into_view_if_needed()
    outputs = ".widget-output, .jp-OutputArea-output"
    before = cell.locator(outputs).last.inner_text()
    handle = cell.locator(".widget-slider .noUi-handle").first
    handle.focus()
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    cell_index = page.eval_on_selector_all(
        ".jp-CodeCell", "cs => cs.findIndex(c => c.querySelector('.widget-slider'))")
    page.wait_for_function(
        "([i, sel, old]) => { const e = document.querySelectorAll('.jp-CodeCell')[i]"
        ".querySelectorAll(sel); return e.length && e[e.length - 1].innerText !== old; }",
        arg=[cell_index, outputs, before], timeout=60_000)


def test_validate_on_a_solved_notebook_says_success(page, lab):
    open_lab(page, lab, f"solved/{CHAPTER}.ipynb", workspace="validate")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
    wait_for_idle_kernel(page)
    panels = page.locator(".jp-NotebookPanel")
    expect(panels).to_have_count(1)  # the solved notebook, nothing else
    panels.locator(".jp-NotebookPanel-toolbar").get_by_text("Validate").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_be_visible(timeout=400_000)  # Validate runs the notebook first
    text = dialog.inner_text()
    assert "Success" in text and "WILL NOT" not in text, text[:3000]
