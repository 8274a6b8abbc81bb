"""Variational autoencoder (Kingma & Welling, "Auto-Encoding Variational Bayes", 2013).

Latent-variable model ``p(x) = int p(x | z) p(z) dz`` with prior ``p(z) = N(0, I)``,
Gaussian decoder ``p(x | z) = N(x; f(z), sigma^2 I)`` and Gaussian encoder
``q(z | x) = N(mu(x), diag exp(logvar(x)))``. Training maximises the evidence lower bound

    ELBO(x) = E_q[log p(x | z)] - KL(q(z | x) || p(z)) <= log p(x)        (K&W eq. 3)

with the reparameterisation ``z = mu + sigma * eps`` (K&W section 2.4) and the closed-form
Gaussian KL (K&W appendix B). The decoder's noise scale ``sigma`` is one learned scalar
(the "sigma-VAE" of Rybkin et al. 2021), which balances reconstruction against KL without
a hand-tuned beta; pass ``learn_scale=False`` to keep it fixed. Numbers are in nats per
example (a density on continuous data: for images quantised to a few levels, like the
digits, it can exceed 0 and is not a bits-per-pixel code length).

Used in: chapters 2 and 4 (latent diffusion's autoencoder, through diffusion.latent).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn as nn

from genai_course.core.layers import mlp, widths
from genai_course.core.train import History, fit
from genai_course.runtime import seeded


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``KL(N(mu, diag exp(logvar)) || N(0, I))`` summed over the last dimension
    (K&W 2013, appendix B): ``0.5 * sum(exp(logvar) + mu^2 - 1 - logvar)``."""
    if mu.shape != logvar.shape:
        raise ValueError(f"mu and logvar must have the same shape, got {tuple(mu.shape)} "
                         f"and {tuple(logvar.shape)}")
    return 0.5 * (logvar.exp() + mu.square() - 1.0 - logvar).sum(-1)


def reparameterize_with_noise(mu: torch.Tensor, logvar: torch.Tensor,
                              eps: torch.Tensor) -> torch.Tensor:
    """``z = mu + exp(0.5 logvar) * eps`` for a given standard normal draw ``eps`` (K&W 2013,
    section 2.4): differentiable in ``mu`` and ``logvar``."""
    if mu.shape != logvar.shape or eps.shape != mu.shape:
        raise ValueError(f"mu, logvar and eps must have the same shape, got {tuple(mu.shape)}, "
                         f"{tuple(logvar.shape)} and {tuple(eps.shape)}")
    return mu + (0.5 * logvar).exp() * eps


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """``z = mu + exp(0.5 logvar) * eps`` with ``eps ~ N(0, I)`` (K&W 2013, section 2.4):
    a sample of q(z | x) that is differentiable in ``mu`` and ``logvar``."""
    if mu.shape != logvar.shape:
        raise ValueError(f"mu and logvar must have the same shape, got {tuple(mu.shape)} "
                         f"and {tuple(logvar.shape)}")
    eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
    return reparameterize_with_noise(mu, logvar, eps)


def gaussian_nll(x: torch.Tensor, x_mean: torch.Tensor, log_scale: torch.Tensor) -> torch.Tensor:
    """``-log N(x; x_mean, s^2 I)`` per example in nats, summed over every non-batch
    dimension, with one scale ``s = exp(log_scale)``:
    ``sum((x - x_mean)^2) / (2 s^2) + D log s + D/2 log(2 pi)``."""
    d = math.prod(x.shape[1:])
    sq = (x - x_mean).square().flatten(1).sum(1)
    return 0.5 * sq * torch.exp(-2 * log_scale) + d * (log_scale + 0.5 * math.log(2 * math.pi))


def negative_elbo(x: torch.Tensor, x_mean: torch.Tensor, log_scale: torch.Tensor,
                  mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """The negative ELBO averaged over the batch (nats per example, 0-d): the Gaussian
    reconstruction NLL of ``x`` given the decoder mean ``x_mean`` (one sample of z) plus
    ``KL(q(z | x) || N(0, I))`` (K&W eq. 7 and appendix B)."""
    return (gaussian_nll(x, x_mean, log_scale) + gaussian_kl(mu, logvar)).mean()


def _conv_encoder(shape: tuple[int, ...], channels: tuple[int, ...], out: int) -> nn.Module:
    c, h, w = shape
    layers: list[nn.Module] = []
    for ch in channels:  # each layer halves the image: 8x8 -> 4x4 -> 2x2
        layers += [nn.Conv2d(c, ch, 3, stride=2, padding=1), nn.ReLU()]
        c, h, w = ch, h // 2, w // 2
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(c * h * w, out))


class _ConvDecoder(nn.Module):
    def __init__(self, shape: tuple[int, ...], channels: tuple[int, ...], latent_dim: int):
        super().__init__()
        c, h, w = shape
        f = 2 ** len(channels)
        self.start = (channels[-1], h // f, w // f)
        self.fc = nn.Sequential(nn.Linear(latent_dim, math.prod(self.start)), nn.ReLU())
        layers: list[nn.Module] = []
        for ch_in, ch_out in zip(channels[::-1], channels[::-1][1:] + (c,), strict=True):
            layers += [nn.ConvTranspose2d(ch_in, ch_out, 4, stride=2, padding=1), nn.ReLU()]
        self.deconv = nn.Sequential(*layers[:-1])  # no activation on the output mean

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.deconv(self.fc(z).view(-1, *self.start))


class VAE(nn.Module):
    """A VAE for data of shape ``data_shape``: ``(2,)`` for 2-D toy data, ``(1, 8, 8)`` for
    the digits (the seed's Encoder/Decoder, scaled down).

    ``conv=False``: MLP encoder and decoder; ``hidden`` are the hidden widths (encoder in
    this order, decoder reversed; default (256, 128)). ``conv=True`` (image shapes
    (C, H, W) with H and W divisible by 2**len(hidden)): stride-2 3x3 convolutions with
    ``hidden`` channels (default (32, 64)), mirrored by stride-2 transposed convolutions.
    The encoder outputs ``2 * latent_dim`` numbers (mu, logvar); the decoder outputs the
    Gaussian mean with no squashing. ``log_scale`` is log sigma of the decoder noise,
    learned when ``learn_scale``.
    """

    def __init__(self, data_shape: Sequence[int] = (1, 8, 8), latent_dim: int = 2,
                 hidden: int | Sequence[int] | None = None, conv: bool = False,
                 log_scale: float = 0.0, learn_scale: bool = True,
                 seed: int | None = None) -> None:
        super().__init__()
        self.data_shape = tuple(int(s) for s in data_shape)
        if not self.data_shape or any(s < 1 for s in self.data_shape):
            raise ValueError(f"data_shape must be positive sizes, got {data_shape!r}")
        if isinstance(latent_dim, bool) or not isinstance(latent_dim, int) or latent_dim < 1:
            raise ValueError(f"latent_dim must be an int >= 1, got {latent_dim!r}")
        self.latent_dim, self.conv = latent_dim, conv
        sizes = widths(hidden if hidden is not None else (32, 64) if conv else (256, 128))
        d = math.prod(self.data_shape)
        if conv:
            f = 2 ** len(sizes)
            if len(self.data_shape) != 3 or self.data_shape[1] % f or self.data_shape[2] % f:
                raise ValueError(f"conv=True needs data_shape (C, H, W) with H, W divisible by "
                                 f"{f} (2**len(hidden)), got {self.data_shape}")
        with seeded(seed):
            if conv:
                self.encoder = _conv_encoder(self.data_shape, sizes, 2 * latent_dim)
                self.decoder: nn.Module = _ConvDecoder(self.data_shape, sizes, latent_dim)
            else:
                self.encoder = nn.Sequential(nn.Flatten(), mlp((d, *sizes, 2 * latent_dim)))
                self.decoder = mlp((latent_dim, *sizes[::-1], d))
        self.log_scale = nn.Parameter(torch.tensor(float(log_scale)), requires_grad=learn_scale)

    def _check(self, x: torch.Tensor) -> None:
        if not isinstance(x, torch.Tensor) or tuple(x.shape[1:]) != self.data_shape:
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            shape = ", ".join(map(str, self.data_shape))
            raise ValueError(f"x must be a tensor of shape (N, {shape}), got {got}")

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Parameters of q(z | x): ``mu`` and ``logvar``, each (N, latent_dim)."""
        self._check(x)
        h = self.encoder(x)
        return h[:, : self.latent_dim], h[:, self.latent_dim :]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Mean of p(x | z), shape (N, *data_shape)."""
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must have shape (N, {self.latent_dim}), got {tuple(z.shape)}")
        return self.decoder(z).reshape(-1, *self.data_shape)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Encode, sample z by reparameterisation, decode: ``(x_mean, mu, logvar)``."""
        mu, logvar = self.encode(x)
        return self.decode(reparameterize(mu, logvar, generator)), mu, logvar

    def reconstruction_nll(self, x: torch.Tensor, x_mean: torch.Tensor) -> torch.Tensor:
        """``-log N(x; x_mean, sigma^2 I)`` per example (nats), see :func:`gaussian_nll`."""
        return gaussian_nll(x, x_mean, self.log_scale)

    def _parts(self, x: torch.Tensor, n_samples: int, generator: torch.Generator | None
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """Monte-Carlo reconstruction NLL (mean of ``n_samples`` draws) and exact KL."""
        if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 1:
            raise ValueError(f"n_samples must be an int >= 1, got {n_samples!r}")
        mu, logvar = self.encode(x)
        rec = torch.stack([self.reconstruction_nll(x, self.decode(
            reparameterize(mu, logvar, generator))) for _ in range(n_samples)]).mean(0)
        return rec, gaussian_kl(mu, logvar)

    def elbo(self, x: torch.Tensor, n_samples: int = 1,
             generator: torch.Generator | None = None) -> torch.Tensor:
        """Per-example ELBO in nats, shape (N,): ``E_q[log p(x | z)] - KL(q || p)``, the
        expectation estimated with ``n_samples`` reparameterised draws (K&W eq. 7)."""
        rec, kl = self._parts(x, n_samples, generator)
        return -rec - kl

    def loss(self, x: torch.Tensor, beta: float = 1.0, generator: torch.Generator | None = None
             ) -> tuple[torch.Tensor, dict[str, float]]:
        """Batch mean of ``reconstruction NLL + beta * KL`` (the negative ELBO when
        ``beta = 1``; beta-VAE of Higgins et al. 2017 otherwise), and its parts as floats:
        ``reconstruction``, ``kl``, ``elbo`` (nats per example) and ``sigma``."""
        rec, kl = self._parts(x, 1, generator)
        rec, kl = rec.mean(), kl.mean()
        parts = {"reconstruction": rec.item(), "kl": kl.item(), "elbo": -(rec + kl).item(),
                 "sigma": self.log_scale.exp().item()}
        return rec + beta * kl, parts

    @torch.no_grad()
    def log_likelihood(self, x: torch.Tensor, n_samples: int = 100,
                       generator: torch.Generator | None = None) -> torch.Tensor:
        """Importance-sampled estimate of log p(x) per example (Burda et al. 2016, IWAE):
        ``log 1/K sum_k p(x, z_k) / q(z_k | x)``, ``z_k ~ q(z | x)``. It is a lower bound
        that tightens to log p(x) as ``n_samples`` = K grows, and is >= the ELBO in
        expectation."""
        if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 1:
            raise ValueError(f"n_samples must be an int >= 1, got {n_samples!r}")
        mu, logvar = self.encode(x)
        log_w = []
        for _ in range(n_samples):
            z = reparameterize(mu, logvar, generator)
            log_pz = -0.5 * (z.square() + math.log(2 * math.pi)).sum(1)
            log_qz = -0.5 * ((z - mu).square() / logvar.exp() + logvar
                             + math.log(2 * math.pi)).sum(1)
            log_w.append(-self.reconstruction_nll(x, self.decode(z)) + log_pz - log_qz)
        return torch.logsumexp(torch.stack(log_w), 0) - math.log(n_samples)

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None,
               add_noise: bool = False) -> torch.Tensor:
        """``n`` decoded draws from the prior, (n, *data_shape): the decoder means, plus
        N(0, sigma^2) pixel noise when ``add_noise`` (usually noisier-looking images)."""
        device = self.log_scale.device
        z = torch.randn(n, self.latent_dim, generator=generator, device=device)
        x = self.decode(z)
        if add_noise:
            x = x + self.log_scale.exp() * torch.randn(x.shape, generator=generator,
                                                       device=device)
        return x

    @torch.no_grad()
    def interpolate(self, x_a: torch.Tensor, x_b: torch.Tensor, steps: int = 8
                    ) -> torch.Tensor:
        """Decode ``steps`` points on the straight line between the posterior means of
        ``x_a`` and ``x_b`` (single examples, with or without a batch dimension of 1);
        returns (steps, *data_shape), the first close to x_a and the last close to x_b."""
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 2:
            raise ValueError(f"steps must be an int >= 2, got {steps!r}")
        ends = []
        for x in (x_a, x_b):
            x = x.unsqueeze(0) if tuple(x.shape) == self.data_shape else x
            self._check(x)
            if len(x) != 1:
                raise ValueError(f"interpolate takes single examples, got a batch of {len(x)}")
            ends.append(self.encode(x)[0])
        t = torch.linspace(0, 1, steps, device=ends[0].device)[:, None]
        return self.decode((1 - t) * ends[0] + t * ends[1])


@torch.no_grad()
def evaluate_elbo(model: VAE, x: torch.Tensor, n_samples: int = 1, batch_size: int = 512,
                  seed: int = 0) -> float:
    """Mean ELBO over ``x`` in nats per example (held-out evaluation; seeded noise)."""
    device = model.log_scale.device
    generator = torch.Generator(device=device).manual_seed(seed)
    total = sum(model.elbo(x[i : i + batch_size].to(device), n_samples, generator).sum().item()
                for i in range(0, len(x), batch_size))
    return total / len(x)


def train_vae(model: VAE, x_train: torch.Tensor, steps: int, batch_size: int = 128,
              lr: float = 1e-3, seed: int = 0, beta: float = 1.0,
              progress: bool | None = None, *,
              negative_elbo_fn: Callable[..., torch.Tensor] | None = None,
              reparameterize_fn: Callable[..., torch.Tensor] | None = None,
              optimizer: torch.optim.Optimizer | None = None) -> History:
    """Adam on the negative ELBO (``beta``-weighted KL) for ``steps`` minibatches.

    Minibatch order and the reparameterisation noise come from generators seeded with
    ``seed``; seed the model's initialisation yourself (``torch.manual_seed``) for a fully
    reproducible run. Records ``loss``, ``reconstruction``, ``kl``, ``elbo``, ``sigma``.

    ``negative_elbo_fn(x, x_mean, log_scale, mu, logvar)`` (default :func:`negative_elbo`)
    and ``reparameterize_fn(mu, logvar, eps)`` (default :func:`reparameterize_with_noise`)
    replace the package's pieces, e.g. with a student's own (``beta`` must then be 1);
    ``loss`` is then what ``negative_elbo_fn`` returned, and the recorded parts are the
    package's. Pass the same ``optimizer`` to successive calls to train in chunks.
    """
    model._check(x_train)
    device = model.log_scale.device
    generator = torch.Generator(device=device).manual_seed(seed)
    if negative_elbo_fn is None and reparameterize_fn is None:
        def loss_fn(xb: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
            return model.loss(xb, beta=beta, generator=generator)
    else:
        if beta != 1.0:
            raise ValueError("beta applies to the package's loss only: with negative_elbo_fn "
                             "or reparameterize_fn, beta must be 1")
        objective = negative_elbo_fn or negative_elbo
        sample_z = reparameterize_fn or reparameterize_with_noise

        def loss_fn(xb: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
            mu, logvar = model.encode(xb)
            eps = torch.randn(mu.shape, generator=generator, device=device, dtype=mu.dtype)
            x_mean = model.decode(sample_z(mu, logvar, eps))
            loss = objective(xb, x_mean, model.log_scale, mu, logvar)
            with torch.no_grad():
                rec = model.reconstruction_nll(xb, x_mean).mean().item()
                kl = gaussian_kl(mu, logvar).mean().item()
            return loss, {"reconstruction": rec, "kl": kl, "elbo": -(rec + kl),
                          "sigma": model.log_scale.exp().item()}

    return fit(model, loss_fn, x_train, steps=steps, batch_size=batch_size, lr=lr, seed=seed,
               optimizer=optimizer, desc="VAE", progress=progress)
