"""Exponential growth: fit a doubling time to (year, size) data.

Model: ``log2(value) = intercept + slope * year``, fitted by ordinary least squares, so
the value doubles every ``1 / slope`` years.

On seed 004's LLM table alone (the 14 rows with a size, 2020-2023) the fit gives a
doubling time of 12.9 years with r2 = 0.0006: within those four years sizes scatter over
two orders of magnitude (GPT-3 already had 175B in 2020) and there is no trend to speak
of. Adding the 2018-2019 models seed 004 names (``EARLY_LLM_SIZES``: GPT, BERT-Large,
GPT-2, T5; 18 points) gives a doubling time of 0.59 years (7.0 months) with r2 = 0.51.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike


@dataclass(frozen=True)
class DoublingFit:
    """Least-squares fit of ``log2(value) = intercept + slope * year``.

    ``slope`` is in doublings per year, ``doubling_time = 1 / slope`` in years
    (``inf`` when ``slope <= 0``: the data do not grow), and ``r2`` is the coefficient
    of determination on the log2 scale (1.0 when all log-values are equal).
    """

    doubling_time: float
    slope: float
    intercept: float
    r2: float
    n: int

    def predict(self, year: ArrayLike) -> np.ndarray | float:
        """Fitted value ``2 ** (intercept + slope * year)`` (a float for a scalar year)."""
        out = np.exp2(self.intercept + self.slope * np.asarray(year, dtype=np.float64))
        return float(out) if out.ndim == 0 else out


def _as_vector(data: Sequence[float], name: str) -> np.ndarray:
    if any(v is None for v in data):
        raise ValueError(f"{name} contain None; drop rows whose size is unknown first")
    array = np.asarray(data, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite")
    return array


def fit_doubling_time(years: Sequence[float], values: Sequence[float]) -> DoublingFit:
    """Fit exponential growth ``value ~ 2 ** (intercept + slope * year)``.

    Ordinary least squares of ``log2(value)`` on ``year``: with centred ``x = year - mean``
    and ``z = log2(value)``, ``slope = sum(x * (z - mean z)) / sum(x ** 2)``.

    Raises ValueError for mismatched lengths, fewer than 2 points, None, non-finite or
    non-positive values, or when all years are equal (the slope is undefined).
    """
    x = _as_vector(years, "years")
    v = _as_vector(values, "values")
    if x.shape != v.shape:
        raise ValueError(f"got {x.size} years but {v.size} values")
    if x.size < 2:
        raise ValueError(f"need at least 2 points, got {x.size}")
    if np.any(v <= 0):
        raise ValueError("values must be positive to take log2")
    dx = x - x.mean()
    sxx = float(dx @ dx)
    if sxx == 0.0:
        raise ValueError("all years are equal: the growth rate is undefined")
    z = np.log2(v)
    slope = float(dx @ (z - z.mean())) / sxx
    intercept = float(z.mean() - slope * x.mean())
    ss_res = float(np.sum((z - intercept - slope * x) ** 2))
    ss_tot = float(np.sum((z - z.mean()) ** 2))
    r2 = 1.0 if ss_tot == 0.0 else 1.0 - ss_res / ss_tot
    doubling = 1.0 / slope if slope > 0 else math.inf
    return DoublingFit(doubling, slope, intercept, r2, int(x.size))


def doubling_time(years: Sequence[float], values: Sequence[float]) -> float:
    """The doubling time alone, in years: ``fit_doubling_time(years, values).doubling_time``
    (the reference for chapter 1's exercise 6)."""
    return fit_doubling_time(years, values).doubling_time
