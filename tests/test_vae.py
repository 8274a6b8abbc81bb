"""VAE: closed-form KL and reparameterisation against torch.distributions, the ELBO against
the exact marginal likelihood of a linear-Gaussian model, shapes, and a short training."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn
from torch.distributions import Independent, MultivariateNormal, Normal, kl_divergence

from genai_course.data.digits import load_digits
from genai_course.generative.vae import VAE, evaluate_elbo, gaussian_kl, reparameterize, train_vae


def test_gaussian_kl_matches_torch_distributions() -> None:
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
    q = Independent(Normal(mu, (0.5 * logvar).exp()), 1)
    p = Independent(Normal(torch.zeros(3), torch.ones(3)), 1)
    got = gaussian_kl(mu, logvar)
    assert got.shape == (5,)
    torch.testing.assert_close(got, kl_divergence(q, p))
    assert gaussian_kl(torch.zeros(2, 4), torch.zeros(2, 4)).abs().max() == 0
    with pytest.raises(ValueError, match="same shape"):
        gaussian_kl(torch.zeros(2, 3), torch.zeros(2, 4))


def test_reparameterize_moments_and_gradients() -> None:
    mu = torch.tensor([1.0, -2.0], requires_grad=True)
    logvar = torch.tensor([0.0, math.log(0.25)], requires_grad=True)
    g = torch.Generator().manual_seed(0)
    z = reparameterize(mu.expand(20000, 2), logvar.expand(20000, 2), generator=g)
    torch.testing.assert_close(z.mean(0), torch.tensor([1.0, -2.0]), atol=0.03, rtol=0)
    torch.testing.assert_close(z.var(0), torch.tensor([1.0, 0.25]), atol=0.03, rtol=0)
    z.sum().backward()
    assert mu.grad is not None and logvar.grad is not None
    torch.testing.assert_close(mu.grad, torch.full((2,), 20000.0))  # dz/dmu = 1
    assert logvar.grad.abs().min() > 0
    # same generator state, same sample
    a = reparameterize(torch.zeros(3), torch.zeros(3), torch.Generator().manual_seed(1))
    b = reparameterize(torch.zeros(3), torch.zeros(3), torch.Generator().manual_seed(1))
    assert torch.equal(a, b)


@pytest.mark.parametrize("conv", [False, True])
def test_shapes_of_every_method(conv: bool) -> None:
    torch.manual_seed(0)
    model = VAE((1, 8, 8), latent_dim=3, hidden=(8, 16) if conv else (32, 16), conv=conv)
    x = torch.randn(5, 1, 8, 8)
    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (5, 3)
    assert model.decode(mu).shape == (5, 1, 8, 8)
    x_mean, mu2, _ = model(x)
    assert x_mean.shape == (5, 1, 8, 8) and torch.equal(mu, mu2)
    assert model.elbo(x).shape == (5,) and model.elbo(x, n_samples=3).dtype == torch.float32
    loss, parts = model.loss(x)
    assert loss.ndim == 0 and set(parts) >= {"reconstruction", "kl"}
    assert model.sample(4).shape == (4, 1, 8, 8)
    assert model.sample(4, add_noise=True).shape == (4, 1, 8, 8)
    assert model.interpolate(x[0], x[1:2], steps=6).shape == (6, 1, 8, 8)
    assert model.log_likelihood(x, n_samples=4).shape == (5,)


def test_two_d_variant_and_bad_inputs() -> None:
    model = VAE((2,), latent_dim=2, hidden=16)
    assert model.sample(3).shape == (3, 2)
    with pytest.raises(ValueError, match=r"shape \(N, 2\)"):
        model.encode(torch.zeros(3, 3))
    with pytest.raises(ValueError, match="z must have shape"):
        model.decode(torch.zeros(3, 5))
    with pytest.raises(ValueError, match="single examples"):
        model.interpolate(torch.zeros(2, 2), torch.zeros(1, 2))
    with pytest.raises(ValueError, match="divisible"):
        VAE((1, 6, 6), conv=True, hidden=(8, 8))
    with pytest.raises(ValueError, match="hidden"):
        VAE((2,), hidden=0)


def test_loss_parts_add_up_to_the_elbo() -> None:
    torch.manual_seed(0)
    model = VAE((1, 8, 8), latent_dim=2, hidden=(32,))
    x = load_digits("test")[0][:16]
    loss, parts = model.loss(x, generator=torch.Generator().manual_seed(3))
    elbo = model.elbo(x, generator=torch.Generator().manual_seed(3))  # same noise
    assert loss.item() == pytest.approx(parts["reconstruction"] + parts["kl"], rel=1e-6)
    assert elbo.mean().item() == pytest.approx(-(parts["reconstruction"] + parts["kl"]),
                                               rel=1e-6)
    assert parts["elbo"] == pytest.approx(elbo.mean().item(), rel=1e-6)
    beta_loss, _ = model.loss(x, beta=0.1, generator=torch.Generator().manual_seed(3))
    assert beta_loss.item() == pytest.approx(parts["reconstruction"] + 0.1 * parts["kl"],
                                             rel=1e-6)


def _linear_gaussian_vae(exact_posterior: bool) -> tuple[VAE, MultivariateNormal]:
    """p(z) = N(0, I), p(x | z) = N(W z + b, s^2 I) with orthogonal columns of W, so the
    exact posterior is diagonal and q can equal it; p(x) = N(b, W W^T + s^2 I)."""
    W, b, s = torch.tensor([[2.0, 0.0], [0.0, 0.5]]), torch.tensor([0.3, -1.0]), 0.4
    model = VAE((2,), latent_dim=2, hidden=4, log_scale=math.log(s), learn_scale=False)
    model.decoder = nn.Linear(2, 2)
    enc = nn.Linear(2, 4)
    S = torch.linalg.inv(torch.eye(2) + W.T @ W / s**2)  # posterior covariance (diagonal)
    A = S @ W.T / s**2  # posterior mean = A (x - b)
    with torch.no_grad():
        model.decoder.weight.copy_(W)
        model.decoder.bias.copy_(b)
        enc.weight.zero_()
        enc.bias.zero_()
        if exact_posterior:
            enc.weight[:2] = A
            enc.bias[:2] = -A @ b
            enc.bias[2:] = S.diagonal().log()
    model.encoder = enc
    return model, MultivariateNormal(b, W @ W.T + s**2 * torch.eye(2))


def test_elbo_is_exact_for_the_true_posterior_and_a_bound_otherwise() -> None:
    x = torch.tensor([[0.0, 0.0], [1.0, -1.5], [-2.0, 0.5]])
    model, marginal = _linear_gaussian_vae(exact_posterior=True)
    log_px = marginal.log_prob(x)
    g = torch.Generator().manual_seed(0)
    # with q = p(z | x) the ELBO equals log p(x) (KL(q || p(z | x)) = 0), up to the Monte
    # Carlo error of its reconstruction term ...
    torch.testing.assert_close(model.elbo(x, 4000, g), log_px, atol=0.05, rtol=0)
    # ... and each importance weight p(x, z) / q(z | x) equals p(x): IWAE is exact
    torch.testing.assert_close(model.log_likelihood(x, 3, g), log_px, atol=1e-4, rtol=0)
    # a worse q (the prior): the ELBO is strictly below log p(x), IWAE closes most of the gap
    model, _ = _linear_gaussian_vae(exact_posterior=False)
    elbo = model.elbo(x, n_samples=2000, generator=g)
    iwae = model.log_likelihood(x, n_samples=5000, generator=g)
    assert (elbo < log_px - 0.1).all()
    assert (iwae > elbo).all() and (iwae <= log_px + 0.05).all()
    assert ((log_px - iwae) < 0.3 * (log_px - elbo)).all()


def test_short_training_improves_held_out_elbo_and_is_seeded(one_thread: None) -> None:
    x_train, x_test = load_digits("train")[0], load_digits("test")[0]

    def fit(seed: int) -> tuple[VAE, list[float]]:
        torch.manual_seed(seed)
        model = VAE((1, 8, 8), latent_dim=2, hidden=(128, 64))
        history = train_vae(model, x_train, steps=250, batch_size=64, lr=2e-3, seed=seed,
                            progress=False)
        return model, history["loss"]

    torch.manual_seed(0)
    before = evaluate_elbo(VAE((1, 8, 8), latent_dim=2, hidden=(128, 64)), x_test)
    model, losses = fit(0)
    after = evaluate_elbo(model, x_test)
    assert after > before + 25  # nats per image; about -82 -> -45 in practice
    assert sum(losses[-20:]) < sum(losses[:20])
    model2, losses2 = fit(0)
    assert losses2 == losses
    for p, q in zip(model.parameters(), model2.parameters(), strict=True):
        assert torch.equal(p, q)
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    assert torch.equal(model.sample(3, generator=g1), model2.sample(3, generator=g2))
    # interpolation starts and ends near the two reconstructions
    a, b = x_test[0], x_test[1]
    path = model.interpolate(a, b, steps=5)
    torch.testing.assert_close(path[0], model.decode(model.encode(a[None])[0])[0])
    torch.testing.assert_close(path[-1], model.decode(model.encode(b[None])[0])[0])


def test_negative_elbo_matches_torch_distributions() -> None:
    """-ELBO = -log N(x; x_mean, s^2 I) summed over pixels + KL, averaged over the batch,
    against torch.distributions in float64."""
    from genai_course.generative.vae import negative_elbo, reparameterize_with_noise

    g = torch.Generator().manual_seed(0)
    x, x_mean = (torch.randn(3, 1, 2, 2, generator=g, dtype=torch.float64) for _ in range(2))
    mu, logvar = (torch.randn(3, 2, generator=g, dtype=torch.float64) for _ in range(2))
    log_scale = torch.tensor(-0.4, dtype=torch.float64)
    rec = -Normal(x_mean, log_scale.exp()).log_prob(x).flatten(1).sum(1)
    kl = kl_divergence(Independent(Normal(mu, (logvar / 2).exp()), 1),
                       Independent(Normal(torch.zeros_like(mu), torch.ones_like(mu)), 1))
    torch.testing.assert_close(negative_elbo(x, x_mean, log_scale, mu, logvar), (rec + kl).mean())
    eps = torch.randn(3, 2, generator=g, dtype=torch.float64)
    torch.testing.assert_close(reparameterize_with_noise(mu, logvar, eps),
                               mu + logvar.mul(0.5).exp() * eps)


def test_train_vae_with_given_pieces_matches_the_default(one_thread: None) -> None:
    """The package's pieces passed in as functions (as a student's would be) train exactly
    like the default loss; beta applies to the default loss only."""
    from genai_course.generative.vae import negative_elbo, reparameterize_with_noise

    x = torch.randn(64, 2, generator=torch.Generator().manual_seed(0))
    runs = []
    for kwargs in ({}, {"negative_elbo_fn": negative_elbo,
                        "reparameterize_fn": reparameterize_with_noise}):
        model = VAE(data_shape=(2,), latent_dim=2, hidden=(8,), seed=0)
        hist = train_vae(model, x, steps=4, batch_size=16, seed=0, progress=False, **kwargs)
        runs.append((hist["loss"], hist["kl"], hist["elbo"]))
    for a, b in zip(*runs, strict=True):
        assert a == pytest.approx(b, rel=1e-5)
    with pytest.raises(ValueError, match="beta"):
        train_vae(VAE(data_shape=(2,), latent_dim=2, hidden=(8,), seed=0), x, steps=1,
                  beta=0.5, negative_elbo_fn=negative_elbo)
