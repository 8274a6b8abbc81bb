"""Perplexity of a fixed-window language model on a long text, by a sliding window.

A model that sees at most ``window`` tokens cannot score a long text in one pass. The
standard procedure (Hugging Face's "Perplexity of fixed-length models"; Press et al.,
"Shortformer", 2021, on its cost) slides the window by ``stride`` tokens and scores, in each
window, only the tokens not scored before, so each token is scored once and sees at least
``window - stride`` tokens of context (all earlier ones in the first window). A large
stride is cheap and pessimistic (tokens near a window's start see little context); stride 1
gives each token the most context the model allows, at one forward pass per token.

Used in: chapter 8.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from genai_course.core.checks import check_int

#: ``next_logprobs(x)``: log-probabilities (B, T, V) of the token after each position of the
#: token ids ``x`` (B, T), each from the tokens up to it.
NextLogProbs = Callable[[torch.Tensor], torch.Tensor]


def gpt_next_logprobs(model: torch.nn.Module) -> NextLogProbs:
    """The :data:`NextLogProbs` of a GPT that returns next-token logits (eval mode)."""
    device = next(model.parameters()).device

    @torch.no_grad()
    def call(x: torch.Tensor) -> torch.Tensor:
        model.eval()
        return torch.log_softmax(model(x.to(device)).double(), -1).cpu()

    return call


def sliding_window_nll(next_logprobs: NextLogProbs, ids: torch.Tensor, window: int,
                       stride: int, batch_size: int = 32) -> tuple[float, int]:
    """``(total negative log-likelihood in nats, tokens scored)`` of ``ids[1:]``, each token
    predicted once from the tokens before it inside its window (see the module docstring).

    Windows ``ids[b : b + window]`` start at ``b = 0, stride, 2 stride, ...``; a window
    scores the positions after the last one scored so far. ``1 <= stride <= window - 1``
    (at ``stride = window - 1`` consecutive windows share one token: disjoint chunks).
    """
    if not isinstance(ids, torch.Tensor) or ids.ndim != 1 or len(ids) < 2:
        raise ValueError("ids must be a 1-D tensor of at least 2 token ids")
    window = check_int(window, "window", 2)
    stride = check_int(stride, "stride", 1)
    if stride > window - 1:
        raise ValueError(f"stride must be <= window - 1 = {window - 1}, got {stride}: a larger "
                         "stride would skip tokens")
    spans = []  # (start, end, first scored position)
    scored_to = 1  # positions < scored_to are scored (position 0 has no context)
    start = 0
    while scored_to < len(ids):
        end = min(start + window, len(ids))
        spans.append((start, end, scored_to))
        scored_to = end
        start += stride
    total, count = 0.0, 0
    for i in range(0, len(spans), batch_size):
        chunk = spans[i:i + batch_size]
        width = max(e - s for s, e, _ in chunk)
        x = torch.zeros(len(chunk), width, dtype=torch.long)
        for r, (s, e, _) in enumerate(chunk):
            x[r, :e - s] = ids[s:e]
        logp = next_logprobs(x)
        for r, (s, e, first) in enumerate(chunk):
            targets = ids[first:e]
            rows = logp[r, first - s - 1:e - s - 1]  # position p is predicted at p - 1
            total -= float(rows.gather(-1, targets[:, None]).sum())
            count += len(targets)
    return total, count


def perplexity(next_logprobs: NextLogProbs, ids: torch.Tensor, window: int, stride: int,
               batch_size: int = 32) -> float:
    """``exp(mean NLL per token)`` by :func:`sliding_window_nll`."""
    total, count = sliding_window_nll(next_logprobs, ids, window, stride, batch_size)
    return math.exp(total / count)
