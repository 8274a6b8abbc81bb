"""Input checks shared by every model and data module, with messages that name the problem.

A wrong type raises ``TypeError`` and a value out of range ``ValueError``; each message says
which argument, what was expected and what arrived.

Used in: every chapter (through the modules that validate their inputs).
"""

from __future__ import annotations

import math
import numbers

import torch


def check_int(value: object, name: str, minimum: int = 0) -> int:
    """``value`` as a Python int; ``TypeError`` unless it is an integer (bools are refused),
    ``ValueError`` if it is below ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def check_number(value: object, name: str, positive: bool = False) -> float:
    """``value`` as a finite Python float that is ``>= 0`` (``> 0`` with ``positive``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise ValueError(f"{name} must be {'> 0' if positive else '>= 0'} and finite, got {value}")
    return value


def check_points(x: torch.Tensor, dim: int | None = None, name: str = "x") -> torch.Tensor:
    """``x`` must be a floating-point tensor of shape (n, dim) (any d when ``dim`` is None)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim != 2 or (dim is not None and x.shape[1] != dim):
        want = f"(n, {dim})" if dim is not None else "(n, d)"
        raise ValueError(f"{name} must have shape {want}, got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {x.dtype}")
    return x


def check_same_shape(a: torch.Tensor, b: torch.Tensor, name_a: str, name_b: str) -> None:
    """Both are tensors and ``a`` has the shape of ``b``."""
    if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor):
        raise TypeError(f"{name_a} and {name_b} must be tensors")
    if a.shape != b.shape:
        raise ValueError(f"{name_a} must have the shape of {name_b} {tuple(b.shape)}, "
                         f"got {tuple(a.shape)}")
