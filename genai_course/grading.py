"""Helpers for the graded exercises' test cells.

Test cells use the ``check_*`` helpers: they compare exact types first, so an object
whose ``__eq__`` always returns True, or a numpy scalar posing as a float, fails with a
message that says what was expected. ``package_disabled`` makes the package's own
implementation of an exercise raise while a hidden test runs, so calling it does not
earn the points; :func:`reference_answers` grades an exercise that builds on earlier ones
with the reference answers of those. :func:`yours_or_reference` lets the cells after an
exercise use the student's function, and the package's while the exercise is still unsolved.

Used in: every chapter's graded test cells.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import linecache
import math
import sys
from collections.abc import Callable, Iterator
from types import FunctionType
from typing import Any

import torch


class PackageCallForbidden(RuntimeError):
    """Raised when an exercise calls the package's own implementation of itself."""


DEFAULT_NAME = "result"


def _named(name: str) -> str:
    """``name``, or for the default one the source of the checked value as written in the
    test cell that called the ``check_*`` helper (``count_bigrams(toy_corpus)``), so a
    failure names the call that failed."""
    if name != DEFAULT_NAME:
        return name
    frame = sys._getframe(2)  # the test cell's frame (the helper's caller)
    lines = linecache.getlines(frame.f_code.co_filename)
    if not lines:
        return name
    try:
        tree = ast.parse("".join(lines))
    except SyntaxError:
        return name
    line = frame.f_lineno
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and node.args and isinstance(node.func, ast.Name)
                and node.func.id.startswith("check_")
                and node.lineno <= line <= (node.end_lineno or node.lineno)):
            text = ast.get_source_segment("".join(lines), node.args[0])
            if text and len(text) <= 80:
                return " ".join(text.split())
    return name


def check_type(value: Any, expected: type, name: str = DEFAULT_NAME) -> None:
    """Fail unless ``type(value) is expected`` (subclasses and look-alikes fail too)."""
    __tracebackhide__ = True  # tracebacks end in the test cell (pytest, IPython)
    name = _named(name)
    if type(value) is not expected:
        raise AssertionError(
            f"{name} should be of type {expected.__name__}, got {type(value).__name__}"
        )


def check_float(value: Any, expected: float, tol: float = 1e-9,
                name: str = DEFAULT_NAME) -> None:
    """``value`` is a Python float within ``tol`` (absolute) of ``expected``."""
    __tracebackhide__ = True
    name = _named(name)
    check_type(value, float, name)
    if math.isinf(expected) or math.isnan(expected):
        ok = value == expected or (math.isnan(expected) and math.isnan(value))
    else:
        ok = abs(value - expected) <= tol
    if not ok:
        raise AssertionError(f"{name} = {value!r}, expected {expected!r} (tolerance {tol})")


def check_dict(
    value: Any,
    expected: dict,
    tol: float | None = None,
    name: str = DEFAULT_NAME,
) -> None:
    """``value`` is a plain dict with exactly ``expected``'s keys; values are compared
    exactly (``tol=None``, with exact types) or as floats within ``tol``."""
    __tracebackhide__ = True
    name = _named(name)
    check_type(value, dict, name)
    missing = [k for k in expected if k not in value]
    extra = [k for k in value if k not in expected]
    if missing or extra:
        raise AssertionError(f"{name}: missing keys {missing[:5]}, unexpected keys {extra[:5]}")
    for key, want in expected.items():
        got = value[key]
        if tol is None:
            check_type(got, type(want), f"{name}[{key!r}]")
            if got != want:
                raise AssertionError(f"{name}[{key!r}] = {got!r}, expected {want!r}")
        else:
            check_float(got, want, tol, f"{name}[{key!r}]")


def check_tensor(
    value: Any,
    expected: torch.Tensor,
    atol: float = 1e-6,
    rtol: float = 0.0,
    name: str = DEFAULT_NAME,
) -> None:
    """``value`` is a ``torch.Tensor`` with ``expected``'s shape and dtype, and
    ``|value - expected| <= atol + rtol * |expected|`` everywhere (infinities must match)."""
    __tracebackhide__ = True
    name = _named(name)
    check_type(value, torch.Tensor, name)
    if value.shape != expected.shape:
        raise AssertionError(
            f"{name} should have shape {tuple(expected.shape)}, got {tuple(value.shape)}"
        )
    if value.dtype != expected.dtype:
        raise AssertionError(f"{name} should have dtype {expected.dtype}, got {value.dtype}")
    got = value.detach().cpu().to(torch.float64)
    want = expected.detach().cpu().to(torch.float64)
    if torch.isnan(got).any() and not torch.isnan(want).any():
        raise AssertionError(f"{name} contains NaN")
    same_inf = torch.isinf(want) & (got == want)
    close = (got - want).abs() <= atol + rtol * want.abs()
    bad = ~(close | same_inf)
    if bad.any():
        worst = (got - want).abs().nan_to_num(float("inf"))[bad].max().item()
        raise AssertionError(
            f"{name} differs from the expected values at {int(bad.sum())} of {want.numel()} "
            f"positions (largest difference {worst:.3g}, tolerance {atol:g})"
        )


def _forbidden_code(qualname: str) -> Any:
    """Code of a closure-free function that raises :class:`PackageCallForbidden`."""
    message = (
        "This exercise asks you to write the computation yourself; calling the "
        f"package's {qualname} is switched off while it is graded."
    )
    source = (
        "def forbidden(*args, **kwargs):\n"
        f"    raise __import__({__name__!r}, fromlist=['_']).PackageCallForbidden({message!r})\n"
    )
    namespace: dict[str, Any] = {}
    exec(source, namespace)
    return namespace["forbidden"].__code__


@contextlib.contextmanager
def package_disabled(*functions: Callable[..., Any]) -> Iterator[None]:
    """Make ``functions`` (pure-Python functions or methods) raise
    :class:`PackageCallForbidden` inside the block.

    The function's code object is swapped, so every reference to it is disabled, also
    one a student bound earlier under another name (``from m import f as g``). While the
    grading sandbox is active (``genai_course.course.sandbox``), the student's code runs in a
    fresh process in which the functions were switched off before any of it ran (and their
    source hidden), so not even a copy of the function object made earlier survives.
    """
    from genai_course.course import sandbox

    if sandbox.ACTIVE is not None:
        sandbox.ACTIVE.disable(functions)
        try:
            yield
        finally:
            sandbox.ACTIVE.enable()
        return
    saved: list[tuple[FunctionType, Any]] = []
    try:
        for fn in functions:
            target = getattr(fn, "__func__", fn)
            if not isinstance(target, FunctionType) or target.__closure__:
                raise TypeError(f"can only disable plain Python functions, got {fn!r}")
            saved.append((target, target.__code__))
            target.__code__ = _forbidden_code(target.__qualname__)
        yield
    finally:
        for target, code in reversed(saved):
            target.__code__ = code


@contextlib.contextmanager
def reference_answers(**earlier: str) -> Iterator[None]:
    """Grade an exercise that builds on earlier ones with the reference answers of those,
    so one mistake costs points once: inside the block, each ``name`` the student's code
    calls means the instructor's solution of the exercise whose grade_id is given, e.g.
    ``with reference_answers(gaussian_kl="ex2_gaussian_kl"):``.

    This happens while a notebook is graded (in the grading sandbox, which has the
    solutions); in a student's own notebook the block changes nothing, so their own earlier
    functions are used.
    """
    from genai_course.course import sandbox

    if sandbox.ACTIVE is not None:
        sandbox.ACTIVE.bind_references(earlier)
        try:
            yield
        finally:
            sandbox.ACTIVE.unbind_references()
        return
    if _in_process is None:
        yield
        return
    namespace, solutions = _in_process
    unknown = [gid for gid in earlier.values() if gid not in solutions]
    if unknown:
        raise KeyError(f"no reference answer for {', '.join(unknown)}")
    saved = {name: namespace[name] for name in earlier if name in namespace}
    for name, grade_id in earlier.items():
        scratch = dict(namespace)  # the imports and answers; the reference lands here
        exec(compile(solutions[grade_id], f"<reference {grade_id}>", "exec"), scratch)
        namespace[name] = scratch[name]
    try:
        yield
    finally:
        for name in earlier:
            namespace.pop(name, None)
        namespace.update(saved)


# (answers' namespace, solutions by grade_id) while course.exercises.run_exercise tests the
# tests in-process: reference_answers binds the solutions there, as grading does in the sandbox
_in_process: tuple[dict[str, Any], dict[str, str]] | None = None


@contextlib.contextmanager
def references_in_process(namespace: dict[str, Any], solutions: dict[str, str]
                          ) -> Iterator[None]:
    """Inside the block, :func:`reference_answers` binds ``solutions`` (source by grade_id)
    in ``namespace``, the globals of the student's functions: how the test suite runs test
    cells in-process without the grading sandbox (``course.exercises.run_exercise``)."""
    global _in_process
    saved, _in_process = _in_process, (namespace, solutions)
    try:
        yield
    finally:
        _in_process = saved


def yours_or_reference(yours: Callable[..., Any], reference: Callable[..., Any],
                       exercise: str) -> Callable[..., Any]:
    """The function the notebook goes on with after an exercise: the student's ``yours``,
    or ``reference`` (the package's version) while ``yours`` or a function it calls is still
    an unsolved stub (it raises ``NotImplementedError``), with a notice printed once that
    names the stub, so Run All reaches the end of an untouched notebook. Any other error of
    ``yours`` is the student's to see."""
    noticed = False

    @functools.wraps(yours)
    def call(*args: Any, **kwargs: Any) -> Any:
        nonlocal noticed
        try:
            return yours(*args, **kwargs)
        except NotImplementedError as err:
            if not noticed:
                stub = _raised_in(err)
                what = (f"{exercise} is not solved yet" if stub == getattr(yours, "__name__", stub)
                        else f"{exercise} calls {stub}, which is not solved yet")
                print(f"[{what}: the cells below use the package's reference "
                      f"{getattr(reference, '__qualname__', reference)!s} instead; "
                      "solve it and re-run them to use yours]")
                noticed = True
            return reference(*args, **kwargs)

    call.is_reference = lambda: noticed  # type: ignore[attr-defined]
    return call


def _raised_in(err: BaseException) -> str:
    """The name of the function whose own code raised ``err`` (the innermost frame)."""
    tb = err.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_frame.f_code.co_name if tb is not None else "?"
