"""Input checks shared by the model modules, with messages that name the problem."""

from __future__ import annotations

import torch


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
