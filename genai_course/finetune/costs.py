"""What fine-tuning costs and what it changes, measured.

* :func:`step_flops` -- the floating-point operations of one training step, counted by
  PyTorch's own :class:`torch.utils.flop_counter.FlopCounterMode` (the matmuls of the forward
  and backward passes). Full fine-tuning costs about ``6 N`` per token (Kaplan et al. 2020):
  ``2 N`` forward, ``2 N`` for the gradients of the activations, ``2 N`` for those of the
  weights; a frozen weight skips the last part, so LoRA costs about ``4 N`` per token;
* :func:`training_state_bytes` -- the memory of the trainable parameters, their gradients and
  the optimiser's state (Adam keeps two numbers per trainable parameter);
* :func:`update_singular_values` -- the spectrum of a learned weight update ``W - W0``
  (a LoRA update has rank at most ``r``; Hu et al. 2021, section 7, look at it the same way);
* :func:`energy_rank` -- how many singular values hold a share of the update's energy.

Used in: chapter 7.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def step_flops(step: Callable[[], torch.Tensor]) -> int:
    """FLOPs of ``step()`` (which computes a loss) plus the loss's ``backward()``, as
    PyTorch's flop counter counts them."""
    with FlopCounterMode(display=False) as counter:
        loss = step()
        loss.backward()
    return int(counter.get_total_flops())


def training_state_bytes(model: nn.Module, optimizer: torch.optim.Optimizer | None = None
                         ) -> dict[str, int]:
    """Bytes of the trainable parameters, of their gradients (one per trainable number) and
    of ``optimizer``'s state tensors as they are now (take it after a step: Adam creates its
    two moment estimates lazily)."""
    trainable = [p for p in model.parameters() if p.requires_grad]
    params = sum(p.numel() * p.element_size() for p in trainable)
    state = 0
    if optimizer is not None:
        for entry in optimizer.state.values():
            state += sum(v.numel() * v.element_size() for v in entry.values()
                         if isinstance(v, torch.Tensor))
    return {"trainable_parameters": params, "gradients": params, "optimizer_state": state,
            "total": 2 * params + state}


@torch.no_grad()
def update_singular_values(before: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
    """Singular values (descending, float64) of the update ``after - before``."""
    if before.shape != after.shape or before.ndim != 2:
        raise ValueError(f"need two matrices of one shape, got {tuple(before.shape)} and "
                         f"{tuple(after.shape)}")
    return torch.linalg.svdvals(after.double() - before.double())


def energy_rank(singular_values: torch.Tensor, share: float = 0.9) -> int:
    """The smallest ``k`` whose top ``k`` singular values hold ``share`` of the squared
    Frobenius norm (0 for a zero update)."""
    if not 0 < share <= 1:
        raise ValueError(f"share must be in (0, 1], got {share}")
    energy = singular_values.double() ** 2
    total = energy.sum()
    if total == 0:
        return 0
    cumulative = energy.cumsum(0) / total
    return int((cumulative < share - 1e-12).sum().item()) + 1
