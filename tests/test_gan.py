"""GAN losses against references and their gradients, minibatch stddev, and a tiny training."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from genai_course.generative.gan import (
    MLPDiscriminator,
    MLPGenerator,
    discriminator_loss,
    generator_loss,
    minibatch_stddev,
    train_gan,
)


def test_discriminator_loss_matches_bce_and_the_naive_formula() -> None:
    g = torch.Generator().manual_seed(0)
    real, fake = 3 * torch.randn(64, generator=g), 3 * torch.randn(32, generator=g)
    got = discriminator_loss(real, fake)
    bce = (F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
           + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))
    torch.testing.assert_close(got, bce)
    d_real, d_fake = torch.sigmoid(real), torch.sigmoid(fake)
    naive = -torch.log(d_real).mean() - torch.log(1 - d_fake).mean()
    torch.testing.assert_close(got, naive, rtol=1e-5, atol=1e-6)
    # a discriminator that cannot tell (logit 0, D = 1/2) pays 2 log 2
    assert discriminator_loss(torch.zeros(4), torch.zeros(4)).item() == pytest.approx(
        2 * torch.log(torch.tensor(2.0)).item())


def test_losses_stay_finite_at_extreme_logits() -> None:
    big = torch.tensor([100.0, -100.0], requires_grad=True)
    for loss in (discriminator_loss(big, big), generator_loss(big, "saturating"),
                 generator_loss(big, "non_saturating")):
        assert torch.isfinite(loss)
        (grad,) = torch.autograd.grad(loss, big)
        assert torch.isfinite(grad).all()
    # the naive formula is not: log(1 - sigmoid(100)) = log(0) in float32
    assert not torch.isfinite(torch.log(1 - torch.sigmoid(torch.tensor(100.0))))
    assert discriminator_loss(torch.tensor([100.0]), torch.tensor([-100.0])).item() < 1e-30
    assert discriminator_loss(torch.tensor([-100.0]), torch.tensor([100.0])).item() == 200.0


def test_generator_losses_match_their_formulas() -> None:
    fake = torch.linspace(-4, 4, 9)
    d = torch.sigmoid(fake)
    torch.testing.assert_close(generator_loss(fake, "saturating"), torch.log(1 - d).mean())
    torch.testing.assert_close(generator_loss(fake, "non_saturating"), -torch.log(d).mean())
    torch.testing.assert_close(generator_loss(fake), -torch.log(d).mean())  # the default
    with pytest.raises(ValueError, match="kind must be one of"):
        generator_loss(fake, "wasserstein")


def test_saturating_gradient_vanishes_where_the_non_saturating_one_does_not() -> None:
    # Early in training D rejects the fakes: D(G(z)) = sigmoid(-10) ~ 4.5e-5.
    def grad(kind: str) -> float:
        logit = torch.tensor([-10.0], requires_grad=True)
        (g,) = torch.autograd.grad(generator_loss(logit, kind), logit)
        return g.abs().item()

    saturating, non_saturating = grad("saturating"), grad("non_saturating")
    assert saturating == pytest.approx(torch.sigmoid(torch.tensor(-10.0)).item(), rel=1e-4)
    assert non_saturating == pytest.approx(1.0, abs=1e-4)
    assert non_saturating > 1e4 * saturating
    # both push D(G(z)) up: the loss decreases as the logit grows
    for kind in ("saturating", "non_saturating"):
        assert generator_loss(torch.tensor([1.0]), kind) < generator_loss(torch.tensor([0.0]), kind)


def test_minibatch_stddev() -> None:
    h = torch.tensor([[0.0, 1.0], [2.0, 1.0], [0.0, 5.0], [0.0, 5.0]])
    whole = minibatch_stddev(h)  # feature stds over the batch: sqrt(0.75), 2 -> mean
    expected = ((0.75 + 1e-8) ** 0.5 + (4 + 1e-8) ** 0.5) / 2
    torch.testing.assert_close(whole, torch.full((4, 1), expected))
    pairs = minibatch_stddev(h, group_size=2)  # groups {0, 1}: (1 + 0) / 2; {2, 3}: 0
    torch.testing.assert_close(pairs, torch.tensor([[0.5], [0.5], [0.0], [0.0]]), atol=2e-4,
                               rtol=0)
    with pytest.raises(ValueError, match="multiple"):
        minibatch_stddev(h[:3], group_size=2)
    assert torch.equal(minibatch_stddev(h[:1]), torch.zeros(1, 1))


def test_networks_shapes_and_validation() -> None:
    torch.manual_seed(0)
    G = MLPGenerator((1, 8, 8), latent_dim=4, hidden=16, tanh=True)
    D = MLPDiscriminator((1, 8, 8), hidden=(16, 8), minibatch_std=True)
    x = G.sample(5)
    assert x.shape == (5, 1, 8, 8) and x.abs().max() <= 1
    assert D(x).shape == (5,)
    G2, D2 = MLPGenerator(), MLPDiscriminator()
    assert G2.sample(3).shape == (3, 2) and D2(torch.zeros(3, 2)).shape == (3,)
    with pytest.raises(ValueError, match="z must have shape"):
        G2(torch.zeros(3, 5))
    with pytest.raises(ValueError, match=r"x must have shape \(N, 2\)"):
        D2(torch.zeros(3, 3))
    with pytest.raises(ValueError, match="g_loss"):
        train_gan(G2, D2, torch.zeros(8, 2), steps=1, g_loss="hinge")
    with pytest.raises(ValueError, match="x_train"):
        train_gan(G2, D2, torch.zeros(8, 3), steps=1)
    # with minibatch stddev D sees the spread of the whole batch
    torch.manual_seed(0)
    D3 = MLPDiscriminator(hidden=8, minibatch_std=True)
    x = torch.randn(6, 2)
    assert not torch.allclose(D3(x)[:3], D3(x[:3]))


def test_tiny_training_moves_the_generator_to_the_data_and_is_seeded(one_thread: None) -> None:
    target = torch.tensor([2.0, -1.0])
    x = target + 0.3 * torch.randn(512, 2, generator=torch.Generator().manual_seed(0))

    def fit(seed: int) -> tuple[MLPGenerator, dict[str, list[float]]]:
        torch.manual_seed(seed)
        G, D = MLPGenerator(hidden=32), MLPDiscriminator(hidden=32)
        history = train_gan(G, D, x, steps=300, batch_size=64, lr=2e-3, seed=seed,
                            progress=False)
        return G, history.values

    torch.manual_seed(0)
    start = MLPGenerator(hidden=32).sample(1000, generator=torch.Generator().manual_seed(1)).mean(0)
    G, values = fit(0)
    end = G.sample(1000, generator=torch.Generator().manual_seed(1)).mean(0)
    assert (end - target).norm() < 0.3 * (start - target).norm()
    assert set(values) == {"d_loss", "g_loss", "d_real", "d_fake"}
    assert all(0 <= v <= 1 for v in values["d_real"] + values["d_fake"])
    G2, values2 = fit(0)
    assert values2 == values
    assert all(torch.equal(p, q) for p, q in zip(G.parameters(), G2.parameters(), strict=True))


def test_training_in_chunks_keeps_the_optimizers_and_runs_on_digit_shapes() -> None:
    torch.manual_seed(0)
    G = MLPGenerator((1, 8, 8), latent_dim=4, hidden=16, tanh=True)
    D = MLPDiscriminator((1, 8, 8), hidden=16, minibatch_std=True)
    opts = (torch.optim.Adam(G.parameters(), lr=1e-3), torch.optim.Adam(D.parameters(), lr=1e-3))
    x = torch.rand(64, 1, 8, 8) * 2 - 1
    train_gan(G, D, x, steps=3, batch_size=16, seed=0, progress=False, optimizers=opts)
    train_gan(G, D, x, steps=2, batch_size=16, seed=1, progress=False, optimizers=opts)
    assert all(s["step"].item() == 5 for s in opts[0].state.values())  # Adam kept counting
    with pytest.raises(ValueError, match="G makes"):
        train_gan(MLPGenerator(), D, x, steps=1)


def test_train_gan_with_loss_functions_matches_the_named_loss() -> None:
    """Losses passed as functions (as a student's would be) train exactly like the
    package's named ones; a bad g_loss is refused."""
    def trained(**losses):
        torch.manual_seed(0)
        G, D = MLPGenerator(latent_dim=2, hidden=(8,)), MLPDiscriminator(hidden=(8,))
        x = torch.randn(64, 2, generator=torch.Generator().manual_seed(1))
        hist = train_gan(G, D, x, steps=5, batch_size=16, seed=0, progress=False, **losses)
        return hist["d_loss"] + hist["g_loss"]

    assert trained() == trained(g_loss=lambda logits: generator_loss(logits, "non_saturating"),
                                d_loss=lambda r, f: discriminator_loss(r, f))
    saturating = trained(g_loss=lambda logits: generator_loss(logits, "saturating"))
    assert trained(g_loss="saturating") == saturating
    with pytest.raises(TypeError, match="g_loss"):
        trained(g_loss=3)
