"""Adapting a pretrained GPT to a new task: full fine-tuning or LoRA, with the costs recorded.

:func:`finetune` trains a copy of the model on (prompt, answer) examples through the course's
one training loop (:func:`genai_course.core.train.fit`), either every weight (``"full"``) or
LoRA adapters on named target modules (``"lora"``), with the loss on the answer tokens only
or on every token, and records what the method cost: trainable parameters, seconds, FLOPs of
a training step (PyTorch's counter), the memory of gradients and optimiser state.
:func:`answer_accuracy` scores the model's greedy answers with an exact checker.

Used in: chapter 7.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from genai_course.core.checks import check_int, check_number
from genai_course.core.train import fit
from genai_course.finetune.costs import step_flops, training_state_bytes
from genai_course.finetune.instruction import (
    IGNORE_INDEX,
    Example,
    greedy_answers,
    lm_batch,
    masked_cross_entropy,
)
from genai_course.finetune.lora import apply_lora, trainable_parameters

METHODS = ("full", "lora")


def trim_padding(inputs: torch.Tensor, targets: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Drop the trailing columns of a batch where no row has a target left."""
    live = (targets != IGNORE_INDEX).any(dim=0).nonzero()
    end = int(live.max()) + 1 if len(live) else 1
    return inputs[:, :end], targets[:, :end]


def finetune(model: nn.Module, examples: Sequence[Example], *, pad_id: int, steps: int,
             method: str = "lora", r: int = 8, alpha: float = 16.0,
             targets: Sequence[str] = ("attn.qkv",), dropout: float = 0.0,
             mask_prompt: bool = True, lr: float = 1e-3, batch_size: int = 16, seed: int = 0,
             progress: bool | None = None) -> tuple[nn.Module, dict[str, Any]]:
    """Fine-tune a deep copy of ``model`` on ``examples`` (pairs of prompt and answer ids)
    for ``steps`` Adam steps; returns ``(tuned, record)``. ``method="lora"`` freezes the copy
    and trains :class:`~genai_course.finetune.lora.LoRALinear` adapters (``r``, ``alpha``,
    ``dropout``) on ``targets``; ``"full"`` trains every weight. The record holds
    ``trainable`` and ``total`` parameters, ``seconds``, ``step_flops``, ``state_bytes``
    (gradients and optimiser state of the trainable weights), and the ``loss`` curve."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    check_int(steps, "steps")
    check_number(lr, "lr", positive=True)
    tuned = copy.deepcopy(model)
    if method == "lora":
        apply_lora(tuned, targets, r=r, alpha=alpha, dropout=dropout, seed=seed)
    inputs, labels = lm_batch(examples, pad_id, mask_prompt=mask_prompt)
    trainable = [p for p in tuned.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(trainable, lr=lr)

    def loss_fn(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return masked_cross_entropy(tuned, *trim_padding(x, y))

    name = "full fine-tuning" if method == "full" else f"LoRA r={r}"
    history = fit(tuned, loss_fn, (inputs, labels), steps=steps, batch_size=batch_size,
                  seed=seed, optimizer=optimizer, desc=name, progress=progress)
    device = next(tuned.parameters()).device
    x, y = inputs[:batch_size].to(device), labels[:batch_size].to(device)
    flops = step_flops(lambda: loss_fn(x, y))
    tuned.zero_grad(set_to_none=True)
    n_trainable, n_total = trainable_parameters(tuned)
    record = {"method": method, "r": r if method == "lora" else None,
              "targets": list(targets) if method == "lora" else ["all"],
              "mask_prompt": mask_prompt, "trainable": n_trainable, "total": n_total,
              "seconds": history.seconds, "steps": steps, "step_flops": flops,
              "state_bytes": training_state_bytes(tuned, optimizer)["total"],
              "loss": history["loss"]}
    return tuned, record


def answer_accuracy(model: nn.Module, prompts: Sequence[Sequence[int]],
                    references: Sequence[Any], *, stop_id: int, max_new_tokens: int,
                    check: Callable[[Any, list[int]], bool] | None = None) -> float:
    """The share of prompts whose greedy answer (up to ``stop_id``) passes ``check(reference,
    answer_ids)`` (default: the answer ids equal the reference ids)."""
    if len(prompts) != len(references) or not prompts:
        raise ValueError("need as many references as prompts, and at least one")
    answers = greedy_answers(model, prompts, max_new_tokens, stop_id)
    check = check or (lambda reference, answer: list(reference) == answer)
    return sum(check(ref, ans) for ref, ans in zip(references, answers, strict=True)) \
        / len(prompts)
