"""Ranking models from pairwise preferences: online Elo against Bradley-Terry.

* :func:`elo` -- the online Elo update (Elo 1978; as chess and early Chatbot Arena used it):
  after each game, ``R_w += K (1 - E_w)`` and ``R_l -= K (1 - E_w)`` with the expected score
  ``E_w = 1 / (1 + base^((R_l - R_w) / scale))``. The result depends on the order of the games.
* :func:`bradley_terry` -- the maximum-likelihood strengths of the Bradley-Terry model
  (Bradley & Terry 1952), ``P(i beats j) = sigmoid(theta_i - theta_j)``, with an optional L2
  penalty ``alpha``; order-free. Newton's method on the (concave) log-likelihood. Chatbot
  Arena moved to it (Chiang et al., "Chatbot Arena", ICML 2024, section 4).
* :func:`bradley_terry_mm_step` -- one minorisation-maximisation update (Zermelo 1929; Hunter,
  "MM algorithms for generalized Bradley-Terry models", Annals of Statistics 2004, eq. 3).
* :func:`bootstrap_bradley_terry` -- percentile confidence intervals by resampling games.
* :func:`simulate_games` -- games between players of known strength, for checking the above.

Log-strengths are in nats: an Elo difference ``d`` corresponds to ``theta`` difference
``d * ln(base) / scale`` (:data:`ELO_PER_NAT` converts).

Used in: chapter 8.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from genai_course.core.checks import check_int, check_number

#: Elo points per nat of log-strength with the usual scale 400 and base 10.
ELO_PER_NAT = 400 / math.log(10)

Games = Sequence[tuple[int, int]]


def _games(n_items: int, games: Games) -> np.ndarray:
    """``games`` as an int array (m, 2) of (winner, loser), checked."""
    n_items = check_int(n_items, "n_items", 2)
    arr = np.asarray(list(games), dtype=np.int64).reshape(-1, 2)
    if len(arr) == 0:
        raise ValueError("there are no games")
    if (arr < 0).any() or (arr >= n_items).any():
        raise ValueError(f"players must be ints in [0, {n_items}), got {arr.min()}..{arr.max()}")
    if (arr[:, 0] == arr[:, 1]).any():
        raise ValueError("a player cannot play itself")
    return arr


def win_matrix(n_items: int, games: Games) -> np.ndarray:
    """``W[i, j]`` = how many times ``i`` beat ``j`` (float64, shape (n_items, n_items))."""
    arr = _games(n_items, games)
    wins = np.zeros((n_items, n_items))
    np.add.at(wins, (arr[:, 0], arr[:, 1]), 1.0)
    return wins


def elo(n_items: int, games: Games, k: float = 32.0, scale: float = 400.0, base: float = 10.0,
        initial: float = 1000.0) -> np.ndarray:
    """Elo ratings (n_items,) after playing ``games`` (winner, loser) in the given order."""
    arr = _games(n_items, games)
    k = check_number(k, "k", positive=True)
    scale = check_number(scale, "scale", positive=True)
    if not base > 1:
        raise ValueError(f"base must be > 1, got {base}")
    ratings = np.full(n_items, float(initial))
    for w, loser in arr:
        expected = 1.0 / (1.0 + base ** ((ratings[loser] - ratings[w]) / scale))
        ratings[w] += k * (1.0 - expected)
        ratings[loser] -= k * (1.0 - expected)
    return ratings


def _check_connected(wins: np.ndarray) -> None:
    """Without a penalty the MLE is finite only if every player can be reached from every
    other through "beat" edges (the comparison graph is strongly connected; Hunter 2004)."""
    hint = "its strength would be infinite; pass alpha > 0 to regularise"
    for i in range(len(wins)):
        if wins[i].sum() == 0 or wins[:, i].sum() == 0:
            raise ValueError(f"with alpha=0 player {i} needs a win and a loss: "
                             f"{'never won' if wins[i].sum() == 0 else 'never lost'}, so {hint}")
    beats = wins > 0
    for graph, relation in ((beats, "beat"), (beats.T, "lost to")):
        seen, stack = {0}, [0]
        while stack:
            i = stack.pop()
            for j in np.nonzero(graph[i])[0]:
                if int(j) not in seen:
                    seen.add(int(j))
                    stack.append(int(j))
        if len(seen) < len(wins):
            missing = sorted(set(range(len(wins))) - seen)
            raise ValueError(f"with alpha=0 every group of players must have {relation} "
                             f"someone outside it; players {missing[:5]} are never reached "
                             f"from player 0, so {hint}")


def bradley_terry(n_items: int, comparisons: Games, alpha: float = 0.0, tol: float = 1e-10,
                  max_iter: int = 100) -> np.ndarray:
    """Maximum-likelihood Bradley-Terry log-strengths ``theta`` (n_items,), mean 0, with
    ``P(i beats j) = sigmoid(theta_i - theta_j)``; ``comparisons`` are (winner, loser).

    Maximises ``sum_games log sigmoid(theta_w - theta_l) - alpha / 2 |theta|^2`` by Newton's
    method (the objective is concave; the mean-0 constraint removes its one flat direction).
    With ``alpha = 0`` the comparison graph must be strongly connected, else ``ValueError``.
    """
    wins = win_matrix(n_items, comparisons)
    alpha = check_number(alpha, "alpha")
    if alpha == 0:
        _check_connected(wins)
    games = wins + wins.T  # n_ij, games between i and j
    ones = np.ones((n_items, 1)) / math.sqrt(n_items)

    def objective(t: np.ndarray) -> float:
        diff = t[:, None] - t[None, :]
        return float(-(wins * np.logaddexp(0.0, -diff)).sum() - alpha / 2 * (t @ t))

    theta = np.zeros(n_items)
    for _ in range(max_iter):
        p = 1.0 / (1.0 + np.exp(theta[None, :] - theta[:, None]))  # P(i beats j)
        grad = wins.sum(1) - (games * p).sum(1) - alpha * theta
        weight = games * p * p.T
        hess = -np.diag(weight.sum(1)) + weight - alpha * np.eye(n_items)
        # Newton step within the mean-0 subspace: the constraint's direction is added to
        # the Hessian, whose null space it is when alpha = 0.
        step = np.linalg.solve(hess - ones @ ones.T, -grad)
        current, size = objective(theta), 1.0
        while objective(theta + size * step) < current and size > 1e-8:
            size /= 2  # backtrack: the plain Newton step can overshoot far from the optimum
        theta = theta + size * step
        theta -= theta.mean()
        if np.abs(size * step).max() < tol:
            break
    return theta


def bradley_terry_mm_step(theta: np.ndarray, wins: np.ndarray) -> np.ndarray:
    """One MM update of the log-strengths (Hunter 2004, eq. 3), recentred to mean 0:
    ``p_i <- W_i / sum_{j != i} n_ij / (p_i + p_j)`` with ``p = exp(theta)``, ``W_i`` the
    wins of i and ``n_ij`` the games between i and j. Every player needs at least one win.
    Repeating it converges to :func:`bradley_terry`'s answer (with ``alpha = 0``)."""
    p = np.exp(theta - theta.max())
    games = wins + wins.T
    pairs = p[:, None] + p[None, :]
    denom = np.divide(games, pairs, out=np.zeros_like(games), where=games > 0).sum(1)
    new = np.log(wins.sum(1)) - np.log(denom)
    return new - new.mean()


def bootstrap_bradley_terry(n_items: int, comparisons: Games, n_boot: int = 200,
                            alpha: float = 0.0, level: float = 0.95, seed: int = 0
                            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(theta, lower, upper)``: the Bradley-Terry fit and percentile bootstrap intervals
    at ``level``, from ``n_boot`` resamples of the games with replacement. A resample whose
    graph is not connected (possible with ``alpha = 0``) is drawn again."""
    arr = _games(n_items, comparisons)
    theta = bradley_terry(n_items, arr, alpha)
    rng = np.random.default_rng(seed)
    draws: list[np.ndarray] = []
    attempts = 0
    while len(draws) < check_int(n_boot, "n_boot", 2):
        attempts += 1
        if attempts > 10 * n_boot:
            raise ValueError("too few games: most resamples leave a player without a win "
                             "or a loss; use alpha > 0")
        sample = arr[rng.integers(0, len(arr), len(arr))]
        try:
            draws.append(bradley_terry(n_items, sample, alpha))
        except ValueError:
            continue
    tail = (1 - level) / 2 * 100
    lower, upper = np.percentile(np.stack(draws), [tail, 100 - tail], axis=0)
    return theta, lower, upper


def simulate_games(theta: Sequence[float], n_games: int, seed: int = 0) -> list[tuple[int, int]]:
    """``n_games`` games between uniformly chosen distinct pairs, won with probability
    ``sigmoid(theta_i - theta_j)`` (the Bradley-Terry model itself); returns (winner, loser)."""
    t = np.asarray(theta, dtype=np.float64)
    rng = np.random.default_rng(seed)
    games = []
    for _ in range(check_int(n_games, "n_games", 1)):
        i, j = rng.choice(len(t), size=2, replace=False)
        win = rng.random() < 1.0 / (1.0 + math.exp(t[j] - t[i]))
        games.append((int(i), int(j)) if win else (int(j), int(i)))
    return games
