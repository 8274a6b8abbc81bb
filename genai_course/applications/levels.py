"""Procedural game levels: a rule-based generator, a learned one, and a playability check.

A level is a top-down dungeon: a list of equal-length strings over the tiles ``#`` (wall),
``.`` (floor), ``S`` (the start) and ``G`` (the goal), with walls all around. It is
**playable** when the player can walk from ``S`` to ``G`` in steps up, down, left or right
on non-wall tiles (:func:`shortest_path`, breadth-first search: the first time the search
reaches a tile is along a shortest path).

* :func:`rule_based_levels` -- the "drunkard's walk" cave generator of roguelike games: a
  random walk carves floor out of solid rock; the start is where it began, the goal the
  floor tile farthest from it. Every level it makes is playable by construction.
* :func:`random_levels` -- the baseline: every inner tile is floor independently, with the
  training levels' floor rate, and ``S`` and ``G`` on two random floor tiles.
* a GPT trained on rule-based levels (:mod:`~genai_course.applications.sequences`), row by
  row, as MarioGPT (Sudhakaran et al. 2023) writes Super Mario levels column by column.
* :func:`level_report` -- valid and playable rates, novelty (not a copy of a training level;
  the Hamming distance to the nearest one) and diversity (mean pairwise distance).

Used in: chapter 9.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Sequence

import numpy as np

from genai_course.applications.sequences import Vocabulary
from genai_course.core.checks import check_int, check_number

WALL, FLOOR, START, GOAL = "#", ".", "S", "G"
TILES = (WALL, FLOOR, START, GOAL)
HEIGHT, WIDTH = 8, 14
NEWLINE = "/"  # the row separator in a level's token sequence

Level = list[str]


def _find(level: Sequence[str], tile: str) -> list[tuple[int, int]]:
    return [(r, c) for r, row in enumerate(level) for c, ch in enumerate(row) if ch == tile]


def shortest_path(level: Sequence[str]) -> int:
    """The number of moves (up, down, left, right, never through ``#`` or off the grid) on
    a shortest walk from ``S`` to ``G``; ``-1`` when ``G`` cannot be reached. Raises
    ``ValueError`` unless the rows have one length and there is exactly one ``S`` and one
    ``G``."""
    if isinstance(level, str) or not level or len({len(row) for row in level}) != 1:
        raise ValueError("level must be a non-empty list of strings of one length")
    starts, goals = _find(level, START), _find(level, GOAL)
    if len(starts) != 1 or len(goals) != 1:
        raise ValueError(f"need exactly one S and one G, found {len(starts)} and {len(goals)}")
    return distances_from(level, starts[0]).get(goals[0], -1)


def distances_from(level: Sequence[str], source: tuple[int, int]) -> dict[tuple[int, int], int]:
    """Breadth-first distances from ``source`` to every reachable non-wall tile."""
    dist = {source: 0}
    queue = deque([source])
    while queue:
        r, c = queue.popleft()
        for nr, nc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
            if (0 <= nr < len(level) and 0 <= nc < len(level[0])
                    and level[nr][nc] != WALL and (nr, nc) not in dist):
                dist[nr, nc] = dist[r, c] + 1
                queue.append((nr, nc))
    return dist


def carve_level(rng: random.Random, height: int = HEIGHT, width: int = WIDTH,
                floor_share: float = 0.45) -> Level:
    """One drunkard's-walk cave: walk randomly inside the border, turning rock to floor,
    until ``floor_share`` of the inner tiles are floor; ``S`` where the walk began, ``G`` on
    the floor tile farthest (by walking) from it."""
    grid = [[WALL] * width for _ in range(height)]
    r, c = rng.randrange(1, height - 1), rng.randrange(1, width - 1)
    start = (r, c)
    grid[r][c] = FLOOR
    carved, target = 1, round(floor_share * (height - 2) * (width - 2))
    while carved < target:
        dr, dc = rng.choice(((-1, 0), (1, 0), (0, -1), (0, 1)))
        r, c = min(max(r + dr, 1), height - 2), min(max(c + dc, 1), width - 2)
        if grid[r][c] == WALL:
            grid[r][c] = FLOOR
            carved += 1
    rows = ["".join(row) for row in grid]
    dist = distances_from(rows, start)
    goal = max(sorted(dist), key=lambda cell: dist[cell])
    grid[start[0]][start[1]] = START
    grid[goal[0]][goal[1]] = GOAL
    return ["".join(row) for row in grid]


def rule_based_levels(n: int, seed: int = 0, height: int = HEIGHT, width: int = WIDTH,
                      floor_share: float = 0.45) -> list[Level]:
    """``n`` levels from :func:`carve_level` (reproducible from ``seed``)."""
    rng = random.Random(seed)
    return [carve_level(rng, height, width, floor_share) for _ in range(check_int(n, "n"))]


def random_levels(n: int, seed: int = 0, height: int = HEIGHT, width: int = WIDTH,
                  floor_rate: float = 0.45) -> list[Level]:
    """The random baseline: walls all around, each inner tile floor with probability
    ``floor_rate``, then ``S`` and ``G`` on two distinct random floor tiles."""
    check_number(floor_rate, "floor_rate")
    rng = random.Random(seed)
    out = []
    for _ in range(check_int(n, "n")):
        grid = [[WALL] * width for _ in range(height)]
        inner = [(r, c) for r in range(1, height - 1) for c in range(1, width - 1)]
        floor = [cell for cell in inner if rng.random() < floor_rate]
        while len(floor) < 2:
            floor.append(rng.choice([cell for cell in inner if cell not in floor]))
        for r, c in floor:
            grid[r][c] = FLOOR
        (sr, sc), (gr, gc) = rng.sample(floor, 2)
        grid[sr][sc], grid[gr][gc] = START, GOAL
        out.append(["".join(row) for row in grid])
    return out


def is_valid(level: Sequence[str], height: int = HEIGHT, width: int = WIDTH) -> bool:
    """The right shape, only the four tiles, walls all around, one ``S`` and one ``G``."""
    if len(level) != height or any(len(row) != width for row in level):
        return False
    if any(ch not in TILES for row in level for ch in row):
        return False
    border = level[0] + level[-1] + "".join(row[0] + row[-1] for row in level)
    return (set(border) == {WALL} and len(_find(level, START)) == 1
            and len(_find(level, GOAL)) == 1)


def is_playable(level: Sequence[str], height: int = HEIGHT, width: int = WIDTH) -> bool:
    """Valid, and ``G`` can be reached from ``S``."""
    return is_valid(level, height, width) and shortest_path(level) >= 0


# ------------------------------------------------------------------ as token sequences

LEVEL_VOCAB = Vocabulary([*TILES, NEWLINE])


def level_to_symbols(level: Sequence[str]) -> list[str]:
    """The tiles row by row, with ``/`` after each row."""
    return [ch for row in level for ch in row + NEWLINE]


def symbols_to_level(symbols: Sequence[str]) -> Level:
    """The inverse of :func:`level_to_symbols` (whatever rows the symbols make)."""
    return [row for row in "".join(s if len(s) == 1 else "?" for s in symbols).split(NEWLINE)
            if row]


# ------------------------------------------------------------------ measurements


def _as_array(levels: Sequence[Sequence[str]], height: int, width: int) -> np.ndarray:
    """Levels of the given shape as an (n, height * width) array of tile codes."""
    codes = {t: i for i, t in enumerate(TILES)}
    return np.array([[codes[ch] for row in level for ch in row] for level in levels],
                    dtype=np.int8).reshape(len(levels), height * width)


def level_report(levels: Sequence[Sequence[str]], training: Sequence[Sequence[str]],
                 height: int = HEIGHT, width: int = WIDTH) -> dict[str, float]:
    """Measured over ``levels``: ``valid`` and ``playable`` rates (over all levels);
    over the valid ones, ``copied`` (the share identical to a training level), ``nearest``
    (the mean Hamming distance to the nearest training level, as a share of tiles) and
    ``diversity`` (the mean pairwise Hamming distance, as a share of tiles)."""
    if not levels:
        raise ValueError("levels is empty")
    valid = [lv for lv in levels if is_valid(lv, height, width)]
    report = {"valid": len(valid) / len(levels),
              "playable": sum(is_playable(lv, height, width) for lv in levels) / len(levels),
              "copied": float("nan"), "nearest": float("nan"), "diversity": float("nan")}
    if not valid:
        return report
    gen = _as_array(valid, height, width)
    train = _as_array(training, height, width)
    nearest = np.array([(row != train).mean(axis=1).min() for row in gen])
    report["copied"] = float((nearest == 0).mean())
    report["nearest"] = float(nearest.mean())
    if len(gen) > 1:
        pair = [(gen[i] != gen[i + 1:]).mean(axis=1) for i in range(len(gen) - 1)]
        report["diversity"] = float(np.concatenate(pair).mean())
    return report
