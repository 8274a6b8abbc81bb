"""The feedback a student reads: maths rendered without a network, exercises named, unmarked
written answers "awaiting grading", long lines wrapped, nothing loaded from the web.

Unit tests render hand-made notebooks with the course's exporter; the end-to-end tests grade a
chapter 1 submission with ``genai-course``'s grading path, write its feedback with nbgrader's
``generate_feedback`` (the course's config), and read the page, as text and in Chromium.
"""

from __future__ import annotations

import os
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from genai_course.course import classroom, exercises
from genai_course.course.feedback_page import FeedbackExporter, tex_to_mathml
from genai_course.course.nbgrader_plugins import ReadableFeedback, feedback_summary
from genai_course.course.release import release

from .conftest import ROOT

pytestmark = pytest.mark.xdist_group("feedback")  # one graded course for the module
MATHML = "{http://www.w3.org/1998/Math/MathML}"
CHROMIUM = Path(os.environ.get("GENAI_COURSE_CHROMIUM", "/usr/bin/chromium"))


def graded(cell, grade_id, *, solution=False, grade=False, points=0.0, score=None):
    cell.metadata["nbgrader"] = {"grade_id": grade_id, "solution": solution, "grade": grade,
                                 "locked": not solution, "points": points, "schema_version": 3}
    if score is not None:  # what nbgrader's GetGrades writes from the gradebook
        cell.metadata["nbgrader"]["score"] = score
    return cell


# -- maths ---------------------------------------------------------------------------------
def test_a_formula_becomes_mathml_with_the_tex_structure():
    tree = ET.fromstring(tex_to_mathml(r"\frac{a}{b^2}", display=True))
    assert tree.tag == f"{MATHML}math" and tree.get("display") == "block"
    frac = tree.find(f".//{MATHML}mfrac")
    numerator, denominator = list(frac)
    assert "".join(numerator.itertext()) == "a"
    assert denominator.find(f".//{MATHML}msup") is not None
    assert "".join(denominator.itertext()) == "b2"
    assert ET.fromstring(tex_to_mathml("p(x, y)")).get("display") == "inline"


def test_a_formula_the_converter_cannot_read_is_shown_as_its_source():
    assert tex_to_mathml(r"x < \frac{1}{") == r'<code class="tex">x &lt; \frac{1}{</code>'


# -- the page ------------------------------------------------------------------------------
def chapter() -> nbformat.NotebookNode:
    """A small graded notebook as nbgrader's GetGrades leaves it."""
    imports = new_code_cell("from genai_course import runtime")
    imports.id = "imports"
    long_verdict = ("Hidden tests failed (0 of 2 points). First problem: AssertionError: "
                    + "count_bigrams: missing keys " + "('a', 'b'), " * 60)
    tests_hidden = graded(new_code_cell("_ = f([['a']])\n# (hidden tests run here when graded)"),
                          "ex1_count__hidden", grade=True, points=2, score=0)
    tests_hidden.outputs = [new_output("stream", name="stdout", text=long_verdict + "\n")]
    written = graded(new_markdown_cell(
        "A generative model learns $p(x, y)$. <script>alert('hi')</script>"
        "<img src=x onerror=alert(1)>"),
        "ex2_why", solution=True, grade=True, points=2, score=0)
    return new_notebook(cells=[
        new_markdown_cell("# Chapter 1 — A short history\n\n"
                          "[![Open In Colab](https://colab.research.google.com/badge.svg)]"
                          "(https://colab.research.google.com/x)"),
        imports,
        new_markdown_cell("### Exercise 2 (written, 2 points): why generate?\n\n"
                          "The joint $$p(x, y) = p(y \\mid x)\\,p(x)$$ and $\\sum_i w_i$."),
        written,
        new_markdown_cell("### Exercise 1 (3 points): count bigrams"),
        graded(new_code_cell("def f(x):\n    return {}"), "ex1_count", solution=True),
        graded(new_code_cell("check_dict(f([]), {})\nprint('Visible tests passed.')"),
               "ex1_count__visible", grade=True, points=1, score=1),
        tests_hidden,
    ])


def render(nb: nbformat.NotebookNode, unmarked: set[str]) -> str:
    resources = {"nbgrader": {"score": 1.0, "max_score": 5.0, "late_penalty": 0},
                 "course_feedback": feedback_summary(nb, unmarked)}
    html, _ = FeedbackExporter().from_notebook_node(nb, resources=resources)
    return html


def test_the_summary_names_exercises_in_order_and_keeps_unmarked_points_apart():
    summary = feedback_summary(chapter(), unmarked={"ex2_why"})
    assert summary["title"] == "Chapter 1 — A short history"
    rows = [(e["title"], e["score"], e["points"], e["awaiting"]) for e in summary["exercises"]]
    assert rows == [("Exercise 1: count bigrams", 1.0, 3.0, 0.0),
                    ("Exercise 2: why generate?", 0.0, 2.0, 2.0)]
    assert summary["awaiting"] == 2.0
    assert [p["part"] for p in summary["exercises"][0]["parts"]] == [
        "visible tests", "hidden tests"]
    assert summary["cells"]["ex1_count"]["label"] == "Your answer: Exercise 1: count bigrams"
    marked = feedback_summary(chapter(), unmarked=set())
    assert marked["awaiting"] == 0 and marked["exercises"][1]["score"] == 0.0


def test_the_page_needs_no_network_and_reads_as_feedback():
    page = render(chapter(), unmarked={"ex2_why"})
    assert "<script" not in page.replace("&lt;script", "")  # no scripts at all
    assert not re.search(r"""(src|href)=["']?https?://[^"'>]*\.(js|css)""", page)
    assert "colab.research.google.com/badge.svg" not in page  # named, not loaded
    assert '<span class="remote-image">Open In Colab</span>' in page
    # maths is MathML, no TeX left for MathJax
    assert page.count("<math") == 3 and "$p(x, y)$" not in page and "$$" not in page
    # the contents list names exercises and their scores
    summary = page.split('<header class="feedback-summary"', 1)[1].split("</header>", 1)[0]
    assert "Exercise 1: count bigrams" in summary and "Test cell" not in summary
    assert "1 / 3" in summary and "awaiting grading (2 points)" in summary
    assert "2 points of written answers awaiting grading" in summary
    # the unmarked written answer is not shown as a zero
    section = page.split('id="ex2_why"', 1)[1].split("</section>", 1)[0]
    assert "awaiting grading (2 points, marked by a person)" in section
    assert "0 of 2" not in section
    # the student's HTML is text, never markup
    assert "<script>alert" not in page and "&lt;script&gt;alert" in page
    assert "<img src=x" not in page
    # long output lines wrap
    assert "white-space: pre-wrap" in page


def test_marked_written_answers_show_their_score():
    page = render(chapter(), unmarked=set())
    section = page.split('id="ex2_why"', 1)[1].split("</section>", 1)[0]
    assert "0 of 2 points" in section and "awaiting" not in section


def test_the_header_is_dropped_from_answers_even_with_extra_blank_lines():
    from traitlets.config import Config

    header = "Chapter 1 - A short history\n  device : cpu\n"
    imports = new_code_cell("runtime.header()")
    imports.id = "imports"
    imports.outputs = [new_output("stream", name="stdout", text=header)]
    quiet = graded(new_code_cell("def f(x):\n    return x"), "ex1", solution=True)
    quiet.outputs = [new_output("stream", name="stdout", text=header + "\n")]
    chatty = graded(new_code_cell("def g(x):\n    return x\nprint('mine')"), "ex2",
                    solution=True)
    chatty.outputs = [new_output("stream", name="stdout", text=header + "\nmine\n")]
    config = Config()
    config.CourseDirectory.root = "/nowhere"
    nb, _ = ReadableFeedback(config=config).preprocess(
        new_notebook(cells=[imports, quiet, chatty]), {})
    assert nb.cells[0].outputs[0].text == header
    assert nb.cells[1].outputs == []
    assert [o.text for o in nb.cells[2].outputs] == ["mine\n"]  # the student's own print stays


# -- end to end ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def feedback_file(tmp_path_factory) -> Path:
    """Chapter 1 graded for one student (every answer right but exercise 1, whose catalogued
    wrong answer fails its tests; the written answer unmarked), and the feedback page."""
    from .wrong_answers.ch01_history import WRONG_ANSWERS

    root = tmp_path_factory.mktemp("feedback_course")
    ch = "01_history"
    shutil.copy(ROOT / "nbgrader_config.py", root)
    shutil.copytree(ROOT / "solutions" / ch, root / "solutions" / ch)
    release(root, [ch], db_url=classroom.db_url(root))
    source = nbformat.read(root / "solutions" / ch / f"{ch}.ipynb", as_version=4)
    answers = exercises.solved_answers(source)
    answers["ex1_count_bigrams"] = next(iter(WRONG_ANSWERS["ex1_count_bigrams"].values()))
    folder = root / "submitted" / "ada" / ch
    folder.mkdir(parents=True)
    nbformat.write(exercises.with_answers(
        nbformat.read(root / "chapters" / ch / f"{ch}.ipynb", as_version=4), answers),
        folder / f"{ch}.ipynb")
    written = sum(c.metadata["nbgrader"]["points"] for c in source.cells
                  if c.cell_type == "markdown" and c.metadata.get("nbgrader", {}).get("grade"))
    (result,) = classroom.grade(root, ch)
    assert written >= 2 and result.status == "graded" and result.awaiting == written, \
        result.line()
    (page,) = classroom.feedback(root, ch)
    return page



def test_real_feedback_is_offline_named_and_honest(feedback_file):
    page = feedback_file.read_text()
    assert "<script" not in page.replace("&lt;script", "")
    assert "cdnjs" not in page and "MathJax.Hub" not in page
    assert page.count("<math") >= 20
    assert not re.search(r"\$[^$<>\n]{1,40}\$", page.split("</style>")[-1]), "TeX left"
    summary = page.split('<header class="feedback-summary"', 1)[1].split("</header>", 1)[0]
    for n, title in [(1, "count bigrams"), (5, "perplexity"), (7, "what does a generative")]:
        assert f"Exercise {n}: {title}" in summary
    assert "Test cell" not in page
    assert "awaiting grading (2 points)" in summary
    assert re.search(r"count bigrams</a></td>\s*<td class=\"score\">0 / 2", summary)
    written = page.split('id="ex7_generative_vs_discriminative"', 1)[1].split("</section>")[0]
    assert "awaiting grading" in written and "0 of 2" not in written
    assert "Hidden tests failed (0 of 1 point). First problem" in page
    header_line = "  device : cpu"
    answers = re.findall(r'<section class="graded[^"]*" id="ex\d_[a-z_]+">.*?</section>', page,
                         re.S)
    assert answers and not any(header_line in a for a in answers if "Your answer" in a)


def test_real_feedback_in_a_browser_renders_maths_and_wraps_verdicts(feedback_file, screenshots):
    """Chromium opens the page from disk with the network cut: every request is a file,
    formulas have a size, and no output runs wider than its box."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if sync_playwright is None or not CHROMIUM.is_file():
        if os.environ.get("CI"):
            raise RuntimeError("the feedback browser test needs Playwright and chromium")
        pytest.skip("needs Playwright for Python and Debian's chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])
        try:
            context = browser.new_context(viewport={"width": 1000, "height": 900},
                                          offline=True)
            page = context.new_page()
            requested: list[str] = []
            page.on("request", lambda r: requested.append(r.url))
            page.goto(feedback_file.as_uri())
            assert all(url.startswith(("file:", "data:")) for url in requested), requested
            sizes = page.eval_on_selector_all(
                "math", "ms => ms.map(m => [m.getBoundingClientRect().width, "
                "m.getBoundingClientRect().height])")
            assert len(sizes) >= 20 and all(w > 0 and h > 0 for w, h in sizes), sizes[:5]
            overflowing = page.eval_on_selector_all(
                "div.output_area pre", "ps => ps.filter(p => p.scrollWidth > p.clientWidth + 1)"
                ".map(p => p.innerText.slice(0, 80))")
            assert not overflowing, overflowing
            page.locator("#ex1_count_bigrams__hidden").scroll_into_view_if_needed()
            page.screenshot(path=str(screenshots / "feedback.png"))
            context.close()
        finally:
            browser.close()
