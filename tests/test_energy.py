import math

import numpy as np
import pytest
import torch

from genai_course.data.toy2d import gaussian_mixture_log_density, ring_log_density
from genai_course.generative.energy import (
    GaussianMixtureEnergy,
    ScoreNet,
    annealed_langevin,
    dsm_loss,
    geometric_sigmas,
    langevin_sample,
    langevin_step,
    train_score,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


MIXTURE = GaussianMixtureEnergy([[0.0, 0.0], [2.0, 1.0], [-1.0, 2.0]], [0.5, 0.3, 0.8],
                                [0.5, 0.2, 0.3])


def test_langevin_step_is_the_ula_update():
    x, g, z = torch.randn(4, 2), torch.randn(4, 2), torch.randn(4, 2)
    expected = x + 0.5 * 0.04 * g + 0.2 * z
    torch.testing.assert_close(langevin_step(x, g, 0.04, z), expected)
    torch.testing.assert_close(langevin_step(x, lambda y: g, 0.04, z), expected)
    with pytest.raises(ValueError, match="shape of x"):
        langevin_step(x, g[:2], 0.04, z)
    with pytest.raises(ValueError, match="step_size"):
        langevin_step(x, g, 0.0, z)


def test_mixture_energy_matches_numpy_reference():
    x = 2 * torch.randn(100, 2, generator=_gen())
    ref = gaussian_mixture_log_density(x.numpy(), MIXTURE.means.numpy(), MIXTURE.stds.numpy(),
                                       MIXTURE.weights.numpy())
    np.testing.assert_allclose(MIXTURE.energy(x).numpy(), -ref, rtol=1e-5, atol=1e-4)
    ring = GaussianMixtureEnergy.ring(8, 2.0, 0.2)
    np.testing.assert_allclose(ring.log_prob(x).numpy(), ring_log_density(x.numpy(), std=0.2),
                               rtol=1e-5, atol=1e-4)


def test_closed_form_score_equals_minus_autograd_energy_gradient():
    x = (2 * torch.randn(200, 2, generator=_gen(1))).requires_grad_()
    (grad,) = torch.autograd.grad(MIXTURE.energy(x).sum(), x)
    torch.testing.assert_close(MIXTURE.score(x.detach()), -grad, atol=1e-4, rtol=1e-4)
    # the noise-conditional score is the score of the mixture with variances s^2 + sigma^2
    sigma = 0.7
    wider = GaussianMixtureEnergy(MIXTURE.means, (MIXTURE.stds**2 + sigma**2).sqrt(),
                                  MIXTURE.weights)
    torch.testing.assert_close(MIXTURE.noise_conditional_score(x.detach(), sigma),
                               wider.score(x.detach()), atol=1e-5, rtol=1e-5)


def test_langevin_from_noise_reaches_every_mode_of_a_ring():
    ring = GaussianMixtureEnergy.ring(4, 2.0, 0.3)
    x0 = 2.0 * torch.randn(2000, 2, generator=_gen())
    x = langevin_sample(ring.score, x0, n_steps=400, step_size=0.01, seed=0)
    dist = torch.cdist(x, ring.means)
    nearest = dist.argmin(1)
    assert (dist.min(1).values < 3 * 0.3).float().mean() > 0.97
    fractions = torch.bincount(nearest, minlength=4).float() / len(x)
    assert torch.all((fractions - 0.25).abs() < 0.06), fractions
    for j in range(4):  # each mode has the right spread (ULA bias at this step is ~1%)
        spread = (x[nearest == j] - ring.means[j]).std(0)
        torch.testing.assert_close(spread, torch.full((2,), 0.3), atol=0.04, rtol=0)


def test_langevin_is_seeded_and_can_return_its_path():
    x0 = torch.zeros(5, 2)
    a = langevin_sample(MIXTURE.score, x0, n_steps=10, step_size=0.01, seed=3)
    b = langevin_sample(MIXTURE.score, x0, n_steps=10, step_size=0.01, seed=3)
    assert torch.equal(a, b)
    path = langevin_sample(MIXTURE.score, x0, n_steps=10, step_size=0.01, seed=3,
                           return_path=True)
    assert path.shape == (11, 5, 2) and torch.equal(path[-1], a) and torch.equal(path[0], x0)


def test_annealing_recovers_mode_weights_that_plain_langevin_misses():
    """Song & Ermon 2019, section 3.2: Langevin alone cannot get the relative weights of
    well-separated modes right; annealing through the noise-perturbed scores can."""
    target = GaussianMixtureEnergy([[-2.0, 0.0], [2.0, 0.0]], 0.3, [0.8, 0.2])
    x0 = 2.0 * torch.randn(2000, 2, generator=_gen())
    plain = langevin_sample(target.score, x0, n_steps=300, step_size=0.01, seed=0)
    assert abs((plain[:, 0] < 0).float().mean().item() - 0.5) < 0.1
    annealed = annealed_langevin(target.noise_conditional_score, 2000,
                                 geometric_sigmas(5.0, 0.05, 10), steps_per_level=50,
                                 step_scale=0.5, seed=0, dim=2)
    left = annealed[:, 0] < 0
    assert abs(left.float().mean().item() - 0.8) < 0.06
    torch.testing.assert_close(annealed[left].std(0), torch.full((2,), 0.3), atol=0.04, rtol=0)


MU, S = torch.tensor([1.0, -0.5]), 0.5


def _optimal_score(x: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
    """The DSM optimum for data N(MU, S^2 I): the score of N(MU, (S^2 + sigma^2) I)."""
    sigma = torch.as_tensor(sigma).reshape(-1, 1) if torch.is_tensor(sigma) else sigma
    return -(x - MU) / (S**2 + sigma**2)


def test_dsm_loss_is_minimised_by_the_analytic_score():
    x = MU + S * torch.randn(20000, 2, generator=_gen())
    noise = torch.randn(20000, 2, generator=_gen(1))
    for sigma in (0.1, 0.5, 2.0):
        best = dsm_loss(_optimal_score, x, sigma, noise=noise)
        for wrong in (lambda y, s: 1.2 * _optimal_score(y, s),
                      lambda y, s: _optimal_score(y, s) + 0.3,
                      lambda y, s: -(y - MU) / S**2):  # the noise-free score
            assert best < dsm_loss(wrong, x, sigma, noise=noise)
    # at the optimum the loss equals its irreducible part: d/2 * S^2 / (S^2 + sigma^2)
    torch.testing.assert_close(dsm_loss(_optimal_score, x, 0.5, noise=noise),
                               torch.tensor(0.5), atol=0.02, rtol=0)


def test_dsm_loss_formula_and_per_row_sigmas():
    model = lambda y, s: -y  # noqa: E731
    x, eps = torch.randn(8, 2), torch.randn(8, 2)
    sigma = torch.linspace(0.1, 1.0, 8)
    x_noisy = x + sigma[:, None] * eps
    target = -(x_noisy - x) / sigma[:, None] ** 2
    expected = 0.5 * (sigma[:, None] ** 2 * (-x_noisy - target) ** 2).sum(1).mean()
    torch.testing.assert_close(dsm_loss(model, x, sigma, noise=eps), expected)
    with pytest.raises(ValueError, match="one value per row"):
        dsm_loss(model, x, sigma[:3], noise=eps)
    with pytest.raises(ValueError, match="sigma must be > 0"):
        dsm_loss(model, x, 0.0, noise=eps)


def test_briefly_trained_scorenet_approximates_the_optimal_score():
    x = MU + S * torch.randn(4096, 2, generator=_gen())
    sigmas = geometric_sigmas(2.0, 0.1, 5)
    model = ScoreNet(2, hidden=64, noise_levels=sigmas, n_hidden_layers=2, seed=0)
    history = train_score(model, x, steps=400, batch_size=256, lr=3e-3, seed=0, progress=False)
    assert history["loss"][-1] < history["loss"][0]
    errors = []
    for sigma in sigmas.tolist():
        x_noisy = MU + math.sqrt(S**2 + sigma**2) * torch.randn(2000, 2, generator=_gen(1))
        true = _optimal_score(x_noisy, sigma)
        with torch.no_grad():
            est = model(x_noisy, sigma)
        errors.append(((est - true).norm(dim=1).mean() / true.norm(dim=1).mean()).item())
    assert max(errors) < 0.4 and sum(errors) / len(errors) < 0.2, errors
    samples = annealed_langevin(model, 1000, steps_per_level=30, step_scale=0.2, seed=0)
    assert samples.shape == (1000, 2) and samples.dtype == torch.float32
    torch.testing.assert_close(samples.mean(0), MU, atol=0.1, rtol=0)
    torch.testing.assert_close(samples.std(0), torch.full((2,), S), atol=0.1, rtol=0)


def test_scorenet_shapes_seeding_and_errors():
    a, b = ScoreNet(seed=1), ScoreNet(seed=1)
    x = torch.randn(6, 2)
    assert torch.equal(a(x, 0.5), b(x, 0.5))
    assert a(x, torch.full((6,), 0.5)).shape == (6, 2)
    assert torch.all(a.noise_levels[1:] < a.noise_levels[:-1])
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        a(torch.randn(6, 3), 0.5)
    with pytest.raises(TypeError, match="torch.Tensor"):
        a(np.zeros((6, 2)), 0.5)
    with pytest.raises(ValueError, match="decreasing"):
        annealed_langevin(a, 10, sigmas=[0.1, 1.0])
    with pytest.raises(ValueError, match="pass sigmas"):
        annealed_langevin(lambda y, s: -y, 10)
    with pytest.raises(ValueError, match="weights"):
        GaussianMixtureEnergy([[0.0, 0.0]], 1.0, [0.5])


def test_langevin_samplers_use_the_given_step_function():
    """A step function passed in (as a student's would be) drives both samplers."""
    energy = GaussianMixtureEnergy.ring(k=4, radius=1.0, std=0.3)
    x0 = torch.zeros(10, 2)
    calls = []

    def step(x, score_x, step_size, noise):
        calls.append(step_size)
        return langevin_step(x, score_x, step_size, noise)

    torch.testing.assert_close(langevin_sample(energy.score, x0, n_steps=7, seed=0, step_fn=step),
                               langevin_sample(energy.score, x0, n_steps=7, seed=0))
    assert len(calls) == 7
    out = annealed_langevin(energy.noise_conditional_score, 10, sigmas=[1.0, 0.5], x0=x0,
                            steps_per_level=3, seed=0, step_fn=step)
    torch.testing.assert_close(out, annealed_langevin(energy.noise_conditional_score, 10,
                                                      sigmas=[1.0, 0.5], x0=x0,
                                                      steps_per_level=3, seed=0))
    assert calls[7:] == pytest.approx([0.2, 0.2, 0.2, 0.05, 0.05, 0.05])
