"""One training loop for every model: minibatches, optimiser, schedule, clipping, history.

* :func:`fit` trains a model on one loss (every trainer of the course but the GAN's);
* :func:`run` is the loop underneath: it calls a ``step`` function that does its own
  optimiser work (the GAN's two-player step) and records what it returns;
* :func:`minibatches` gives seeded, shuffled minibatches.

Used in: chapters 2-10.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from genai_course.runtime import run_mode


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


def _optimizer(model: torch.nn.Module, optimizer: torch.optim.Optimizer | None, lr: float,
               weight_decay: float) -> torch.optim.Optimizer:
    if optimizer is not None:
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"optimizer must be a torch.optim.Optimizer, got "
                            f"{type(optimizer).__name__}")
        return optimizer
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters")
    if weight_decay > 0:
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    return torch.optim.Adam(params, lr=lr)


def _scheduler(opt: torch.optim.Optimizer, lr_schedule: str | Callable[[int], float] | None,
               steps: int) -> torch.optim.lr_scheduler.LRScheduler | None:
    if lr_schedule is None:
        return None
    if lr_schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(steps, 1))
    if callable(lr_schedule):
        return torch.optim.lr_scheduler.LambdaLR(opt, lr_schedule)
    raise ValueError(f"lr_schedule must be None, 'cosine' or a function of the step, "
                     f"got {lr_schedule!r}")


Batch = tuple[torch.Tensor, ...]
Loss = torch.Tensor | tuple[torch.Tensor, Mapping[str, float]]


def fit(
    model: torch.nn.Module,
    loss_fn: Callable[..., Loss],
    data: torch.Tensor | Sequence[torch.Tensor] | Iterator[Batch],
    *,
    steps: int,
    batch_size: int | None = None,
    seed: int = 0,
    lr: float = 1e-3,
    optimizer: torch.optim.Optimizer | None = None,
    weight_decay: float = 0.0,
    lr_schedule: str | Callable[[int], float] | None = None,
    clip_norm: float | None = None,
    desc: str = "training",
    progress: bool | None = None,
    patience: int | None = None,
    monitor: str = "loss",
) -> History:
    """The course's one training loop: ``steps`` times, take a minibatch, compute
    ``loss_fn(*batch)``, back-propagate, clip, step the optimiser and the learning rate.

    * ``data``: a tensor or a tuple of tensors whose rows are examples (shuffled minibatches
      of ``batch_size`` rows from :func:`minibatches` seeded with ``seed``, moved to the
      model's device), or an iterator that yields ready batches (tuples of tensors).
    * ``loss_fn`` returns the loss, or ``(loss, parts)`` where ``parts`` are extra numbers to
      record (a part named ``"loss"`` replaces the recorded loss, e.g. to log the
      cross-entropy without an auxiliary term).
    * ``optimizer``: default Adam (Kingma & Ba 2015) on the trainable parameters at ``lr``,
      AdamW (Loshchilov & Hutter 2019) when ``weight_decay > 0``; or pass your own.
    * ``lr_schedule``: ``None`` (constant), ``"cosine"`` (decay to 0 over ``steps``), or a
      function ``step -> factor`` of the base rate (warm-up, cosine to a floor, ...).
    * ``clip_norm`` clips the global gradient norm (Pascanu et al. 2013).

    Shows a tqdm bar in full mode, records the history for plotting, can stop early
    (``patience``, see :func:`run`), and always leaves the model in eval mode.
    """
    if isinstance(data, torch.Tensor):
        data = (data,)
    if isinstance(data, (tuple, list)):
        if batch_size is None:
            raise ValueError("batch_size is needed when data is a tensor or tuple of tensors")
        device = next(model.parameters()).device
        batches: Iterator[Batch] = minibatches(*data, batch_size=batch_size, seed=seed,
                                               device=device)
    else:
        batches = iter(data)
    opt = _optimizer(model, optimizer, lr, weight_decay)
    schedule = _scheduler(opt, lr_schedule, steps)
    params = [p for group in opt.param_groups for p in group["params"]]

    def step(*batch: torch.Tensor) -> dict[str, float]:
        out = loss_fn(*batch)
        loss, parts = out if isinstance(out, tuple) else (out, {})
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if clip_norm is not None:
            torch.nn.utils.clip_grad_norm_(params, clip_norm)
        opt.step()
        if schedule is not None:
            schedule.step()
        return {"loss": loss.item(), **{k: float(v) for k, v in parts.items()}}

    model.train()
    try:
        return run(step, batches, steps, desc=desc, progress=progress, patience=patience,
                   monitor=monitor)
    finally:
        model.eval()
