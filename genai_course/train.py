"""One small training loop for every chapter: minibatches, progress bar, loss history.

The model-specific part is a ``step`` function that takes one minibatch, does its own
forward/backward/optimiser work (a GAN has two optimisers, a VAE one) and returns the
numbers to record, e.g. ``{"loss": 0.7}``. :func:`run` calls it ``steps`` times.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from .runtime import run_mode


@dataclass
class History:
    """What a training run recorded: one list per key, one entry per step."""

    values: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0
    stopped_early: bool = False

    @property
    def steps(self) -> int:
        return max((len(v) for v in self.values.values()), default=0)

    def __getitem__(self, key: str) -> list[float]:
        return self.values[key]

    def smoothed(self, key: str, last: int = 50) -> float:
        """Mean of the last ``last`` recorded values of ``key``."""
        tail = self.values[key][-last:]
        if not tail:
            raise ValueError(f"nothing recorded for {key!r}")
        return sum(tail) / len(tail)


def minibatches(
    *tensors: torch.Tensor, batch_size: int, seed: int = 0, device: torch.device | None = None
) -> Iterator[tuple[torch.Tensor, ...]]:
    """Endless shuffled minibatches of the rows of ``tensors`` (one permutation per epoch,
    drawn from its own seeded generator, so the order does not depend on global state)."""
    if not tensors:
        raise ValueError("minibatches needs at least one tensor")
    n = tensors[0].shape[0]
    if any(t.shape[0] != n for t in tensors):
        sizes = [len(t) for t in tensors]
        raise ValueError(f"all tensors need the same first dimension, got {sizes}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    generator = torch.Generator().manual_seed(seed)
    while True:
        order = torch.randperm(n, generator=generator)
        size = min(batch_size, n)  # full batches only; a short tail waits for the next epoch
        for start in range(0, n - size + 1, size):
            idx = order[start : start + size]
            yield tuple(t[idx] if device is None else t[idx].to(device) for t in tensors)


def run(
    step: Callable[..., Mapping[str, float]],
    batches: Iterator[tuple[torch.Tensor, ...]],
    steps: int,
    desc: str = "training",
    progress: bool | None = None,
    patience: int | None = None,
    monitor: str = "loss",
) -> History:
    """Call ``step(*batch)`` for ``steps`` minibatches and record what it returns.

    ``progress`` shows a tqdm bar (default: only in full mode, not in quick/grading runs).
    With ``patience``, stop early once the 50-step mean of ``monitor`` has not improved
    for ``patience`` steps.
    """
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    show = run_mode() == "full" if progress is None else progress
    history = History()
    best, best_step = float("inf"), 0
    start = time.perf_counter()
    bar = tqdm(range(steps), desc=desc, disable=not show, leave=False)
    for i in bar:
        record = step(*next(batches))
        for key, value in record.items():
            history.values.setdefault(key, []).append(float(value))
        if show and i % 20 == 0:
            bar.set_postfix({k: f"{v:.4g}" for k, v in record.items()})
        if patience is not None:
            current = history.smoothed(monitor)
            if current < best:
                best, best_step = current, i
            elif i - best_step >= patience:
                history.stopped_early = True
                break
    bar.close()
    history.seconds = time.perf_counter() - start
    return history


def minimize(
    model: torch.nn.Module,
    loss_fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    steps: int,
    batch_size: int,
    lr: float,
    seed: int = 0,
    desc: str = "training",
    progress: bool | None = None,
    weight_decay: float = 0.0,
    cosine: bool = False,
    clip_norm: float | None = None,
) -> History:
    """Fit ``model`` by minimising ``loss_fn(minibatch)`` over minibatches of ``x`` with
    Adam (AdamW when ``weight_decay > 0``; Loshchilov & Hutter 2019), optionally with the
    learning rate decayed to 0 on a cosine and gradients clipped to ``clip_norm``. Records
    ``loss`` per step; leaves the model in eval mode."""
    params = list(model.parameters())
    device = params[0].device
    opt: torch.optim.Optimizer = (
        torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
        if weight_decay > 0
        else torch.optim.Adam(params, lr=lr)
    )
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(steps, 1)) if cosine else None
    model.train()

    def step(xb: torch.Tensor) -> dict[str, float]:
        loss = loss_fn(xb)
        opt.zero_grad()
        loss.backward()
        if clip_norm is not None:
            torch.nn.utils.clip_grad_norm_(params, clip_norm)
        opt.step()
        if schedule is not None:
            schedule.step()
        return {"loss": loss.item()}

    history = run(step, minibatches(x, batch_size=batch_size, seed=seed, device=device), steps,
                  desc=desc, progress=progress)
    model.eval()
    return history
