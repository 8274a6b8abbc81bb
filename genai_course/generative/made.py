"""MADE: Masked Autoencoder for Distribution Estimation (Germain et al. 2015).

An autoregressive model factorises a density with the chain rule (MADE eq. 1)::

    p(x) = prod_i p(x_i | x_1 .. x_{i-1})

For binary pixels each factor is a Bernoulli whose logit MADE computes in *one* forward
pass of an MLP whose weights are masked so that output ``i`` only depends on inputs
``j < i``. Every unit gets a degree ``m(k)``: inputs have degrees ``1 .. D`` (the natural
ordering here), hidden units draw theirs from ``[min of the previous layer, D - 1]``, and
a connection is kept when (MADE eq. 12-13)::

    hidden layer:  m_l(k) >= m_{l-1}(k')
    output layer:  d > m_L(k)         (strict: output d must not see input d)

The log-likelihood is exact, ``log p(x) = sum_i [x_i log sigma(a_i) + (1 - x_i)
log(1 - sigma(a_i))] = -sum_i BCEWithLogits(a_i, x_i)``; sampling needs ``D`` passes,
one pixel at a time.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from genai_course.core.train import History, fit
from genai_course.runtime import seeded


class MaskedLinear(nn.Linear):
    """``y = x (W * M)^T + b`` with a fixed 0/1 mask ``M`` of shape (out, in)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__(in_features, out_features, bias)
        self.register_buffer("mask", torch.ones(out_features, in_features))

    def set_mask(self, mask: torch.Tensor) -> None:
        if mask.shape != self.weight.shape:
            raise ValueError(f"mask must have shape {tuple(self.weight.shape)}, "
                             f"got {tuple(mask.shape)}")
        self.mask.copy_(mask.to(self.mask))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.mask, self.bias)


class MADE(nn.Module):
    """Autoregressive Bernoulli model over ``n_in`` binary variables (natural ordering).

    ``hidden`` units per layer, ``n_hidden_layers`` layers (ReLU). Hidden degrees are drawn
    from a generator seeded with ``seed`` (which also seeds the initial weights), so the
    same arguments always build the same model (``seed=None`` draws both from torch's global
    random state). ``forward(x)`` returns the logits
    ``a_i = logit p(x_i = 1 | x_<i)``, shape (n, n_in).
    """

    def __init__(self, n_in: int = 64, hidden: int = 256, n_hidden_layers: int = 1,
                 seed: int | None = None) -> None:
        super().__init__()
        if n_in < 2:
            raise ValueError(f"n_in must be >= 2, got {n_in}")
        if hidden < 1 or n_hidden_layers < 1:
            raise ValueError("hidden and n_hidden_layers must be >= 1")
        self.n_in = n_in
        gen = torch.Generator().manual_seed(seed if seed is not None else
                                            int(torch.randint(2**62, ())))
        degrees = [torch.arange(1, n_in + 1)]  # input degrees 1..D
        for _ in range(n_hidden_layers):
            low = int(degrees[-1].min().item())
            degrees.append(torch.randint(low, n_in, (hidden,), generator=gen))  # [low, D-1]
        with seeded(seed):
            sizes = [n_in] + [hidden] * n_hidden_layers + [n_in]
            self.layers = nn.ModuleList(
                MaskedLinear(a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=True))
        for layer, d_in, d_out in zip(self.layers[:-1], degrees[:-1], degrees[1:], strict=True):
            layer.set_mask((d_out[:, None] >= d_in[None, :]).float())
        self.layers[-1].set_mask((degrees[0][:, None] > degrees[-1][None, :]).float())

    def _flatten(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
        flat = x.reshape(x.shape[0], -1) if x.ndim > 1 else x
        if flat.ndim != 2 or flat.shape[1] != self.n_in:
            raise ValueError(f"x must have shape (n, {self.n_in}) or (n, ...) with "
                             f"{self.n_in} values per row, got {tuple(x.shape)}")
        return flat.to(torch.float32)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Bernoulli logits ``a_i(x_<i)``, shape (n, n_in); images are flattened row-major."""
        h = self._flatten(x)
        for layer in self.layers[:-1]:
            h = torch.relu(layer(h))
        return self.layers[-1](h)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact ``log p(x)`` in nats per row, shape (n,); ``x`` must be 0/1."""
        flat = self._flatten(x)
        if not torch.all((flat == 0) | (flat == 1)):
            raise ValueError("MADE models binary data: x must contain only 0 and 1 "
                             "(use genai_course.data.digits.binarize)")
        bce = F.binary_cross_entropy_with_logits(self(flat), flat, reduction="none")
        return -bce.sum(-1)

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` samples drawn pixel by pixel (``n_in`` forward passes), shape (n, n_in)."""
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        device = next(self.parameters()).device
        x = torch.zeros(n, self.n_in, device=device)
        for i in range(self.n_in):
            p = torch.sigmoid(self(x)[:, i])
            u = torch.rand(n, generator=generator).to(device)
            x[:, i] = (u < p).float()
        return x


def evaluate_nll(model: MADE, x: torch.Tensor, bits: bool = False) -> float:
    """Mean negative log-likelihood per example, in nats (or bits with ``bits=True``)."""
    with torch.no_grad():
        value = -model.log_prob(x).mean().item()
    return value / math.log(2) if bits else value


def train_made(model: MADE, x_train: torch.Tensor, steps: int = 1000, batch_size: int = 128,
               lr: float = 1e-3, seed: int = 0, weight_decay: float = 0.0,
               progress: bool | None = None) -> History:
    """Maximum likelihood with Adam (AdamW when ``weight_decay > 0``): minimise the mean
    NLL (nats per example, recorded as ``loss`` per step). ``x_train`` is 0/1, shape
    (n, n_in) or (n, 1, 8, 8)."""
    x = model._flatten(x_train)
    model.log_prob(x)  # validates that the data are binary
    return fit(model, lambda xb: -model.log_prob(xb).mean(), x, steps=steps,
               batch_size=batch_size, lr=lr, weight_decay=weight_decay, seed=seed, desc="MADE",
               progress=progress)
