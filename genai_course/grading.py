"""Helpers for the graded exercises' test cells, and for testing those tests.

Test cells use the ``check_*`` helpers: they compare exact types first, so an object
whose ``__eq__`` always returns True, or a numpy scalar posing as a float, fails with a
message that says what was expected. ``package_disabled`` makes the package's own
implementation of an exercise raise while a hidden test runs, so calling it does not
earn the points.

Exercise cells follow one naming rule for nbgrader ``grade_id`` s: the answer cell of an
exercise is ``<exercise>`` and its test cells are ``<exercise>__<suffix>``;
:func:`exercises` groups a notebook's cells that way.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import FunctionType
from typing import Any

import torch


class PackageCallForbidden(RuntimeError):
    """Raised when an exercise calls the package's own implementation of itself."""


def check_type(value: Any, expected: type, name: str = "result") -> None:
    """Fail unless ``type(value) is expected`` (subclasses and look-alikes fail too)."""
    if type(value) is not expected:
        raise AssertionError(
            f"{name} should be of type {expected.__name__}, got {type(value).__name__}"
        )


def check_float(value: Any, expected: float, tol: float = 1e-9, name: str = "result") -> None:
    """``value`` is a Python float within ``tol`` (absolute) of ``expected``."""
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
    name: str = "result",
) -> None:
    """``value`` is a plain dict with exactly ``expected``'s keys; values are compared
    exactly (``tol=None``, with exact types) or as floats within ``tol``."""
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
    name: str = "result",
) -> None:
    """``value`` is a ``torch.Tensor`` with ``expected``'s shape and dtype, and
    ``|value - expected| <= atol + rtol * |expected|`` everywhere (infinities must match)."""
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
    grading sandbox is active (``genai_course.sandbox``), the functions are switched off in
    the student's process, where the student's code runs.
    """
    from . import sandbox

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


@dataclass
class Exercise:
    """An exercise's answer cell and its graded test cells (in notebook order)."""

    name: str
    answer: str = ""
    points: float = 0.0
    tests: dict[str, str] = field(default_factory=dict)  # grade_id -> source
    test_points: dict[str, float] = field(default_factory=dict)


def exercises(nb: Any) -> dict[str, Exercise]:
    """Group a notebook's autograded cells by exercise (see the module docstring)."""
    found: dict[str, Exercise] = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        grade_id = meta.get("grade_id")
        if grade_id is None or cell.cell_type != "code":
            continue
        name, _, suffix = grade_id.partition("__")
        ex = found.setdefault(name, Exercise(name))
        if meta.get("solution"):
            ex.answer = cell.source
        if meta.get("grade") and suffix:
            ex.tests[grade_id] = cell.source
            ex.test_points[grade_id] = float(meta.get("points", 0))
            ex.points += float(meta.get("points", 0))
    return {k: v for k, v in found.items() if v.tests}


def run_exercise(answer: str, tests: dict[str, str]) -> dict[str, str | None]:
    """Execute ``answer`` then each test cell in a fresh namespace; map each test's
    grade_id to ``None`` (passed) or the error it raised. For testing the tests."""
    results: dict[str, str | None] = {}
    namespace: dict[str, Any] = {"__name__": "__exercise__"}
    try:
        exec(compile(answer, "<answer>", "exec"), namespace)
    except Exception as exc:  # the answer itself is broken: every test fails
        return {gid: f"answer cell raised {type(exc).__name__}: {exc}" for gid in tests}
    for gid, source in tests.items():
        try:
            exec(compile(source, f"<{gid}>", "exec"), dict(namespace))
            results[gid] = None
        except Exception as exc:
            results[gid] = f"{type(exc).__name__}: {exc}"
    return results
