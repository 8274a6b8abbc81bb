"""Pictures and sounds of chapter 9's generated content: levels and melodies.

Used in: chapter 9.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap

from genai_course.applications.levels import GOAL, START, TILES, WALL, distances_from
from genai_course.applications.music import NOTE_NAMES, Note

_LEVEL_COLOURS = ListedColormap(["#3b3b3b", "#e8e2d0", "#2ca02c", "#d62728"])  # # . S G


def draw_level(level: Sequence[str], ax: Axes | None = None, title: str | None = None,
               show_path: bool = True) -> Axes:
    """The level as coloured tiles (wall dark, floor light, S green, G red), with a
    shortest path drawn when one exists; unknown tiles, and the missing end of a short row,
    are shown as walls (a generated level need not be a rectangle)."""
    ax = ax or plt.subplots(figsize=(3, 2))[1]
    width = max((len(row) for row in level), default=1)
    level = [row.ljust(width, WALL) for row in level] or [WALL]
    codes = np.array([[TILES.index(ch) if ch in TILES else 0 for ch in row] for row in level])
    ax.imshow(codes, cmap=_LEVEL_COLOURS, vmin=0, vmax=3)
    starts = [(r, c) for r, row in enumerate(level) for c, ch in enumerate(row) if ch == START]
    goals = [(r, c) for r, row in enumerate(level) for c, ch in enumerate(row) if ch == GOAL]
    if show_path and len(starts) == 1 and len(goals) == 1:
        dist = distances_from(level, goals[0])
        cell = starts[0]
        if cell in dist:  # walk downhill in the distance to the goal
            path = [cell]
            while dist[cell]:
                r, c = cell
                cell = next(n for n in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1))
                            if dist.get(n) == dist[cell] - 1)
                path.append(cell)
            ax.plot([c for _, c in path], [r for r, _ in path], color="#1f77b4", lw=2)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def level_text(level: Sequence[str]) -> str:
    """The level as text, one row per line (walls as full blocks)."""
    return "\n".join(row.replace(WALL, "\u2588") for row in level)


def piano_roll(melody: Sequence[Note], ax: Axes | None = None, title: str | None = None
               ) -> Axes:
    """Notes as horizontal bars: time in quarter notes across, pitch up."""
    ax = ax or plt.subplots(figsize=(6, 2))[1]
    t = 0
    pitches = [p for p, _ in melody if p is not None]
    for pitch, duration in melody:
        if pitch is not None:
            ax.broken_barh([(t / 4, duration / 4)], (pitch - 0.4, 0.8), color="#1f77b4")
        t += duration
    if pitches:
        ticks = range(min(pitches), max(pitches) + 1)
        ax.set_yticks(list(ticks), [NOTE_NAMES[p % 12] + str(p // 12 - 1) for p in ticks],
                      fontsize=6)
    for bar in range(0, t // 16 + 1):
        ax.axvline(bar * 4, color="grey", lw=0.5)
    ax.set_xlabel("time (quarter notes)")
    if title:
        ax.set_title(title, fontsize=9)
    return ax
