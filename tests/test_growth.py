"""fit_doubling_time against exact exponentials, numpy.polyfit and the seed table."""

from __future__ import annotations

import math

import numpy as np
import pytest

from genai_course.classic.growth import DoublingFit, fit_doubling_time
from genai_course.data.history import EARLY_LLM_SIZES, LLM_SIZES


def test_exact_exponential() -> None:
    years = np.arange(2010, 2021, dtype=float)
    values = 2.0 ** ((years - 2000) / 1.5)  # doubles every 1.5 years exactly
    fit = fit_doubling_time(years, values)
    assert fit.doubling_time == pytest.approx(1.5, rel=1e-10)
    assert fit.slope == pytest.approx(1 / 1.5, rel=1e-10)
    assert fit.intercept == pytest.approx(-2000 / 1.5, rel=1e-10)
    assert fit.r2 == pytest.approx(1.0, abs=1e-12)
    assert fit.n == 11
    assert fit.predict(2016.0) == pytest.approx(2.0 ** (16 / 1.5), rel=1e-9)
    assert isinstance(fit.predict(2016.0), float)
    np.testing.assert_allclose(fit.predict(years), values, rtol=1e-9)


@pytest.mark.parametrize("seed", range(5))
def test_matches_polyfit(seed: int) -> None:
    rng = np.random.default_rng(seed)
    years = rng.uniform(2000, 2025, size=rng.integers(3, 40))
    values = 10 ** rng.uniform(6, 12, size=years.size)
    fit = fit_doubling_time(list(years), list(values))
    slope, intercept = np.polyfit(years, np.log2(values), 1)
    assert fit.slope == pytest.approx(slope, rel=1e-8, abs=1e-12)
    assert fit.intercept == pytest.approx(intercept, rel=1e-8, abs=1e-6)
    # For simple regression r2 is the squared Pearson correlation.
    assert fit.r2 == pytest.approx(np.corrcoef(years, np.log2(values))[0, 1] ** 2, abs=1e-10)
    if slope > 0:
        assert fit.doubling_time == pytest.approx(1 / slope, rel=1e-8)
    else:
        assert fit.doubling_time == math.inf


def test_shrinking_data_never_doubles() -> None:
    fit = fit_doubling_time([2000, 2001, 2002], [8.0, 4.0, 2.0])
    assert fit.slope == pytest.approx(-1.0)
    assert fit.doubling_time == math.inf
    flat = fit_doubling_time([2000, 2001], [3.0, 3.0])
    assert flat.doubling_time == math.inf and flat.r2 == 1.0


@pytest.mark.parametrize(("years", "values", "match"), [
    ([2020], [1.0], "at least 2"),
    ([], [], "at least 2"),
    ([2020, 2021], [1.0], "2 years but 1 values"),
    ([2020, 2021], [1.0, 0.0], "positive"),
    ([2020, 2021], [1.0, -5.0], "positive"),
    ([2020, 2020, 2020], [1.0, 2.0, 3.0], "years are equal"),
    ([2020, 2021], [1.0, None], "None"),
    ([2020, 2021], [1.0, float("nan")], "finite"),
    ([2020, float("inf")], [1.0, 2.0], "finite"),
    ([[2020, 2021]], [[1.0, 2.0]], "one-dimensional"),
])
def test_rejects_bad_input(years: list, values: list, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        fit_doubling_time(years, values)


def test_fit_is_frozen() -> None:
    fit = fit_doubling_time([1, 2], [1, 2])
    assert isinstance(fit, DoublingFit)
    with pytest.raises(AttributeError):
        fit.slope = 3.0  # type: ignore[misc]


def test_seed_table_numbers_quoted_in_the_docstring() -> None:
    rows = [r for r in LLM_SIZES if r.parameters is not None]
    seed_only = fit_doubling_time([r.year for r in rows], [r.parameters for r in rows])
    assert seed_only.n == 14
    assert seed_only.doubling_time == pytest.approx(12.85, abs=0.01)
    assert seed_only.r2 < 0.01
    rows += list(EARLY_LLM_SIZES)
    with_early = fit_doubling_time([r.year for r in rows], [r.parameters for r in rows])
    assert with_early.n == 18
    assert with_early.doubling_time == pytest.approx(0.587, abs=0.001)
    assert with_early.r2 == pytest.approx(0.515, abs=0.001)
