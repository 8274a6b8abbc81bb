"""Generative adversarial networks (Goodfellow et al., "Generative Adversarial Nets", 2014).

A generator G maps noise z ~ N(0, I) to data space; a discriminator D outputs a logit l
with D(x) = sigmoid(l), the probability that x is real. They play

    min_G max_D  E_x[log D(x)] + E_z[log(1 - D(G(z)))]                   (Goodfellow eq. 1)

All losses here take logits and use ``-log sigmoid(l) = softplus(-l)`` and
``-log(1 - sigmoid(l)) = softplus(l)``, so they stay finite for any logit.

Mode collapse, measured on ``ring_of_gaussians(k=8, std=0.05)`` (see :data:`MODE_COLLAPSE_DEMO`):
with a 16-dimensional z, G and D = MLPs (128, 128), Adam(2e-4, betas (0.5, 0.999)), batch
128 and 6,000 steps, the non-saturating loss collapses to one blob that hops between (and
mostly off) the modes in every seed tried, while adding ``minibatch_std=True`` to D, or
using the saturating loss, covers all 8 modes. The non-saturating gradient follows
``KL(p_g || p_data) - 2 JSD`` (Arjovsky & Bottou 2017, theorem 2.5), and the reverse KL is
mode-seeking. With a 2-dimensional z all variants cover the ring.

Used in: chapters 2 and 10 (generated-image detection).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from genai_course.core.layers import mlp, widths
from genai_course.core.train import History, minibatches, run
from genai_course.runtime import seeded

G_LOSSES = ("non_saturating", "saturating")

#: The settings under which :func:`train_gan` shows mode collapse on the 8-mode ring (about
#: 20-30 s on one CPU thread): the non-saturating loss collapses, ``minibatch_std=True``
#: in D (or ``g_loss="saturating"``) recovers all modes.
MODE_COLLAPSE_DEMO = {"latent_dim": 16, "hidden": (128, 128), "steps": 6000,
                      "batch_size": 128, "lr": 2e-4, "g_loss": "non_saturating",
                      "ring": {"k": 8, "radius": 2.0, "std": 0.05, "n": 10000}}


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """``L_D = -E[log D(x)] - E[log(1 - D(G(z)))]`` (the seed's formula; Goodfellow eq. 1
    negated), from logits: ``mean(softplus(-real)) + mean(softplus(fake))``."""
    for name, t in (("real_logits", real_logits), ("fake_logits", fake_logits)):
        if not isinstance(t, torch.Tensor) or t.numel() == 0:
            raise ValueError(f"{name} must be a non-empty tensor of logits")
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_loss(fake_logits: torch.Tensor, kind: str = "non_saturating") -> torch.Tensor:
    """Generator loss to minimise, from the logits of D on generated samples.

    ``"saturating"``: ``E[log(1 - D(G(z)))] = -mean(softplus(l))``, the minimax game
    itself; its gradient ``-sigmoid(l)`` vanishes when D confidently rejects the fakes
    (l -> -inf), i.e. early in training. ``"non_saturating"``: ``-E[log D(G(z))] =
    mean(softplus(-l))``, the heuristic of Goodfellow 2014 section 3; same fixed point,
    gradient ``-sigmoid(-l)`` -> -1 there.
    """
    if not isinstance(fake_logits, torch.Tensor) or fake_logits.numel() == 0:
        raise ValueError("fake_logits must be a non-empty tensor of logits")
    if kind == "saturating":
        return -F.softplus(fake_logits).mean()
    if kind == "non_saturating":
        return F.softplus(-fake_logits).mean()
    raise ValueError(f"kind must be one of {G_LOSSES}, got {kind!r}")


class MLPGenerator(nn.Module):
    """G: z (N, latent_dim) -> x (N, *data_shape) through an MLP with ReLUs; ``tanh=True``
    squashes the output to [-1, 1] (for the digits)."""

    def __init__(self, data_shape: Sequence[int] = (2,), latent_dim: int = 2,
                 hidden: int | Sequence[int] = (128, 128), tanh: bool = False,
                 seed: int | None = None) -> None:
        super().__init__()
        self.data_shape, self.latent_dim = tuple(int(s) for s in data_shape), int(latent_dim)
        if self.latent_dim < 1 or not self.data_shape or min(self.data_shape) < 1:
            raise ValueError(f"need latent_dim >= 1 and positive data_shape, got "
                             f"{latent_dim!r}, {data_shape!r}")
        out = math.prod(self.data_shape)
        with seeded(seed):
            self.net = mlp((self.latent_dim, *widths(hidden), out))
        self.tanh = tanh

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must have shape (N, {self.latent_dim}), got {tuple(z.shape)}")
        x = self.net(z)
        return (torch.tanh(x) if self.tanh else x).reshape(-1, *self.data_shape)

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` samples G(z), z ~ N(0, I)."""
        device = next(self.parameters()).device
        return self(torch.randn(n, self.latent_dim, generator=generator, device=device))


def minibatch_stddev(h: torch.Tensor, group_size: int | None = None) -> torch.Tensor:
    """Karras et al. 2018 (ProGAN, section 3): the standard deviation of each feature over
    a group of samples, averaged over features, one number per group, broadcast to every
    member: (N, F) -> (N, 1). A collapsed generator makes it small, so D can tell a batch
    of fakes from a batch of real data. ``group_size=None`` uses the whole batch; N must
    be a multiple of the group size."""
    n = h.shape[0]
    g = n if group_size is None else min(group_size, n)
    if n % g:
        raise ValueError(f"batch size {n} is not a multiple of group_size {g}")
    if g < 2:
        return h.new_zeros(n, 1)
    groups = h.reshape(n // g, g, -1)  # member i of group j is row j * g + i
    std = (groups.var(dim=1, unbiased=False) + 1e-8).sqrt().mean(1)  # (n // g,)
    return std.repeat_interleave(g)[:, None]


class MLPDiscriminator(nn.Module):
    """D: x (N, *data_shape) -> logits (N,) through an MLP with LeakyReLU(0.2).

    ``minibatch_std=True`` appends :func:`minibatch_stddev` of the last hidden features
    (over groups of ``group_size``, default the whole batch) before the output layer, a
    mode-collapse mitigation (Karras et al. 2018). D's output for one example then
    depends on the rest of its batch: feed real and fake batches separately.
    """

    def __init__(self, data_shape: Sequence[int] = (2,), hidden: int | Sequence[int] = (128, 128),
                 minibatch_std: bool = False, group_size: int | None = None,
                 seed: int | None = None) -> None:
        super().__init__()
        self.data_shape = tuple(int(s) for s in data_shape)
        hidden_widths = widths(hidden)
        with seeded(seed):
            self.body = nn.Sequential(nn.Flatten(), mlp((math.prod(self.data_shape),
                                                         *hidden_widths), activation=_leaky),
                                      _leaky())
            self.head = nn.Linear(hidden_widths[-1] + int(minibatch_std), 1)
        self.minibatch_std, self.group_size = minibatch_std, group_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[1:]) != self.data_shape:
            raise ValueError(f"x must have shape (N, {', '.join(map(str, self.data_shape))}), "
                             f"got {tuple(x.shape)}")
        h = self.body(x)
        if self.minibatch_std:
            h = torch.cat([h, minibatch_stddev(h, self.group_size)], dim=1)
        return self.head(h).squeeze(1)


def _leaky() -> nn.Module:
    return nn.LeakyReLU(0.2)


def train_gan(G: MLPGenerator, D: MLPDiscriminator, x_train: torch.Tensor, steps: int,
              batch_size: int = 128, lr: float = 2e-4, seed: int = 0,
              g_loss: str | Callable[[torch.Tensor], torch.Tensor] = "non_saturating",
              betas: tuple[float, float] = (0.5, 0.999), progress: bool | None = None,
              optimizers: tuple[torch.optim.Optimizer, torch.optim.Optimizer] | None = None,
              d_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = discriminator_loss
              ) -> History:
    """Alternate one D step and one G step (Goodfellow 2014, algorithm 1 with k = 1), Adam
    for both (``betas`` from Radford et al. 2016, DCGAN).

    Records per step: ``d_loss``, ``g_loss``, ``d_real`` = mean D(x) and ``d_fake`` = mean
    D(G(z)) (both before the D update). Minibatch order and z come from generators seeded
    with ``seed``; seed the networks' initialisation yourself for a reproducible run.
    To train in chunks (e.g. to plot samples as training goes) without resetting Adam,
    pass the same ``optimizers`` = (opt_G, opt_D) to every call (and a new seed per chunk);
    ``lr`` and ``betas`` are then ignored.

    ``g_loss`` is one of :data:`G_LOSSES` or a function ``fake_logits -> loss``; ``d_loss`` a
    function ``(real_logits, fake_logits) -> loss`` (default :func:`discriminator_loss`), so
    a student's own losses can train the networks.
    """
    if isinstance(g_loss, str):
        if g_loss not in G_LOSSES:
            raise ValueError(f"g_loss must be one of {G_LOSSES} or a function, got {g_loss!r}")
        kind = g_loss

        def g_loss_fn(logits: torch.Tensor) -> torch.Tensor:
            return generator_loss(logits, kind)
    elif callable(g_loss):
        g_loss_fn = g_loss
    else:
        raise TypeError(f"g_loss must be one of {G_LOSSES} or a function, got {g_loss!r}")
    if not callable(d_loss):
        raise TypeError(f"d_loss must be a function (real_logits, fake_logits) -> loss, "
                        f"got {d_loss!r}")
    device = next(G.parameters()).device
    if tuple(x_train.shape[1:]) != D.data_shape:
        raise ValueError(f"x_train must have shape (N, {', '.join(map(str, D.data_shape))}), "
                         f"got {tuple(x_train.shape)}")
    if G.data_shape != D.data_shape:
        raise ValueError(f"G makes {G.data_shape}, D reads {D.data_shape}")
    if optimizers is None:
        optimizers = (torch.optim.Adam(G.parameters(), lr=lr, betas=betas),
                      torch.optim.Adam(D.parameters(), lr=lr, betas=betas))
    opt_g, opt_d = optimizers
    generator = torch.Generator(device=device).manual_seed(seed)
    G.train()
    D.train()

    def step(real: torch.Tensor) -> dict[str, float]:
        z = torch.randn(len(real), G.latent_dim, generator=generator, device=device)
        fake = G(z)
        real_logits, fake_logits = D(real), D(fake.detach())
        loss_d = d_loss(real_logits, fake_logits)
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        loss_g = g_loss_fn(D(fake))
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        return {"d_loss": loss_d.item(), "g_loss": loss_g.item(),
                "d_real": torch.sigmoid(real_logits).mean().item(),
                "d_fake": torch.sigmoid(fake_logits).mean().item()}

    batches = minibatches(x_train, batch_size=batch_size, seed=seed, device=device)
    return run(step, batches, steps, desc="GAN", progress=progress)
