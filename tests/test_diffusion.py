"""Diffusion: schedules, forward process, DDPM/DDIM steps against the papers' equations
(written out here independently, float64), guidance, sampling and training."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from genai_course.data import toy2d
from genai_course.data.digits import load_digits
from genai_course.diffusion import (
    DDIM,
    DDPM,
    MLPDenoiser,
    NoiseSchedule,
    ddim_timesteps,
    diffusion_loss,
    evaluate_loss,
    functional,
    guided_eps,
    img2img,
    predict_eps,
    sample,
    sample_loop,
    sampling_moves,
    train_diffusion,
    training_targets,
)
from genai_course.diffusion.schedule import cosine_alphas_cumprod
from genai_course.diffusion.studies import guidance_study, sampling_study
from genai_course.evaluation.digit_classifier import evaluate_accuracy
from genai_course.evaluation.distances import mean_pairwise_distance, mmd_rbf
from genai_course.pretrained import ddpm_digits, load_pretrained
from genai_course.viz.widgets import diffusion_explorer, guidance_explorer

F64 = torch.float64


def _randn(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=F64)


# -- schedules -------------------------------------------------------------------------------

def test_linear_schedule_is_ddpms() -> None:
    s = NoiseSchedule.linear(1000)
    np.testing.assert_allclose(s.betas.numpy(), np.linspace(1e-4, 0.02, 1000), rtol=0, atol=1e-15)
    assert s.betas.dtype == F64 and s.T == 1000
    want = np.cumprod(1 - np.linspace(1e-4, 0.02, 1000))
    np.testing.assert_allclose(s.alphas_cumprod.numpy(), want, rtol=1e-12)
    # DDPM's schedule leaves almost no signal at t = T (abar ~ 4e-5)
    assert 3e-5 < s.alphas_cumprod[-1] < 5e-5
    assert s.alphas_cumprod_prev[0] == 1 and torch.equal(s.alphas_cumprod_prev[1:],
                                                          s.alphas_cumprod[:-1])


def test_cosine_schedule_follows_nichol_dhariwal_eq_17() -> None:
    T, s = 100, 0.008
    sched = NoiseSchedule.cosine(T, s=s)

    def f(t: float) -> float:
        return math.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2

    want = np.array([f(t) / f(0) for t in range(1, T + 1)])  # the paper's t = 1..T
    np.testing.assert_allclose(sched.alphas_cumprod.numpy()[:-1], want[:-1], rtol=1e-10)
    # f(T) = 0 would make beta_T = 1; it is clipped to 0.999
    assert sched.betas[-1].item() == pytest.approx(0.999)
    assert torch.all(sched.betas[:-1] < 0.999)


def test_snr_is_abar_over_one_minus_abar_and_decreasing() -> None:
    s = NoiseSchedule.cosine(50)
    abar = s.alphas_cumprod
    torch.testing.assert_close(s.snr(), abar / (1 - abar))
    assert torch.all(s.snr()[1:] < s.snr()[:-1])
    assert s.snr(3).item() == pytest.approx((abar[3] / (1 - abar[3])).item())
    torch.testing.assert_close(s.snr(torch.tensor([0, 7])), s.snr()[[0, 7]])
    with pytest.raises(ValueError, match="t must lie"):
        s.snr(50)


@pytest.mark.parametrize("bad", [[0.0, 0.1], [0.5, 1.0], [], [[0.1]]])
def test_schedule_rejects_bad_betas(bad) -> None:
    with pytest.raises(ValueError, match="betas"):
        NoiseSchedule(bad)


def test_constructors_check_their_arguments() -> None:
    with pytest.raises(ValueError, match="T must be an int"):
        NoiseSchedule.linear(0)
    with pytest.raises(ValueError, match="beta_start"):
        NoiseSchedule.linear(10, beta_start=0.1, beta_end=0.01)
    with pytest.raises(ValueError, match="s must be"):
        NoiseSchedule.cosine(10, s=-1)
    with pytest.raises(ValueError, match="schedule must be one of"):
        NoiseSchedule.named("sigmoid", 10)
    assert "T=10" in repr(NoiseSchedule.linear(10))


# -- forward process -------------------------------------------------------------------------

def test_q_sample_is_the_closed_form_of_eq_4() -> None:
    s = NoiseSchedule.linear(1000)
    x0, noise = _randn(5, 3, seed=1), _randn(5, 3, seed=2)
    t = torch.tensor([0, 1, 500, 998, 999])
    abar = np.cumprod(1 - np.linspace(1e-4, 0.02, 1000))[t.numpy()][:, None]
    want = np.sqrt(abar) * x0.numpy() + np.sqrt(1 - abar) * noise.numpy()
    np.testing.assert_allclose(s.q_sample(x0, t, noise).numpy(), want, rtol=0, atol=1e-12)
    # one int step for the whole batch, images, float32
    img = _randn(2, 1, 4, 4).float()
    out = s.q_sample(img, 10, torch.zeros_like(img))
    assert out.dtype == torch.float32 and out.shape == img.shape
    torch.testing.assert_close(out, img * math.sqrt(s.alphas_cumprod[10]))


def test_closed_form_matches_running_the_markov_chain() -> None:
    """q(x_t | x_0) from eq. 4 equals t applications of q(x_t | x_{t-1}) = N(sqrt(1-b) x, b)."""
    s = NoiseSchedule.linear(200, beta_end=0.05)
    gen = torch.Generator().manual_seed(0)
    x = torch.full((200_000,), 1.5, dtype=F64)
    for t in range(120):
        x = (1 - s.betas[t]).sqrt() * x + s.betas[t].sqrt() * torch.randn(x.shape, generator=gen,
                                                                          dtype=F64)
    abar = s.alphas_cumprod[119].item()
    assert x.mean().item() == pytest.approx(1.5 * math.sqrt(abar), abs=0.01)
    assert x.var().item() == pytest.approx(1 - abar, abs=0.01)


def test_step_index_is_checked() -> None:
    s = NoiseSchedule.linear(10)
    x = torch.zeros(2, 2)
    for bad in (10, -1):
        with pytest.raises(ValueError, match="t must"):
            s.q_sample(x, bad, x)
    with pytest.raises(ValueError, match="t must be an int or an int64 tensor"):
        s.q_sample(x, torch.tensor([1.0, 2.0]), x)
    with pytest.raises(ValueError, match="noise must have the shape"):
        s.q_sample(x, 1, torch.zeros(3, 2))


# -- the reverse process ---------------------------------------------------------------------

def _paper(s: NoiseSchedule, t: int) -> dict[str, float]:
    """beta_t, alpha_t, abar_t, abar_{t-1} rebuilt from the betas with Python floats."""
    betas = s.betas.tolist()
    abar = math.prod(1 - b for b in betas[: t + 1])
    abar_prev = math.prod(1 - b for b in betas[:t])  # empty product = 1 at t = 0
    return {"beta": betas[t], "alpha": 1 - betas[t], "abar": abar, "abar_prev": abar_prev}


@pytest.mark.parametrize("t", [0, 1, 37, 99])
def test_posterior_is_the_product_of_two_gaussians(t) -> None:
    """q(x_{t-1} | x_t, x_0) ~ q(x_t | x_{t-1}) q(x_{t-1} | x_0): multiply the two Gaussians
    (precisions add) and compare with eq. 7's mean and beta_tilde."""
    s = NoiseSchedule.cosine(100)
    p = _paper(s, t)
    x0, xt = _randn(4, 2, seed=3), _randn(4, 2, seed=4)
    if t == 0:  # x_{-1} is x_0 itself: the posterior is a point mass at x_0
        mean, var = x0, 0.0
    else:
        precision = p["alpha"] / p["beta"] + 1 / (1 - p["abar_prev"])
        var = 1 / precision
        mean = var * (math.sqrt(p["alpha"]) / p["beta"] * xt
                      + math.sqrt(p["abar_prev"]) / (1 - p["abar_prev"]) * x0)
    torch.testing.assert_close(s.posterior_mean(x0, t, xt), mean, atol=1e-9, rtol=0)
    assert s.posterior_variance[t].item() == pytest.approx(var, abs=1e-12)


@pytest.mark.parametrize(("kind", "t"), [("linear", 999), ("linear", 500), ("cosine", 1),
                                         ("cosine", 0), ("linear", 0)])
def test_ddpm_step_matches_ho_et_al_eq_11(kind, t) -> None:
    """Eq. 11: mu = (x_t - beta_t / sqrt(1 - abar_t) eps) / sqrt(alpha_t), then
    x_{t-1} = mu + sigma_t z with sigma_t^2 = beta_tilde_t, and no noise at the last step."""
    s = getattr(NoiseSchedule, kind)(1000)
    p = _paper(s, t)
    xt, eps, z = _randn(6, 3, seed=5), _randn(6, 3, seed=6), _randn(6, 3, seed=7)
    mu = (xt - p["beta"] / math.sqrt(1 - p["abar"]) * eps) / math.sqrt(p["alpha"])
    var = (1 - p["abar_prev"]) / (1 - p["abar"]) * p["beta"]
    want = mu + (math.sqrt(var) if t > 0 else 0.0) * z
    torch.testing.assert_close(DDPM(s).step(eps, t, None, xt, noise=z), want, atol=1e-6, rtol=0)


def test_ddpm_step_at_t0_returns_the_predicted_x0_and_per_row_steps_work() -> None:
    s = NoiseSchedule.linear(100)
    xt, eps = _randn(3, 2, seed=8), _randn(3, 2, seed=9)
    abar0 = 1 - s.betas[0].item()
    x0 = (xt - math.sqrt(1 - abar0) * eps) / math.sqrt(abar0)
    torch.testing.assert_close(DDPM(s).step(eps, 0, -1, xt, noise=_randn(3, 2, seed=10)), x0)
    torch.testing.assert_close(s.predict_x0(eps, 0, xt), x0)
    z = _randn(3, 2, seed=11)
    rows = DDPM(s).step(eps, torch.tensor([0, 5, 50]), None, xt, noise=z)
    for i, t in enumerate([0, 5, 50]):
        torch.testing.assert_close(rows[i], DDPM(s).step(eps[i:i + 1], t, t - 1, xt[i:i + 1],
                                                           noise=z[i:i + 1])[0])
    clipped = DDPM(s, clip_x0=1.0).step(eps * 100, 0, None, xt, noise=z)
    assert clipped.abs().max() <= 1.0 + 1e-12


@pytest.mark.parametrize(("t", "t_prev", "eta"), [(999, 899, 0.0), (500, 0, 0.0), (99, -1, 0.0),
                                                  (999, 979, 0.5), (10, 3, 1.0)])
def test_ddim_step_matches_song_et_al_eq_12(t, t_prev, eta) -> None:
    s = NoiseSchedule.linear(1000)
    a_t = _paper(s, t)["abar"]
    a_prev = _paper(s, t_prev)["abar"] if t_prev >= 0 else 1.0
    xt, eps, z = _randn(5, 2, seed=12), _randn(5, 2, seed=13), _randn(5, 2, seed=14)
    sigma = eta * math.sqrt((1 - a_prev) / (1 - a_t)) * math.sqrt(1 - a_t / a_prev)
    x0 = (xt - math.sqrt(1 - a_t) * eps) / math.sqrt(a_t)
    want = math.sqrt(a_prev) * x0 + math.sqrt(1 - a_prev - sigma**2) * eps + sigma * z
    torch.testing.assert_close(DDIM(s, eta=eta).step(eps, t, t_prev, xt, noise=z), want,
                               atol=1e-6, rtol=0)


def test_ddim_with_eta_0_is_deterministic_and_eta_1_is_ddpm() -> None:
    s = NoiseSchedule.cosine(200)
    xt, eps = _randn(4, 2, seed=15), _randn(4, 2, seed=16)
    a = DDIM(s).step(eps, 150, 100, xt, noise=_randn(4, 2, seed=17))
    b = DDIM(s).step(eps, 150, 100, xt, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    # consecutive steps with eta = 1: sigma^2 is DDPM's beta_tilde (Song et al., section 4.1)
    z = _randn(4, 2, seed=18)
    torch.testing.assert_close(DDIM(s, eta=1.0).step(eps, 150, 149, xt, noise=z),
                               DDPM(s).step(eps, 150, 149, xt, noise=z), atol=1e-10, rtol=0)
    # the final step to abar = 1 returns the predicted clean data
    torch.testing.assert_close(DDIM(s).step(eps, 7, -1, xt), s.predict_x0(eps, 7, xt))


def test_ddim_step_checks_its_steps() -> None:
    s = NoiseSchedule.linear(10)
    x = torch.zeros(1, 2)
    with pytest.raises(ValueError, match="t_prev"):
        DDIM(s).step(x, 5, 5, x)
    with pytest.raises(ValueError, match="t_prev"):
        DDIM(s).step(x, 5, -2, x)
    with pytest.raises(ValueError, match="eta"):
        DDIM(s, eta=-1)
    with pytest.raises(ValueError, match="DDPM steps from t to t - 1"):
        DDPM(s).step(x, 5, 3, x)
    with pytest.raises(TypeError, match="NoiseSchedule"):
        DDIM("linear")


def test_ddim_timesteps_are_evenly_spaced_and_end_at_0() -> None:
    ddim_1000, ddim_10 = DDIM(NoiseSchedule.linear(1000)), DDIM(NoiseSchedule.linear(10))
    assert ddim_1000.timesteps(10) == [900, 800, 700, 600, 500, 400, 300, 200, 100, 0]
    assert ddim_10.timesteps(10) == ddim_10.timesteps() == list(range(9, -1, -1))
    assert ddim_1000.timesteps(1) == [0]
    assert ddim_10.timesteps(3) == [6, 3, 0]
    assert DDPM(NoiseSchedule.linear(10)).timesteps() == list(range(9, -1, -1))
    with pytest.raises(ValueError, match="steps must be <= T"):
        ddim_10.timesteps(11)
    with pytest.raises(ValueError, match="steps must be an int"):
        ddim_10.timesteps(0)
    with pytest.raises(ValueError, match="DDPM takes all"):
        DDPM(NoiseSchedule.linear(10)).timesteps(5)


def test_trailing_timesteps_follow_lin_et_al_2024_table_2() -> None:
    """Trailing: round(T - i T / k) - 1 for i = 0..k-1 (written out with numpy's round, as in
    Lin et al.'s code); it starts at T - 1, leading spacing does not."""
    for T, k in [(1000, 2), (1000, 10), (1000, 3), (1000, 7), (50, 50), (10, 4)]:
        want = (np.round(np.arange(T, 0, -T / k)) - 1).astype(int).tolist()
        assert ddim_timesteps(T, k, "trailing") == want
        assert want[0] == T - 1
        assert ddim_timesteps(T, k) == [i * (T // k) for i in range(k - 1, -1, -1)]
    assert ddim_timesteps(1000, 2) == [500, 0]  # leading k = 2 starts half way, at t = 500
    assert DDIM(NoiseSchedule.linear(1000), spacing="trailing").timesteps(10)[:2] == [999, 899]
    assert ddim_timesteps(10, 10, "trailing") == list(range(9, -1, -1))
    with pytest.raises(ValueError, match="spacing"):
        ddim_timesteps(10, 2, "middle")
    with pytest.raises(ValueError, match="spacing"):
        DDIM(NoiseSchedule.linear(10), spacing="middle")


def test_cosine_alphas_cumprod_and_from_alphas_cumprod_round_trip() -> None:
    T, s = 50, 0.008
    f = [math.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2 for t in range(T + 1)]
    abar = cosine_alphas_cumprod(T, s)
    np.testing.assert_allclose(abar.numpy(), [v / f[0] for v in f[1:]], rtol=1e-12, atol=1e-15)
    assert abar[-1] < 1e-30  # f(T) = cos^2(pi / 2): the unclipped schedule ends at abar = 0
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        NoiseSchedule.from_alphas_cumprod(abar)  # the last beta is 1
    clipped = NoiseSchedule.from_alphas_cumprod(abar, max_beta=0.999)
    assert torch.equal(clipped.betas, NoiseSchedule.cosine(T, s).betas)
    torch.testing.assert_close(clipped.alphas_cumprod[:-1], abar[:-1], atol=1e-15, rtol=1e-12)
    lin = NoiseSchedule.linear(100)
    torch.testing.assert_close(NoiseSchedule.from_alphas_cumprod(lin.alphas_cumprod).betas,
                               lin.betas, atol=1e-15, rtol=1e-10)


def test_functional_forms_match_the_papers() -> None:
    """The plain-tensor references of chapter 4's exercises against eq. 4, eq. 11 and
    Song et al. eq. 12/16 written out with Python floats."""
    s = NoiseSchedule.linear(1000)
    x0, xt, eps, z = (_randn(3, 2, seed=i) for i in (40, 41, 42, 43))
    t = torch.tensor([0, 400, 999])
    a = [_paper(s, int(v))["abar"] for v in t]
    want = torch.stack([math.sqrt(a[i]) * x0[i] + math.sqrt(1 - a[i]) * eps[i] for i in range(3)])
    torch.testing.assert_close(functional.q_sample(x0, t, eps, s.alphas_cumprod), want)
    assert functional.q_sample(x0.float(), t, eps.float(), s.alphas_cumprod).dtype == torch.float32
    for step in (0, 1, 500):
        p = _paper(s, step)
        mu = (xt - p["beta"] / math.sqrt(1 - p["abar"]) * eps) / math.sqrt(p["alpha"])
        var = (1 - p["abar_prev"]) / (1 - p["abar"]) * p["beta"]
        torch.testing.assert_close(functional.ddpm_step(xt, eps, step, s.betas, z),
                                   mu + math.sqrt(var) * z, atol=1e-6, rtol=0)
        x0_hat = (xt - math.sqrt(1 - p["abar"]) * eps) / math.sqrt(p["abar"])
        torch.testing.assert_close(functional.posterior_mean(x0_hat, xt, step, s.betas), mu,
                                   atol=1e-6, rtol=0)
    for t_, tp, eta in [(999, 899, 0.0), (300, 299, 1.0), (60, -1, 0.5)]:
        a_t, a_p = _paper(s, t_)["abar"], (_paper(s, tp)["abar"] if tp >= 0 else 1.0)
        sigma = eta * math.sqrt((1 - a_p) / (1 - a_t) * (1 - a_t / a_p))
        x0_hat = (xt - math.sqrt(1 - a_t) * eps) / math.sqrt(a_t)
        want = math.sqrt(a_p) * x0_hat + math.sqrt(1 - a_p - sigma**2) * eps + sigma * z
        torch.testing.assert_close(functional.ddim_step(xt, eps, t_, tp, s.alphas_cumprod, eta, z),
                                   want, atol=1e-6, rtol=0)


def test_sampling_moves_chain_the_visited_steps_and_end_at_clean_data() -> None:
    assert sampling_moves(1000, 2) == [(500, 0), (0, -1)]
    assert sampling_moves(1000, 2, "trailing") == [(999, 499), (499, -1)]
    assert sampling_moves(5, 5) == sampling_moves(5, 5, "trailing") == [(4, 3), (3, 2), (2, 1),
                                                                        (1, 0), (0, -1)]
    for T, k, spacing in [(1000, 10, "trailing"), (1000, 7, "leading"), (50, 3, "trailing")]:
        moves = sampling_moves(T, k, spacing)
        assert [t for t, _ in moves] == ddim_timesteps(T, k, spacing)
        assert [tp for _, tp in moves] == ddim_timesteps(T, k, spacing)[1:] + [-1]


def test_sample_loop_makes_each_move_once_on_the_current_sample() -> None:
    calls = []

    def eps_fn(x, t):
        calls.append(("eps", t, x.clone()))
        return x * 0 + t

    def step_fn(x, eps, t, t_prev):
        calls.append(("step", t, t_prev))
        return x + eps

    out = sample_loop(step_fn, eps_fn, torch.zeros(2), [(9, 5), (5, 2), (2, -1)])
    assert torch.equal(out, torch.full((2,), 16.0))
    assert [c[:3] for c in calls if c[0] == "step"] == [("step", 9, 5), ("step", 5, 2),
                                                        ("step", 2, -1)]
    assert [c[2].tolist() for c in calls if c[0] == "eps"] == [[0, 0], [9, 9], [14, 14]]
    # sample() runs it: the DDPM path of a seeded sample is the same through the loop by hand
    model = MLPDenoiser(dim=2, hidden=8, n_blocks=1, seed=0)
    s = NoiseSchedule.linear(20)
    gen = torch.Generator().manual_seed(3)
    x_T = torch.randn((5, 2), generator=gen)
    by_hand = sample_loop(lambda x, e, t, tp: DDPM(s).step(e, t, tp, x, generator=gen),
                          lambda x, t: predict_eps(model, x, t), x_T, sampling_moves(20, 20))
    torch.testing.assert_close(sample(model, DDPM(s), 5, seed=3), by_hand)


def test_guidance_interpolates_and_extrapolates() -> None:
    u, c = _randn(3, 2, seed=19), _randn(3, 2, seed=20)
    torch.testing.assert_close(guided_eps(u, c, 0.0), u)
    torch.testing.assert_close(guided_eps(u, c, 1.0), c)
    torch.testing.assert_close(guided_eps(u, c, 3.0), 3 * c - 2 * u)
    with pytest.raises(ValueError, match="eps_cond must have the shape"):
        guided_eps(u, c[:2], 1.0)


# -- sampling with an exact denoiser ---------------------------------------------------------

class GaussianDenoiser(nn.Module):
    """The exact E[eps | x_t] when x_0 ~ N(m_y, s^2 I): class y has mean ``means[y]``, the
    null label (and labels=None) the mean ``means[-1]``."""

    def __init__(self, schedule: NoiseSchedule, means: torch.Tensor, std: float) -> None:
        super().__init__()
        self.schedule, self.std = schedule, std
        self.register_buffer("means", means)
        self.data_shape = (means.shape[1],)
        self.num_classes = means.shape[0] - 1
        self.null_class = self.num_classes
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, x, t, labels=None):
        abar = self.schedule.alphas_cumprod[t].to(x.dtype)[:, None]
        m = self.means[labels if labels is not None else torch.full_like(t, self.null_class)]
        var = abar * self.std**2 + 1 - abar
        return (1 - abar).sqrt() * (x - abar.sqrt() * m) / var


@pytest.mark.parametrize(("sampler", "steps", "tol"), [("ddpm", None, 0.05), ("ddim", 200, 0.05),
                                                       ("ddim", 20, 0.1)])
def test_samples_of_an_exact_denoiser_have_the_data_distribution(sampler, steps, tol) -> None:
    """DDIM-20 starts at t = 190, where x_t still holds sqrt(abar) ~ 7% of the signal that its
    pure-noise start lacks, so its mean falls short by a few per cent (hence the wider
    tolerance); DDPM and DDIM through every step start at t = T - 1."""
    schedule = NoiseSchedule.cosine(200)
    model = GaussianDenoiser(schedule, torch.tensor([[1.0, -2.0], [0.0, 0.0]]), std=0.5)
    runner = DDPM(schedule) if sampler == "ddpm" else DDIM(schedule)
    x = sample(model, runner, 4000, steps=steps, labels=0, guidance_scale=1.0, seed=0,
               progress=False)
    assert x.shape == (4000, 2) and x.dtype == torch.float32
    np.testing.assert_allclose(x.mean(0).numpy(), [1.0, -2.0], atol=tol)
    np.testing.assert_allclose(x.std(0).numpy(), [0.5, 0.5], atol=tol)


def test_guidance_pushes_samples_past_the_conditional_mean() -> None:
    """With eps = eps_u + w (eps_c - eps_u), w = 0 samples the null class, w = 1 the class,
    and w > 1 overshoots away from the unconditional mean."""
    schedule = NoiseSchedule.cosine(100)
    model = GaussianDenoiser(schedule, torch.tensor([[1.0, 0.0], [0.0, 0.0]]), std=0.3)
    means = [sample(model, DDIM(schedule), 2000, steps=50, labels=0, guidance_scale=w, seed=1,
                    progress=False)[:, 0].mean().item() for w in (0.0, 1.0, 3.0)]
    assert means[0] == pytest.approx(0.0, abs=0.05)
    assert means[1] == pytest.approx(1.0, abs=0.05)
    assert means[2] > 1.3


def test_sampling_is_seeded_and_reports_each_step() -> None:
    schedule = NoiseSchedule.linear(50)
    model = GaussianDenoiser(schedule, torch.zeros(1, 2), std=1.0)
    ddpm = DDPM(schedule)
    a = sample(model, ddpm, 8, seed=3, progress=False)
    assert torch.equal(a, sample(model, ddpm, 8, seed=3, progress=False))
    assert torch.equal(a, sample(model, ddpm, 8, generator=torch.Generator().manual_seed(3),
                                 progress=False))
    assert not torch.equal(a, sample(model, ddpm, 8, seed=4, progress=False))
    seen = []
    sample(model, DDIM(schedule), 2, steps=5, seed=0, progress=False,
           callback=lambda t, x, x0: seen.append((t, x.shape, x0.shape)))
    assert [s[0] for s in seen] == DDIM(schedule).timesteps(5)
    assert all(shape == (2, 2) for _, shape, _ in seen)


def test_predict_eps_batches_the_two_passes() -> None:
    calls = []

    class Spy(GaussianDenoiser):
        def forward(self, x, t, labels=None):
            calls.append(None if labels is None else labels.tolist())
            return super().forward(x, t, labels)

    schedule = NoiseSchedule.linear(10)
    model = Spy(schedule, torch.tensor([[1.0], [2.0], [0.0]]), std=1.0)
    x = torch.randn(2, 1)
    y = torch.tensor([0, 1])
    guided = predict_eps(model, x, 5, y, guidance_scale=2.0)
    assert calls == [[2, 2, 0, 1]]
    want = guided_eps(model(x, torch.full((2,), 5), None), model(x, torch.full((2,), 5), y), 2.0)
    torch.testing.assert_close(guided, want)
    calls.clear()
    predict_eps(model, x, 5, y, guidance_scale=1.0)
    predict_eps(model, x, 5, y, guidance_scale=0.0)
    assert calls == [[0, 1], None]


def test_sample_checks_its_arguments() -> None:
    schedule = NoiseSchedule.linear(10)
    model = GaussianDenoiser(schedule, torch.zeros(3, 2), std=1.0)
    ddpm = DDPM(schedule)
    with pytest.raises(TypeError, match="sampler must be a DDPM or DDIM"):
        sample(model, schedule, 2)
    with pytest.raises(ValueError, match="DDPM takes all"):
        sample(model, ddpm, 2, steps=5)
    with pytest.raises(ValueError, match="guidance_scale needs labels"):
        sample(model, ddpm, 2, guidance_scale=2.0)
    with pytest.raises(ValueError, match="labels must lie"):
        sample(model, ddpm, 2, labels=2)
    with pytest.raises(ValueError, match="labels must be one int"):
        sample(model, ddpm, 2, labels=[0, 1, 0])
    with pytest.raises(ValueError, match="n must be"):
        sample(model, ddpm, 0)
    with pytest.raises(ValueError, match="a seed or a generator"):
        sample(model, ddpm, 2, seed=0, generator=torch.Generator())
    plain = MLPDenoiser(dim=2, hidden=8, n_blocks=1, seed=0)
    with pytest.raises(ValueError, match="unconditional"):
        sample(plain, ddpm, 2, labels=0)


# -- training --------------------------------------------------------------------------------

def test_loss_is_the_mse_to_the_noise_and_drops_labels() -> None:
    seen = []

    class Zero(nn.Module):
        data_shape, num_classes, null_class = (3,), 4, 4

        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(()))

        def forward(self, x, t, labels=None):
            seen.append(labels)
            return torch.zeros_like(x) * self.w

    schedule = NoiseSchedule.linear(100)
    x0 = torch.zeros(20_000, 3)
    labels = torch.zeros(20_000, dtype=torch.long)
    gen = torch.Generator().manual_seed(0)
    loss = diffusion_loss(Zero(), schedule, x0, labels, p_uncond=0.25, generator=gen)
    assert loss.item() == pytest.approx(1.0, abs=0.02)  # E[eps^2] = 1
    assert (seen[-1] == 4).double().mean().item() == pytest.approx(0.25, abs=0.02)
    diffusion_loss(Zero(), schedule, x0, labels, p_uncond=0.0, generator=gen)
    assert (seen[-1] == 0).all()
    with pytest.raises(ValueError, match="p_uncond"):
        diffusion_loss(Zero(), schedule, x0, labels, p_uncond=2.0)


def test_training_targets_drop_the_masked_labels_and_target_the_noise() -> None:
    """For given draws: x_t of eq. 4, the labels with the masked rows replaced by the null
    label, and the noise as the regression target; diffusion_loss is their MSE."""
    s = NoiseSchedule.cosine(100)
    x0, noise = _randn(4, 3, seed=50), _randn(4, 3, seed=51)
    t = torch.tensor([0, 10, 50, 99])
    labels, drop = torch.tensor([1, 2, 3, 0]), torch.tensor([True, False, False, True])
    x_t, shown, target = training_targets(x0, labels, t, noise, s.alphas_cumprod, drop, 10)
    torch.testing.assert_close(x_t, s.q_sample(x0, t, noise))
    assert shown.tolist() == [10, 2, 3, 10] and torch.equal(target, noise)
    assert training_targets(x0, None, t, noise, s.alphas_cumprod, None, None)[1] is None
    # diffusion_loss trains with any function of this signature, and is the MSE of its output
    calls, seen = [], {}

    def mine(*args):
        calls.append(args)
        return training_targets(*args)

    class Half(nn.Module):
        data_shape, num_classes, null_class = (3,), 4, 4

        def forward(self, x, steps, y=None):
            seen.update(x=x, t=steps, y=y)
            return 0.5 * x

    gen = torch.Generator().manual_seed(0)
    value = diffusion_loss(Half(), s, x0, torch.tensor([0, 1, 2, 3]), p_uncond=0.5,
                           generator=gen, targets=mine)
    args = calls[0]
    assert len(calls) == 1 and args[5].dtype == torch.bool and args[6] == 4
    want = ((0.5 * s.q_sample(x0, args[2], args[3]) - args[3]) ** 2).mean()
    assert value.item() == pytest.approx(want.item(), rel=1e-12)
    assert seen["y"].tolist() == torch.where(args[5], 4, torch.tensor([0, 1, 2, 3])).tolist()


def test_a_trained_2d_model_beats_a_gaussian_baseline(one_thread) -> None:
    """Train briefly on the ring of Gaussians; DDIM samples must be closer (MMD) to held-out
    data than samples of a Gaussian with the data's mean and covariance."""
    train = torch.as_tensor(toy2d.ring_of_gaussians(3000, std=0.1, seed=0))
    test = torch.as_tensor(toy2d.ring_of_gaussians(1000, std=0.1, seed=1))
    schedule = NoiseSchedule.cosine(200)
    model = MLPDenoiser(dim=2, hidden=64, n_blocks=2, seed=0)
    before = evaluate_loss(model, schedule, test)
    history = train_diffusion(model, schedule, train, steps=1500, batch_size=256, lr=3e-3,
                              seed=0, progress=False)
    assert history.steps == 1500 and not model.training
    assert evaluate_loss(model, schedule, test) < 0.8 * before
    samples = sample(model, DDIM(schedule), 1000, steps=50, seed=0, progress=False)
    chol = torch.linalg.cholesky(torch.cov(train.T))
    z = torch.randn(1000, 2, generator=torch.Generator().manual_seed(0))
    baseline = train.mean(0) + z @ chol.T
    ours, theirs = mmd_rbf(samples, test), mmd_rbf(baseline, test)
    assert ours < 0.5 * theirs, (ours, theirs)


def test_training_is_reproducible_and_checks_shapes(one_thread) -> None:
    x = torch.as_tensor(toy2d.moons(256, seed=0)[0])
    y = torch.as_tensor(toy2d.moons(256, seed=0)[1])
    schedule = NoiseSchedule.linear(50)
    runs = []
    for _ in range(2):
        model = MLPDenoiser(dim=2, hidden=16, n_blocks=1, num_classes=2, seed=1)
        train_diffusion(model, schedule, x, y, steps=20, batch_size=64, seed=2, progress=False)
        runs.append(model.out.weight.detach().clone())
    assert torch.equal(*runs)
    with pytest.raises(ValueError, match="x must be a tensor of shape"):
        train_diffusion(model, schedule, torch.zeros(4, 3), steps=1)
    with pytest.raises(ValueError, match="labels must have shape"):
        train_diffusion(model, schedule, x, y[:3], steps=1)


def test_mlp_denoiser_checks_inputs() -> None:
    model = MLPDenoiser(dim=2, hidden=8, n_blocks=1, num_classes=3, seed=0)
    t = torch.tensor([0, 5])
    assert model(torch.zeros(2, 2), t).shape == (2, 2)
    assert model(torch.zeros(2, 2), t, torch.tensor([0, 3])).shape == (2, 2)
    with pytest.raises(ValueError, match="labels must lie in 0..3"):
        model(torch.zeros(2, 2), t, torch.tensor([0, 4]))
    with pytest.raises(ValueError, match="x must have shape"):
        model(torch.zeros(2, 3), t)
    with pytest.raises(ValueError, match="hidden must be an int"):
        MLPDenoiser(hidden=0)


# -- the shipped checkpoint ------------------------------------------------------------------

def test_ddpm_digits_trainer_and_loader_round_trip(one_thread) -> None:
    payload = ddpm_digits.train(0, {"steps": 2, "channels": (8, 8), "emb_dim": 16, "T": 20})
    assert set(payload) == {"config", "state_dict", "extra", "metrics"}
    assert all(v.dtype == torch.float16 for v in payload["state_dict"].values()
               if v.is_floating_point())
    model = ddpm_digits.load(payload)
    assert model.schedule.T == 20 and model.num_classes == ddpm_digits.CONFIG["num_classes"]
    x = sample(model, DDIM(model.schedule), 3, steps=4, labels=[0, 1, 2], guidance_scale=2.0,
               seed=0, progress=False)
    assert x.shape == (3, 1, 8, 8) and torch.isfinite(x).all()


def test_shipped_ddpm_digits_draws_the_requested_digit_under_guidance(one_thread) -> None:
    """w = 3 guided samples are classified as the requested digit at least 80% of the time.
    Kept quick: 200 samples (20 per digit), DDIM with 50 steps, one seed."""
    model = load_pretrained("ddpm-digits")
    classifier = load_pretrained("digits-classifier")
    assert model.data_shape == (1, 8, 8) and model.num_classes == 10
    assert isinstance(model.schedule, NoiseSchedule)
    assert model.schedule.T == ddpm_digits.CONFIG["T"]
    labels = torch.arange(10).repeat_interleave(20)
    x = sample(model, DDIM(model.schedule, clip_x0=1.0), len(labels), steps=50, labels=labels,
               guidance_scale=3.0, seed=0, progress=False)
    assert x.shape == (200, 1, 8, 8) and x.abs().max() <= 1.0 + 1e-5
    acc = evaluate_accuracy(classifier, x, labels)
    assert acc >= 0.8, acc


def test_guidance_study_reports_accuracy_and_diversity(one_thread) -> None:
    model = load_pretrained("ddpm-digits")
    classifier = load_pretrained("digits-classifier")
    x, y = load_digits("train")
    rows = guidance_study(model, classifier, x, y, scales=(0.0, 3.0), per_class=3, steps=10,
                          seed=0)
    assert [r["w"] for r in rows] == [0.0, 3.0]
    assert rows[1]["accuracy"] > rows[0]["accuracy"]
    assert all(0 < r["diversity"] < 2 for r in rows)
    assert rows[0]["class_mmd"] > rows[1]["class_mmd"]  # unguided samples ignore the class
    assert rows[0]["samples"].shape == (30, 1, 8, 8)
    assert rows[0]["labels"].tolist()[:4] == [0, 0, 0, 1]
    # the same starting noise for every w: w only changes the path
    assert not torch.equal(rows[0]["samples"], rows[1]["samples"])


def test_sampling_study_measures_every_setting(one_thread) -> None:
    schedule = NoiseSchedule.cosine(100)
    model = GaussianDenoiser(schedule, torch.zeros(1, 2), std=1.0)
    reference = torch.randn(300, 2, generator=torch.Generator().manual_seed(0))
    rows = sampling_study(model, schedule, reference, n=300,
                          settings=(("ddpm", None), ("ddim", 10)), seed=0)
    assert [(r["sampler"], r["steps"]) for r in rows] == [("DDPM", 100), ("DDIM", 10)]
    assert all(r["seconds"] > 0 and abs(r["mmd"]) < 0.05 for r in rows)
    assert rows[0]["mmd"] == pytest.approx(mmd_rbf(rows[0]["samples"], reference))
    # the spacing and the clipping reach the sampler: trailing, clipped at 0.5, starts at T - 1
    trailing = sampling_study(model, schedule, reference, n=300, settings=(("ddim", 10),), seed=0,
                              spacing="trailing", clip_x0=0.5)[0]
    by_hand = sample(model, DDIM(schedule, clip_x0=0.5, spacing="trailing"), 300, steps=10, seed=0)
    torch.testing.assert_close(trailing["samples"], by_hand)
    assert not torch.allclose(trailing["samples"], rows[1]["samples"])


def test_mean_pairwise_distance() -> None:
    x = torch.tensor([[0.0, 0.0], [3.0, 4.0], [0.0, 0.0]])
    assert mean_pairwise_distance(x) == pytest.approx((5 + 0 + 5) / 3)
    assert mean_pairwise_distance(torch.ones(4, 1, 2, 2)) == 0.0
    with pytest.raises(ValueError, match="at least two"):
        mean_pairwise_distance(torch.ones(1, 3))


# -- widgets ---------------------------------------------------------------------------------

def test_diffusion_explorer_redraws_when_t_moves() -> None:
    schedule = NoiseSchedule.cosine(100)
    model = GaussianDenoiser(schedule, torch.zeros(3, 64), std=1.0)
    images = torch.zeros(2, 1, 8, 8)

    class Images(nn.Module):  # the Gaussian denoiser on flattened images
        def __init__(self):
            super().__init__()
            self.inner, self.schedule = model, schedule
            self.dummy = nn.Parameter(torch.zeros(()))

        def forward(self, x, t, labels=None):
            return self.inner(x.flatten(1), t, labels).reshape(x.shape)

    box = diffusion_explorer(Images(), images, torch.tensor([0, 1]))
    slider, caption, picture = box.children
    first, text = picture.value, caption.value
    assert first[:4] == b"\x89PNG" and "t = 25" in text
    slider.value = 90
    assert picture.value != first and "t = 90" in caption.value


def test_guidance_explorer_samples_each_scale_once() -> None:
    schedule = NoiseSchedule.cosine(20)
    means = torch.cat([torch.eye(64)[:10], torch.zeros(1, 64)])
    calls = []

    class Digits(nn.Module):
        data_shape, num_classes, null_class = (1, 8, 8), 10, 10

        def __init__(self):
            super().__init__()
            self.inner, self.schedule = GaussianDenoiser(schedule, means, std=0.5), schedule
            self.dummy = nn.Parameter(torch.zeros(()))

        def forward(self, x, t, labels=None):
            calls.append(len(x))
            return self.inner(x.flatten(1), t, labels).reshape(x.shape)

    box = guidance_explorer(Digits(), per_digit=2, steps=4)
    slider, caption, picture = box.children
    assert picture.value[:4] == b"\x89PNG" and "w = 1" in caption.value
    assert calls == [20] * 4  # w = 1: one conditional pass per step
    slider.value = 3.0
    assert "w = 3" in caption.value and calls[-1] == 40  # guided: both passes in one batch
    n = len(calls)
    slider.value = 1.0
    assert len(calls) == n  # cached


def test_img2img_strength_decides_how_much_of_the_image_survives() -> None:
    calls = []

    class Spy(GaussianDenoiser):
        def forward(self, x, t, labels=None):
            calls.append(int(t[0]))
            return super().forward(x, t, labels)

    schedule = NoiseSchedule.cosine(100)
    model = Spy(schedule, torch.tensor([[3.0, 3.0], [0.0, 0.0]]), std=0.5)
    images = torch.zeros(500, 2)
    ddim = DDIM(schedule)
    weak = img2img(model, ddim, images, 0.2, steps=10, labels=0, guidance_scale=1.0, seed=0)
    assert calls == ddim.timesteps(10)[-2:]  # the last round(0.2 * 10) = 2 steps
    strong = img2img(model, ddim, images, 1.0, steps=10, labels=0, guidance_scale=1.0, seed=0)
    # a little noise keeps the image near its start (0, 0); full strength moves it to class 0
    assert weak.mean().item() < 0.5 < 2.5 < strong.mean().item()
    assert torch.equal(weak, img2img(model, ddim, images, 0.2, steps=10, labels=0,
                                     guidance_scale=1.0, seed=0))
    with pytest.raises(ValueError, match="strength must lie in"):
        img2img(model, ddim, images, 0.0)
    with pytest.raises(ValueError, match="images must have shape"):
        img2img(model, ddim, torch.zeros(3, 5), 0.5)
