"""Decoding: turn a language model's next-token logits into a token.

All functions take logits of shape ``(..., vocab)`` (a batch of rows) and work row by row.
Filters return new logits with the removed tokens set to ``-inf``; ties at the cut are kept
together, so the result does not depend on the order of the vocabulary.

* greedy decoding: the most probable token;
* temperature: ``softmax(logits / T)`` (sharper for ``T < 1``, flatter for ``T > 1``);
* top-k (Fan et al. 2018): keep the ``k`` most probable tokens;
* top-p / nucleus (Holtzman et al. 2020): keep the smallest set of most probable tokens
  whose total probability reaches ``p``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

#: A nucleus filter ``(logits, p) -> logits`` such as :func:`top_p_logits`.
TopPFilter = Callable[[torch.Tensor, float], torch.Tensor]


def _check_logits(logits: torch.Tensor) -> None:
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point():
        raise TypeError("logits must be a floating-point torch.Tensor")
    if logits.ndim < 1 or logits.shape[-1] < 1:
        raise ValueError(f"logits need a non-empty last (vocabulary) dimension, got shape "
                         f"{tuple(logits.shape)}")


def greedy(logits: torch.Tensor) -> torch.Tensor:
    """The index of the largest logit of each row (the first one among equals)."""
    _check_logits(logits)
    return logits.argmax(dim=-1)


def apply_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """``logits / temperature``: sampling from ``softmax`` of the result is sampling at
    that temperature. ``temperature`` must be positive (use :func:`greedy` for 0)."""
    _check_logits(logits)
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    return logits / temperature


def top_k_logits(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep each row's ``k`` largest logits (and any tied with the ``k``-th), set the
    rest to ``-inf``."""
    _check_logits(logits)
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    if k >= logits.shape[-1]:
        return logits.clone()
    kth = logits.topk(k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p_logits(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Nucleus filtering: keep each row's smallest set of most probable tokens whose
    total probability reaches ``p`` (the token that crosses ``p`` is kept, and at least
    one token always is), set the rest to ``-inf`` (Holtzman et al. 2020, eq. 3).
    Tokens tied with the least probable kept token are kept as well."""
    _check_logits(logits)
    if not 0.0 < p <= 1.0:
        raise ValueError(f"p must be in (0, 1], got {p}")
    if p == 1.0:
        return logits.clone()
    probs = logits.float().softmax(dim=-1)
    sorted_probs = probs.sort(dim=-1, descending=True).values
    mass_before = sorted_probs.cumsum(dim=-1) - sorted_probs  # of the more probable tokens
    n_keep = (mass_before < p).sum(dim=-1, keepdim=True).clamp(min=1)
    smallest_kept = sorted_probs.gather(-1, n_keep - 1)
    return logits.masked_fill(probs < smallest_kept, float("-inf"))


def next_token_distribution(logits: torch.Tensor, temperature: float = 1.0,
                            top_k: int | None = None, top_p: float | None = None,
                            top_p_fn: TopPFilter | None = None) -> torch.Tensor:
    """The probabilities a sampler draws from: temperature first, then top-k, then top-p
    (the order of Hugging Face's ``generate``). ``temperature=0`` puts all the mass on the
    greedy token. ``top_p_fn(logits, p)`` replaces :func:`top_p_logits` (chapter 3 passes
    the student's filter)."""
    _check_logits(logits)
    if temperature == 0:
        return torch.nn.functional.one_hot(greedy(logits), logits.shape[-1]).to(logits.dtype)
    logits = apply_temperature(logits, temperature)
    if top_k is not None:
        logits = top_k_logits(logits, top_k)
    if top_p is not None:
        logits = (top_p_fn or top_p_logits)(logits, top_p)
    return logits.softmax(dim=-1)


def sample_next(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
                top_p: float | None = None, generator: torch.Generator | None = None,
                top_p_fn: TopPFilter | None = None) -> torch.Tensor:
    """One token per row of ``logits`` (shape ``(B, vocab)``), as a ``(B, 1)`` tensor:
    the greedy token for ``temperature=0``, else a draw from
    :func:`next_token_distribution` using ``generator``."""
    if temperature == 0:
        return greedy(logits)[..., None]
    probs = next_token_distribution(logits, temperature, top_k, top_p, top_p_fn)
    return torch.multinomial(probs, 1, generator=generator)
