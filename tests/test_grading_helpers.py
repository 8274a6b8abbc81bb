import nbformat
import numpy as np
import pytest

from genai_course import grading, runtime
from genai_course.course import exercises


class AlwaysEqual(float):
    def __eq__(self, other):
        return True

    __hash__ = float.__hash__


def test_check_float_rejects_lookalikes_and_wrong_values():
    grading.check_float(0.5, 0.5)
    with pytest.raises(AssertionError, match="type float"):
        grading.check_float(np.float32(0.5), 0.5)
    with pytest.raises(AssertionError, match="type float"):
        grading.check_float(AlwaysEqual(3.0), 0.5)
    with pytest.raises(AssertionError, match="expected 0.5"):
        grading.check_float(0.6, 0.5, tol=0.05)
    grading.check_float(float("inf"), float("inf"))
    with pytest.raises(AssertionError):
        grading.check_float(1e300, float("inf"))


def test_check_dict_keys_types_and_values():
    grading.check_dict({"a": 1, "b": 2}, {"a": 1, "b": 2})
    with pytest.raises(AssertionError, match="missing keys"):
        grading.check_dict({"a": 1}, {"a": 1, "b": 2})
    with pytest.raises(AssertionError, match="type int"):
        grading.check_dict({"a": 1.0}, {"a": 1})
    with pytest.raises(AssertionError, match="type dict"):
        grading.check_dict([("a", 1)], {"a": 1})
    grading.check_dict({"a": 0.1 + 0.2}, {"a": 0.3}, tol=1e-12)


def test_package_disabled_blocks_every_reference_and_restores():
    alias = runtime.run_mode
    with grading.package_disabled(runtime.run_mode):
        with pytest.raises(grading.PackageCallForbidden, match="run_mode"):
            alias()
        with pytest.raises(grading.PackageCallForbidden):
            runtime.scale(1)  # scale calls run_mode internally
    assert alias() in runtime.MODES


def test_package_disabled_rejects_builtins():
    with pytest.raises(TypeError):
        with grading.package_disabled(len):
            pass


def _exercise_notebook():
    nb = nbformat.v4.new_notebook()
    answer = nbformat.v4.new_code_cell("def add(a, b):\n    return a + b\n")
    answer.metadata["nbgrader"] = {"grade_id": "ex_add", "solution": True, "grade": False}
    t1 = nbformat.v4.new_code_cell("assert add(1, 2) == 3")
    t1.metadata["nbgrader"] = {"grade_id": "ex_add__visible", "grade": True, "points": 1}
    t2 = nbformat.v4.new_code_cell("assert add(-1, 1) == 0")
    t2.metadata["nbgrader"] = {"grade_id": "ex_add__hidden", "grade": True, "points": 2}
    nb.cells = [nbformat.v4.new_markdown_cell("# x"), answer, t1, t2]
    return nb


def test_exercises_groups_cells_and_points():
    found = exercises.exercises(_exercise_notebook())
    assert list(found) == ["ex_add"]
    ex = found["ex_add"]
    assert ex.points == 3.0 and list(ex.tests) == ["ex_add__visible", "ex_add__hidden"]
    assert "return a + b" in ex.answer


def test_run_exercise_reports_each_test():
    ex = exercises.exercises(_exercise_notebook())["ex_add"]
    assert exercises.run_exercise(ex.answer, ex.tests) == {
        "ex_add__visible": None,
        "ex_add__hidden": None,
    }
    wrong = exercises.run_exercise("def add(a, b):\n    return a - b\n", ex.tests)
    assert all(v is not None for v in wrong.values())
    broken = exercises.run_exercise("def add(a, b) return", ex.tests)
    assert all("SyntaxError" in v for v in broken.values())


def test_check_tensor_compares_type_shape_dtype_and_values():
    import torch

    want = torch.tensor([1.0, float("inf")])
    grading.check_tensor(torch.tensor([1.0 + 1e-7, float("inf")]), want)
    with pytest.raises(AssertionError, match="type Tensor"):
        grading.check_tensor(np.array([1.0, np.inf], dtype=np.float32), want)
    with pytest.raises(AssertionError, match="shape"):
        grading.check_tensor(torch.tensor([[1.0, float("inf")]]), want)
    with pytest.raises(AssertionError, match="dtype"):
        grading.check_tensor(torch.tensor([1.0, float("inf")], dtype=torch.float64), want)
    with pytest.raises(AssertionError, match="1 of 2 positions"):
        grading.check_tensor(torch.tensor([1.1, float("inf")]), want)
    with pytest.raises(AssertionError, match="NaN"):
        grading.check_tensor(torch.tensor([float("nan"), float("inf")]), want)
    with pytest.raises(AssertionError):
        grading.check_tensor(torch.tensor([1.0, float("-inf")]), want)
    grading.check_tensor(torch.tensor([110.0]), torch.tensor([100.0]), atol=0, rtol=0.1)


def test_yours_or_reference_falls_back_only_for_the_unsolved_stub(capsys):
    def stub(x):
        raise NotImplementedError("Exercise not attempted yet")

    def solved(x):
        return x + 1

    def buggy(x):
        raise ValueError("my bug")

    def reference(x):
        return x + 100

    use = grading.yours_or_reference(stub, reference, "Exercise 9")
    assert use(1) == 101 and use(2) == 102 and use.is_reference()
    assert capsys.readouterr().out.count("Exercise 9 is not solved yet") == 1
    assert grading.yours_or_reference(solved, reference, "Exercise 9")(1) == 2
    with pytest.raises(ValueError, match="my bug"):
        grading.yours_or_reference(buggy, reference, "Exercise 9")(1)
    assert capsys.readouterr().out == ""


def test_the_fallback_notice_names_the_stub_that_is_unsolved(capsys):
    """A solved exercise that calls an unsolved earlier one falls back too, and the notice
    says which function is missing rather than calling the solved exercise unsolved."""
    def gaussian_kl(x):
        raise NotImplementedError

    def negative_elbo(x):
        return 2 * gaussian_kl(x)

    use = grading.yours_or_reference(negative_elbo, lambda x: -x, "Exercise 3")
    assert use(5) == -5 and use.is_reference()
    out = capsys.readouterr().out
    assert "Exercise 3 calls gaussian_kl, which is not solved yet" in out
    assert "Exercise 3 is not solved yet" not in out


def test_a_failed_check_names_the_call_it_checked(tmp_path):
    """The message says which call failed, as written in the test (here a file: notebook
    cells are in linecache the same way)."""
    import runpy

    script = tmp_path / "cell.py"
    script.write_text(
        "from genai_course.grading import check_dict\n"
        "def count(words):\n    return {'cat': 0.125}\n"
        "check_dict(count(['the', 'cat']),\n           {'cat': 0.5}, tol=1e-9)\n")
    with pytest.raises(AssertionError) as err:
        runpy.run_path(str(script))
    assert str(err.value) == ("count(['the', 'cat'])['cat'] = 0.125, expected 0.5 "
                              "(tolerance 1e-09)")


def test_run_exercise_grades_a_later_exercise_with_the_earlier_reference():
    """``reference_answers`` in a test cell: with the solutions given, the student's later
    function calls the reference of the earlier exercise (as grading does); without them,
    their own (as in their notebook)."""
    answer = ("def square(x):\n    return x + x  # wrong\n\n"
              "def area(side):\n    return square(side)\n")
    tests = {"ex2_area__hidden": (
        "from genai_course.grading import reference_answers\n"
        "with reference_answers(square=\"ex1_square\"):\n"
        "    assert area(3) == 9, area(3)\n"
        "assert square(3) == 6  # the student's own again after the block\n")}
    solutions = {"ex1_square": "def square(x):\n    return x * x\n"}
    assert exercises.run_exercise(answer, tests, solutions) == {"ex2_area__hidden": None}
    assert "AssertionError: 6" in exercises.run_exercise(answer, tests)["ex2_area__hidden"]
    missing = exercises.run_exercise(answer, tests, {})["ex2_area__hidden"]
    assert "no reference answer for ex1_square" in missing
