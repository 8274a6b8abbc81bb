"""Bradley-Terry against known strengths, its score equations and scikit-learn's logistic
regression; the MM update; Elo by hand and its dependence on the order of the games."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from genai_course.evaluation import preference as pr

TRUE = np.array([-1.2, -0.4, 0.1, 0.5, 1.0])


def test_bradley_terry_recovers_known_strengths():
    games = pr.simulate_games(TRUE - TRUE.mean(), 20_000, seed=0)
    theta = pr.bradley_terry(len(TRUE), games)
    assert abs(theta.mean()) < 1e-12
    np.testing.assert_allclose(theta, TRUE - TRUE.mean(), atol=0.06)


def test_bradley_terry_solves_its_score_equations():
    games = pr.simulate_games(TRUE, 300, seed=1)
    theta = pr.bradley_terry(len(TRUE), games)
    wins = pr.win_matrix(len(TRUE), games)
    n = wins + wins.T
    p = 1 / (1 + np.exp(theta[None, :] - theta[:, None]))
    np.testing.assert_allclose(wins.sum(1), (n * p).sum(1), atol=1e-8)


def test_penalised_bradley_terry_equals_sklearn_logistic_regression():
    games = pr.simulate_games(TRUE, 400, seed=2)
    rng = np.random.default_rng(0)
    x = np.zeros((len(games), len(TRUE)))
    y = np.zeros(len(games))
    for row, (w, loser) in enumerate(games):
        flip = rng.random() < 0.5  # both classes must occur
        x[row, w], x[row, loser] = (-1, 1) if flip else (1, -1)
        y[row] = 0 if flip else 1
    alpha = 2.0
    reference = LogisticRegression(C=1 / alpha, fit_intercept=False, tol=1e-12, max_iter=10_000)
    reference.fit(x, y)
    np.testing.assert_allclose(pr.bradley_terry(len(TRUE), games, alpha=alpha),
                               reference.coef_[0], atol=1e-6)


def test_mm_updates_converge_to_the_newton_answer():
    games = pr.simulate_games(TRUE, 500, seed=3)
    wins = pr.win_matrix(len(TRUE), games)
    theta = np.zeros(len(TRUE))
    for _ in range(500):
        theta = pr.bradley_terry_mm_step(theta, wins)
    np.testing.assert_allclose(theta, pr.bradley_terry(len(TRUE), games), atol=1e-8)


def test_bradley_terry_needs_a_connected_comparison_graph():
    with pytest.raises(ValueError, match="player 0 needs a win and a loss: never lost"):
        pr.bradley_terry(3, [(0, 1), (0, 2), (1, 2), (2, 1)])
    with pytest.raises(ValueError, match="never reached"):  # {0, 1} always beat {2, 3}
        pr.bradley_terry(4, [(0, 1), (1, 0), (2, 3), (3, 2), (0, 2), (1, 3)])
    theta = pr.bradley_terry(3, [(0, 1), (0, 2), (1, 2), (2, 1)], alpha=0.1)
    assert np.argmax(theta) == 0
    with pytest.raises(ValueError, match="players must be ints"):
        pr.bradley_terry(2, [(0, 2)])


def test_elo_by_hand():
    assert pr.elo(2, [(0, 1)]).tolist() == [1016.0, 984.0]
    r = pr.elo(2, [(0, 1), (1, 0)], k=32)
    expected = 1 / (1 + 10 ** ((1016 - 984) / 400))  # player 1's expected score in game 2
    assert r[1] == pytest.approx(984 + 32 * (1 - expected))
    assert r.sum() == pytest.approx(2000)  # zero-sum


def test_elo_depends_on_the_order_of_the_games_and_bradley_terry_does_not():
    games = pr.simulate_games(TRUE, 400, seed=4)
    rng = np.random.default_rng(5)
    elos, bts = [], []
    for _ in range(20):
        order = rng.permutation(len(games))
        shuffled = [games[i] for i in order]
        elos.append(pr.elo(len(TRUE), shuffled))
        bts.append(pr.bradley_terry(len(TRUE), shuffled))
    assert np.ptp(np.stack(elos), axis=0).max() > 20  # tens of Elo points apart
    assert np.ptp(np.stack(bts), axis=0).max() < 1e-9


def test_bootstrap_intervals_cover_the_truth():
    games = pr.simulate_games(TRUE, 2_000, seed=6)
    theta, lower, upper = pr.bootstrap_bradley_terry(len(TRUE), games, n_boot=200, seed=0)
    truth = TRUE - TRUE.mean()
    assert (lower <= theta).all() and (theta <= upper).all()
    assert ((lower <= truth) & (truth <= upper)).sum() >= 4
    assert (upper - lower).max() < 0.5


def test_elo_scale_matches_bradley_terry_units():
    assert pr.ELO_PER_NAT == pytest.approx(400 / math.log(10))
    # Elo's expected score for a gap d equals sigmoid(d / ELO_PER_NAT)
    d = 150.0
    assert 1 / (1 + 10 ** (-d / 400)) == pytest.approx(1 / (1 + math.exp(-d / pr.ELO_PER_NAT)))
