"""Energy-based models, Langevin sampling and score matching.

An energy-based model defines ``p(x) = exp(-E(x)) / Z`` with an intractable ``Z``. The
*score* ``grad_x log p(x) = -grad_x E(x)`` does not depend on ``Z``, and it is all that
Langevin dynamics needs to draw samples (unadjusted Langevin algorithm; Welling & Teh 2011,
Song & Ermon 2019 eq. 2)::

    x_{t+1} = x_t + (eps / 2) * grad log p(x_t) + sqrt(eps) * z_t,    z_t ~ N(0, I)

Two sources of scores live here:

* :class:`GaussianMixtureEnergy`, an analytic energy with a closed-form score (the ground
  truth, including the exact score of the noise-perturbed mixture);
* :class:`ScoreNet`, a noise-conditional score network ``s(x, sigma)`` learned by
  denoising score matching (Vincent 2011; Song & Ermon 2019, "NCSN"). With
  ``x~ = x + sigma * eps`` the DSM target is ``grad log q(x~ | x) = -(x~ - x) / sigma^2
  = -eps / sigma``, and the loss (Song & Ermon 2019 eq. 5-6, weight ``lambda = sigma^2``)::

      l(sigma) = 1/2 E || sigma * s(x~, sigma) + eps ||^2

  Its minimiser is the score of the *perturbed* data density ``p_sigma = p * N(0, sigma^2 I)``.
  :func:`annealed_langevin` (Song & Ermon 2019, Alg. 1) samples by running Langevin at a
  decreasing sequence of noise levels, which crosses the low-density gaps between modes
  that plain Langevin cannot.

Connection to diffusion models (Chapter 4). Write the network's output as
``s(x~, sigma) = -eps_hat(x~, sigma) / sigma``. Then the DSM loss becomes
``1/2 E || eps - eps_hat(x + sigma eps, sigma) ||^2``: exactly DDPM's epsilon-prediction
loss (Ho et al. 2020, eq. 14). In DDPM's variance-preserving parameterisation
``x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps``, so the score of ``x_t`` is
``-eps_theta(x_t, t) / sqrt(1 - abar_t)``: a noise-conditional score network and an
epsilon-prediction network are the same model up to a ``-1 / sigma`` scaling, and DDPM's
sampler is a discretised, annealed Langevin-like process (Song et al. 2021, score SDEs).
:class:`ScoreNet` is built this way: an MLP predicts ``-eps`` and is divided by ``sigma``.

Used in: chapter 2 (and, through the score/diffusion connection, the text of chapter 4).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
from numpy.typing import ArrayLike
from torch import nn

from genai_course.core.checks import check_points
from genai_course.core.train import History, fit
from genai_course.data.toy2d import ring_means
from genai_course.runtime import seeded

ScoreFn = Callable[[torch.Tensor], torch.Tensor]
NoiseScoreFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
#: ``(x, score_x, step_size, noise) -> x_next``: :func:`langevin_step` or a student's own.
StepFn = Callable[[torch.Tensor, torch.Tensor, float, torch.Tensor], torch.Tensor]


def _sigma_column(sigma: float | torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``sigma`` (a number, a 0-d tensor or one value per row) as an (n, 1) tensor."""
    s = torch.as_tensor(sigma, dtype=x.dtype, device=x.device)
    if s.ndim == 0:
        s = s.expand(x.shape[0])
    s = s.reshape(-1)
    if s.shape[0] != x.shape[0]:
        raise ValueError(f"sigma must be a number or have one value per row ({x.shape[0]}), "
                         f"got shape {tuple(torch.as_tensor(sigma).shape)}")
    if torch.any(s <= 0):
        raise ValueError("sigma must be > 0")
    return s[:, None]


# --------------------------------------------------------------------------- Langevin


def langevin_step(x: torch.Tensor, score: torch.Tensor | ScoreFn, step_size: float,
                  noise: torch.Tensor) -> torch.Tensor:
    """One unadjusted Langevin step ``x + (eps/2) * score(x) + sqrt(eps) * noise``.

    ``score`` is the score evaluated at ``x`` (a tensor like ``x``) or a function of ``x``;
    ``noise`` is a standard normal draw like ``x`` (Welling & Teh 2011, eq. 4).
    """
    if not step_size > 0:
        raise ValueError(f"step_size must be > 0, got {step_size}")
    g = score(x) if callable(score) else score
    if g.shape != x.shape or noise.shape != x.shape:
        raise ValueError(f"score and noise must have the shape of x {tuple(x.shape)}, got "
                         f"{tuple(g.shape)} and {tuple(noise.shape)}")
    return x + 0.5 * step_size * g + math.sqrt(step_size) * noise


@torch.no_grad()
def langevin_sample(score_fn: ScoreFn, x0: torch.Tensor, n_steps: int = 500,
                    step_size: float = 0.01, seed: int = 0,
                    return_path: bool = False, step_fn: StepFn | None = None) -> torch.Tensor:
    """Run ``n_steps`` Langevin steps from ``x0`` with noise from a generator seeded with
    ``seed``. Returns the final points (n, d), or with ``return_path`` every state
    ``(n_steps + 1, n, d)`` (for animations). ``step_fn`` replaces :func:`langevin_step`
    (it gets the score already evaluated at ``x``)."""
    step = step_fn or langevin_step
    check_points(x0, name="x0")
    if n_steps < 0:
        raise ValueError(f"n_steps must be >= 0, got {n_steps}")
    gen = torch.Generator().manual_seed(seed)
    x, path = x0.clone(), [x0.clone()]
    for _ in range(n_steps):
        noise = torch.randn(x.shape, generator=gen, dtype=x.dtype).to(x.device)
        x = step(x, score_fn(x), step_size, noise)
        if return_path:
            path.append(x)
    return torch.stack(path) if return_path else x


@torch.no_grad()
def annealed_langevin(model: ScoreNet | NoiseScoreFn, n: int,
                      sigmas: Sequence[float] | torch.Tensor | None = None,
                      steps_per_level: int = 100, step_scale: float = 0.2, seed: int = 0,
                      x0: torch.Tensor | None = None, dim: int | None = None,
                      denoise: bool = True, step_fn: StepFn | None = None) -> torch.Tensor:
    """Annealed Langevin dynamics (Song & Ermon 2019, Alg. 1).

    For each noise level ``sigma_i`` (largest first) run ``steps_per_level`` Langevin steps
    with the score ``model(x, sigma_i)`` and step ``alpha_i = step_scale * sigma_i^2``
    (Alg. 1's ``eps * sigma_i^2 / sigma_L^2`` with ``eps = step_scale * sigma_L^2``).
    Starts from ``x0`` or ``N(0, sigma_1^2 I)``. With ``denoise`` a last Tweedie step
    ``x + sigma_L^2 s(x, sigma_L)`` removes the remaining noise (Song & Ermon 2020,
    "Improved techniques", Appendix C.2). ``model`` is a :class:`ScoreNet` or any function
    ``(x, sigma_per_row) -> score``; ``sigmas`` defaults to ``model.noise_levels``.
    ``step_fn`` replaces :func:`langevin_step` (e.g. with a student's own).
    """
    step = step_fn or langevin_step
    if sigmas is None:
        if not isinstance(model, ScoreNet):
            raise ValueError("pass sigmas when model is not a ScoreNet")
        sigmas = model.noise_levels
    levels = torch.as_tensor(sigmas, dtype=torch.float32).reshape(-1)
    if levels.numel() == 0 or torch.any(levels <= 0) or torch.any(levels[1:] > levels[:-1]):
        raise ValueError("sigmas must be positive and in decreasing order")
    if steps_per_level < 1 or not step_scale > 0:
        raise ValueError("steps_per_level must be >= 1 and step_scale > 0")
    gen = torch.Generator().manual_seed(seed)
    if x0 is None:
        dim = getattr(model, "dim", dim)
        if dim is None:
            raise ValueError("pass x0 or dim when model is not a ScoreNet")
        x = float(levels[0]) * torch.randn(n, dim, generator=gen)
    else:
        x = check_points(x0, name="x0").to(torch.float32).cpu().clone()
    if isinstance(model, nn.Module):
        device = next(model.parameters()).device
        model.eval()
    else:
        device = x.device
    x = x.to(device)
    for sigma in levels.tolist():
        s = torch.full((x.shape[0],), sigma, device=device)
        alpha = step_scale * sigma**2
        for _ in range(steps_per_level):
            noise = torch.randn(x.shape, generator=gen).to(device)
            x = step(x, model(x, s), alpha, noise)
    if denoise:
        x = x + float(levels[-1]) ** 2 * model(x, s)
    return x


# --------------------------------------------------------------------------- analytic energy


class GaussianMixtureEnergy:
    """``p(x) = sum_j w_j N(x; m_j, s_j^2 I)`` as an energy model with exact score.

    ``energy(x) = -log p(x)``; ``score(x) = -grad E(x) = sum_j r_j(x) (m_j - x) / s_j^2``
    with responsibilities ``r_j(x) = w_j N(x; m_j, s_j^2 I) / p(x)``. Convolving with
    ``N(0, sigma^2 I)`` gives the same mixture with variances ``s_j^2 + sigma^2``, so the
    exact noise-conditional score is :meth:`noise_conditional_score`.
    """

    def __init__(self, means: ArrayLike | torch.Tensor, stds: ArrayLike | float | torch.Tensor,
                 weights: ArrayLike | torch.Tensor | None = None) -> None:
        self.means = torch.as_tensor(np.asarray(means), dtype=torch.float32)
        if self.means.ndim != 2 or self.means.shape[0] == 0:
            raise ValueError(f"means must have shape (k, d), got {tuple(self.means.shape)}")
        k, self.dim = self.means.shape
        stds = torch.as_tensor(np.asarray(stds), dtype=torch.float32)
        self.stds = stds.expand(k).clone() if stds.ndim == 0 else stds
        if self.stds.shape != (k,) or torch.any(self.stds <= 0):
            raise ValueError(f"stds must be a positive number or have shape ({k},)")
        w = torch.full((k,), 1.0 / k) if weights is None else torch.as_tensor(
            np.asarray(weights), dtype=torch.float32)
        if w.shape != (k,) or torch.any(w < 0) or abs(float(w.sum()) - 1) > 1e-5:
            raise ValueError(f"weights must have shape ({k},), be >= 0 and sum to 1")
        self.weights = w

    @classmethod
    def ring(cls, k: int = 8, radius: float = 2.0, std: float = 0.2) -> GaussianMixtureEnergy:
        """The equal mixture of :func:`genai_course.data.toy2d.ring_of_gaussians`."""
        return cls(ring_means(k, radius), std)

    def _log_components(self, x: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
        """``log w_j + log N(x; m_j, var_j I)``, shape (n, k); ``var`` is (k,) or (n, k)."""
        sq = ((x[:, None, :] - self.means.to(x)[None]) ** 2).sum(-1)
        return (torch.log(self.weights.to(x)) - 0.5 * self.dim * torch.log(2 * math.pi * var)
                - sq / (2 * var))

    def _score(self, x: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
        r = torch.softmax(self._log_components(x, var), dim=1)  # responsibilities (n, k)
        diff = self.means.to(x)[None] - x[:, None, :]  # (n, k, d)
        return ((r / var)[..., None] * diff).sum(1)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """``log p(x)`` per row, shape (n,)."""
        check_points(x, self.dim)
        return torch.logsumexp(self._log_components(x, self.stds.to(x) ** 2), dim=1)

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        """``E(x) = -log p(x)``, shape (n,)."""
        return -self.log_prob(x)

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """Closed-form ``grad_x log p(x)``, shape (n, d)."""
        check_points(x, self.dim)
        return self._score(x, self.stds.to(x) ** 2)

    def noise_conditional_score(self, x: torch.Tensor, sigma: float | torch.Tensor
                                ) -> torch.Tensor:
        """Exact score of ``p_sigma = p * N(0, sigma^2 I)``: the DSM optimum at ``sigma``."""
        check_points(x, self.dim)
        s = _sigma_column(sigma, x)
        return self._score(x, self.stds.to(x)[None] ** 2 + s**2)

    def sample(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` exact draws (ancestral sampling), shape (n, d)."""
        j = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        z = torch.randn(n, self.dim, generator=generator)
        return self.means[j] + self.stds[j, None] * z


# --------------------------------------------------------------------------- learned score


def geometric_sigmas(sigma_max: float = 3.0, sigma_min: float = 0.03,
                     n_levels: int = 10) -> torch.Tensor:
    """``n_levels`` noise levels from ``sigma_max`` down to ``sigma_min`` in a geometric
    sequence (Song & Ermon 2019, section 4.2), float32, decreasing."""
    if not sigma_max >= sigma_min > 0 or n_levels < 1:
        raise ValueError("need sigma_max >= sigma_min > 0 and n_levels >= 1")
    return torch.logspace(math.log10(sigma_max), math.log10(sigma_min), n_levels)


class ScoreNet(nn.Module):
    """Noise-conditional score network ``s(x, sigma) = net([x, log sigma]) / sigma``.

    The MLP sees the point and ``log sigma`` and predicts ``-eps`` (unit scale at every
    noise level); dividing by ``sigma`` gives the score (Song & Ermon 2020, technique 3).
    ``noise_levels`` (decreasing) are the sigmas used in training and sampling.
    """

    def __init__(self, dim: int = 2, hidden: int = 128,
                 noise_levels: Sequence[float] | torch.Tensor | None = None,
                 n_hidden_layers: int = 3, seed: int | None = None) -> None:
        super().__init__()
        if dim < 1 or hidden < 1 or n_hidden_layers < 1:
            raise ValueError("dim, hidden and n_hidden_layers must be >= 1")
        levels = geometric_sigmas() if noise_levels is None else torch.as_tensor(
            noise_levels, dtype=torch.float32).reshape(-1)
        if levels.numel() == 0 or torch.any(levels <= 0):
            raise ValueError("noise_levels must be a non-empty sequence of positive sigmas")
        self.dim = dim
        self.register_buffer("noise_levels", levels.sort(descending=True).values)
        sizes = [dim + 1] + [hidden] * n_hidden_layers
        with seeded(seed):
            layers: list[nn.Module] = []
            for a, b in zip(sizes[:-1], sizes[1:], strict=True):
                layers += [nn.Linear(a, b), nn.SiLU()]
            self.net = nn.Sequential(*layers, nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor, sigma: float | torch.Tensor) -> torch.Tensor:
        """The score estimate at ``x`` (n, dim) for noise level(s) ``sigma``, shape (n, dim)."""
        check_points(x, self.dim)
        s = _sigma_column(sigma, x)
        return self.net(torch.cat([x, torch.log(s)], dim=1)) / s


def dsm_loss(model: ScoreNet | NoiseScoreFn, x: torch.Tensor, sigma: float | torch.Tensor,
             noise: torch.Tensor | None = None,
             generator: torch.Generator | None = None) -> torch.Tensor:
    """Denoising score matching loss with weight ``sigma^2`` (Vincent 2011; Song & Ermon
    2019 eq. 5-6): ``1/2 mean_n || sigma * s(x + sigma eps, sigma) + eps ||^2``, which is
    ``1/2 sigma^2 || s(x~, sigma) + (x~ - x) / sigma^2 ||^2``.

    ``sigma`` is a number or one value per row; ``noise`` (the ``eps``, like ``x``) is drawn
    from ``generator`` when not given. Returns a scalar.
    """
    check_points(x)
    s = _sigma_column(sigma, x)
    if noise is None:
        noise = torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
    elif noise.shape != x.shape:
        raise ValueError(f"noise must have the shape of x {tuple(x.shape)}, "
                         f"got {tuple(noise.shape)}")
    x_noisy = x + s * noise
    score = model(x_noisy, s.reshape(-1))
    return 0.5 * ((s * score + noise) ** 2).sum(-1).mean()


def train_score(model: ScoreNet, x_train: ArrayLike | torch.Tensor, steps: int = 2000,
                batch_size: int = 256, lr: float = 2e-3, seed: int = 0,
                progress: bool | None = None, cosine: bool = True) -> History:
    """Fit ``model`` by DSM with a noise level drawn uniformly from ``model.noise_levels``
    for every example (Song & Ermon 2019 eq. 6). Adam, with the learning rate decayed to 0
    over ``steps`` on a cosine when ``cosine``; records ``loss`` per step."""
    x = x_train if isinstance(x_train, torch.Tensor) else torch.as_tensor(np.asarray(x_train))
    x = check_points(x.to(torch.float32), model.dim, "x_train")
    gen = torch.Generator().manual_seed(seed + 1)
    levels = model.noise_levels

    def loss_fn(xb: torch.Tensor) -> torch.Tensor:
        idx = torch.randint(len(levels), (xb.shape[0],), generator=gen).to(xb.device)
        noise = torch.randn(xb.shape, generator=gen).to(xb.device)
        return dsm_loss(model, xb, levels[idx], noise=noise)

    return fit(model, loss_fn, x, steps=steps, batch_size=batch_size, lr=lr, seed=seed,
               lr_schedule="cosine" if cosine else None, desc="ScoreNet (DSM)",
               progress=progress)
