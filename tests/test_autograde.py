"""The nbgrader plug-ins: rebuilding a submission from the release, the names an answer may
export, and hidden tests summarised in feedback."""

from __future__ import annotations

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from genai_course.course.nbgrader_plugins import (
    ReadableFeedback,
    SummarizeHiddenTests,
    exported_names,
    rebuild,
)


def graded(cell, grade_id, solution=False, grade=False, points=0):
    cell.metadata["nbgrader"] = {"grade_id": grade_id, "solution": solution, "grade": grade,
                                 "locked": not solution, "points": points,
                                 "schema_version": 3}
    return cell


def release():
    imports = new_code_cell("import math")
    imports.id = "imports"
    return new_notebook(cells=[
        new_markdown_cell("# Chapter"),
        imports,
        new_code_cell("print('a demo the grader skips')"),
        graded(new_code_cell("def f(x):\n    raise NotImplementedError"), "ex1", solution=True),
        graded(new_code_cell("assert f(1) == 2"), "ex1__visible", grade=True, points=1),
        graded(new_markdown_cell("YOUR ANSWER HERE"), "ex2", solution=True, grade=True, points=2),
    ])


def test_rebuild_takes_only_the_answers_from_a_submission():
    sub = release()
    sub.cells[1].source = "import math; math.pi = 3"       # edited imports cell: ignored
    sub.cells[3].source = "def f(x):\n    return 2 * x"     # the answer: taken
    sub.cells[4].source = "pass"                             # weakened test: ignored
    sub.cells.insert(0, new_code_cell("import os"))          # extra cell: ignored
    sub.cells.append(graded(new_code_cell("def f(x):\n    return 0"), "ex1", solution=True))
    out, notes = rebuild(release(), sub)
    sources = [c.source for c in out.cells]
    assert sources == ["# Chapter", "import math", "def f(x):\n    return 2 * x",
                       "assert f(1) == 2", "YOUR ANSWER HERE"]
    assert notes == ["answer cell ex1 appears more than once; the first copy was graded"]


def test_rebuild_says_when_answers_are_missing_or_from_elsewhere():
    sub = release()
    del sub.cells[3]
    assert rebuild(release(), sub)[1] == ["answer cells missing (graded as unanswered): ex1"]
    other = new_notebook(cells=[graded(new_code_cell("x = 1"), "other_ex", solution=True)])
    _, notes = rebuild(release(), other)
    assert notes == ["no answer cells of this chapter found (another chapter's notebook?)"]
    assert rebuild(release(), {"not": "a notebook"})[1][0].startswith("no answer cells")


def test_exported_names_are_the_stubs_top_level_definitions():
    stub = "import math\nA = 1\nB: int = 2\ndef f():\n    inner = 3\nclass C:\n    pass\n"
    assert exported_names(stub) == ["A", "B", "f", "C"]


def test_feedback_keeps_the_visible_part_and_one_verdict_line():
    secret = "assert f(12345) == 24690  # the hidden case"
    failed = graded(new_code_cell(f"f(1)\n### BEGIN HIDDEN TESTS\n{secret}\n"), "ex1__hidden",
                    grade=True, points=2)
    failed.outputs = [nbformat.v4.new_output("error", ename="AssertionError",
                                             evalue=secret, traceback=[secret])]
    passed = graded(new_code_cell(f"f(1)\n### BEGIN HIDDEN TESTS\n{secret}\n"), "ex2__hidden",
                    grade=True, points=1)
    passed.outputs = [nbformat.v4.new_output("stream", name="stdout", text=secret)]
    nb = new_notebook(cells=[failed, passed])
    nb, _ = SummarizeHiddenTests().preprocess(nb, {})
    text = nbformat.writes(nb)
    assert "12345" not in text
    assert nb.cells[0].source.startswith("f(1)")
    assert nb.cells[0].outputs[0].text.startswith("Hidden tests failed (0 of 2 points). "
                                                  "First problem: AssertionError\n")
    assert nb.cells[1].outputs[0].text == "Hidden tests passed (1 of 1 point).\n"


def test_feedback_hides_an_error_that_quotes_the_hidden_call():
    hidden = 'check_dict(f(_corpus_of_three), {"a": 0.5}, tol=1e-12)'
    cell = graded(new_code_cell(f"_ = f(1)\n### BEGIN HIDDEN TESTS\n{hidden}\n"), "ex1__hidden",
                  grade=True, points=1)
    cell.outputs = [nbformat.v4.new_output(
        "error", ename="AssertionError", traceback=[],
        evalue="f(_corpus_of_three)['a'] = 0.25, expected 0.5 (tolerance 1e-12)")]
    visible = graded(new_code_cell(f"_ = f(2)\n### BEGIN HIDDEN TESTS\n{hidden}\n"), "ex2__hidden",
                     grade=True, points=1)
    visible.outputs = [nbformat.v4.new_output(
        "error", ename="TypeError", traceback=[], evalue="f() takes 0 arguments")]
    nb, _ = SummarizeHiddenTests().preprocess(new_notebook(cells=[cell, visible]), {})
    assert "First problem: AssertionError\n" in nb.cells[0].outputs[0].text
    assert "_corpus_of_three" not in nbformat.writes(nb)
    assert "First problem: TypeError: f() takes 0 arguments" in nb.cells[1].outputs[0].text


def test_feedback_tracebacks_show_the_notebook_not_the_machinery(tmp_path):
    from traitlets.config import Config

    red = "\x1b[0;31m"
    imports = new_code_cell("from genai_course import runtime")
    imports.id = "imports"
    header = "Chapter 1 - A short history\n  device : cpu\n"
    imports.outputs = [nbformat.v4.new_output("stream", name="stdout", text=header)]
    answer = graded(new_code_cell("def f(x):\n    return x"), "ex1", solution=True)
    answer.outputs = [nbformat.v4.new_output("stream", name="stdout", text=header)]
    test = graded(new_code_cell("check_float(f(1), 2.0)"), "ex1__visible", grade=True, points=1)
    root = str(tmp_path / "instructor" / "course")
    test.outputs = [nbformat.v4.new_output("error", ename="AssertionError",
                                           evalue="f(1) = 1.0, expected 2.0", traceback=[
        f"{red}---------\nAssertionError    Traceback (most recent call last)",
        f"{red}Cell In[4], line 1\n----> 1 check_float(f(1), 2.0)",
        f"File {root}/genai_course/course/sandbox/process.py:88, in Proxy.__call__()\n",
        "File /usr/lib/python3/site-packages/genai_course/grading.py:58, in check_float()\n",
        f"AssertionError: f(1) = 1.0, expected 2.0 ({root}/notes)"])]
    config = Config()
    config.CourseDirectory.root = root
    nb, _ = ReadableFeedback(config=config).preprocess(
        new_notebook(cells=[imports, answer, test]), {})
    assert nb.cells[0].outputs[0].text == header  # the header stays where it belongs
    assert nb.cells[1].outputs == []
    shown = "\n".join(nb.cells[2].outputs[0].traceback)
    assert "Cell In[4], line 1" in shown and "check_float(f(1), 2.0)" in shown
    assert "sandbox" not in shown and "site-packages" not in shown and root not in shown
    assert shown.endswith("AssertionError: f(1) = 1.0, expected 2.0 (notes)")
