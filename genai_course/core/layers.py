"""Small network building blocks shared by the model modules."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn


def widths(hidden: int | Sequence[int]) -> tuple[int, ...]:
    """Hidden-layer widths from an int (one layer) or a sequence, validated."""
    try:
        out = (hidden,) if isinstance(hidden, int) else tuple(hidden)
    except TypeError:
        out = ()
    if not out or any(isinstance(w, bool) or not isinstance(w, int) or w < 1 for w in out):
        raise ValueError(f"hidden must be a positive int or a sequence of them, got {hidden!r}")
    return out


def mlp(sizes: Sequence[int], activation: type[nn.Module] = nn.ReLU) -> nn.Sequential:
    """``Linear -> activation -> ... -> Linear`` through ``sizes`` (no final activation)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)
