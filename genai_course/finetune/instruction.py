"""Instruction tuning: supervised fine-tuning on (prompt, answer) pairs with the loss on the
answer tokens only (Ouyang et al. 2022, InstructGPT; the ``labels = -100`` convention of
Hugging Face, which :func:`torch.nn.functional.cross_entropy` skips through ``ignore_index``).

A language model predicts token ``t + 1`` from tokens ``0..t``, so for a padded batch of
sequences ``ids`` (``B x T``) the targets are ``ids[:, 1:]``; target ``t`` (token ``t + 1``)
is trained on only when token ``t + 1`` is part of the answer (``prompt_length <= t + 1 <
length``). :func:`answer_only_targets` writes :data:`IGNORE_INDEX` everywhere else.

* :func:`pad_examples` -- a batch of (prompt ids, answer ids) pairs as one padded tensor;
* :func:`answer_only_targets`, :func:`all_token_targets` -- with or without prompt masking;
* :func:`lm_batch` -- inputs and targets for :func:`masked_cross_entropy`;
* :func:`sequence_log_probs` -- ``log p(answer | prompt)`` per example (DPO needs it);
* :func:`greedy_answers` -- the model's greedy answers to prompts, cut at a stop token.

Used in: chapter 7.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

#: The target id that the loss skips (PyTorch's default ``ignore_index``, Hugging Face's
#: label for "not trained on").
IGNORE_INDEX = -100

Example = tuple[Sequence[int], Sequence[int]]


def pad_examples(examples: Sequence[Example], pad_id: int
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(ids, prompt_lengths, lengths)``: each ``prompt + answer`` as a row of ``ids``
    (``B x T``, right-padded with ``pad_id``), with the prompt's and the whole row's length."""
    if not examples:
        raise ValueError("examples must not be empty")
    rows = []
    for i, (prompt, answer) in enumerate(examples):
        if len(prompt) < 1 or len(answer) < 1:
            raise ValueError(f"example {i} needs a prompt and an answer of at least one token, "
                             f"got lengths {len(prompt)} and {len(answer)}")
        rows.append((list(prompt) + list(answer), len(prompt)))
    width = max(len(r) for r, _ in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    for i, (row, _) in enumerate(rows):
        ids[i, :len(row)] = torch.tensor(row, dtype=torch.long)
    return (ids, torch.tensor([p for _, p in rows]), torch.tensor([len(r) for r, _ in rows]))


def _check_batch(ids: torch.Tensor, prompt_lengths: torch.Tensor, lengths: torch.Tensor
                 ) -> None:
    if not isinstance(ids, torch.Tensor) or ids.ndim != 2 or ids.shape[1] < 2:
        raise ValueError("ids must be a (batch, time >= 2) tensor")
    if ids.dtype != torch.long:
        raise TypeError(f"ids must be a long tensor, got {ids.dtype}")
    for name, t in (("prompt_lengths", prompt_lengths), ("lengths", lengths)):
        if not isinstance(t, torch.Tensor) or t.shape != (ids.shape[0],):
            raise ValueError(f"{name} must be a tensor of shape ({ids.shape[0]},)")
    if ((prompt_lengths < 1) | (prompt_lengths > lengths) | (lengths > ids.shape[1])).any():
        raise ValueError("need 1 <= prompt_lengths <= lengths <= ids.shape[1]")


def answer_only_targets(ids: torch.Tensor, prompt_lengths: torch.Tensor, lengths: torch.Tensor,
                        ignore_index: int = IGNORE_INDEX) -> torch.Tensor:
    """Next-token targets ``ids[:, 1:]`` with :data:`IGNORE_INDEX` wherever the predicted
    token is part of the prompt or padding: target ``t`` is kept iff
    ``prompt_lengths[b] <= t + 1 < lengths[b]``."""
    _check_batch(ids, prompt_lengths, lengths)
    position = torch.arange(1, ids.shape[1], device=ids.device)  # index of the predicted token
    keep = (position >= prompt_lengths[:, None]) & (position < lengths[:, None])
    return ids[:, 1:].masked_fill(~keep, ignore_index)


def all_token_targets(ids: torch.Tensor, lengths: torch.Tensor,
                      ignore_index: int = IGNORE_INDEX) -> torch.Tensor:
    """Next-token targets on every real token (prompt and answer), padding ignored: plain
    language-model fine-tuning on the concatenated text."""
    return answer_only_targets(ids, torch.ones_like(lengths), lengths, ignore_index)


def lm_batch(examples: Sequence[Example], pad_id: int, mask_prompt: bool = True
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(inputs, targets)`` (both ``B x (T - 1)``) for :func:`masked_cross_entropy`; with
    ``mask_prompt`` only the answer tokens are targets."""
    ids, prompt_lengths, lengths = pad_examples(examples, pad_id)
    targets = (answer_only_targets(ids, prompt_lengths, lengths) if mask_prompt
               else all_token_targets(ids, lengths))
    return ids[:, :-1], targets


def masked_cross_entropy(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor
                         ) -> torch.Tensor:
    """Mean next-token cross-entropy (nats) over the targets that are not
    :data:`IGNORE_INDEX`."""
    logits = model(inputs)
    return F.cross_entropy(logits.transpose(1, 2), targets, ignore_index=IGNORE_INDEX)


def sequence_log_probs(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor
                       ) -> torch.Tensor:
    """``sum_t log p(targets[b, t] | inputs[b, :t + 1])`` over the targets that are not
    :data:`IGNORE_INDEX`: with :func:`lm_batch`, ``log p(answer | prompt)`` per row."""
    logp = torch.log_softmax(model(inputs), dim=-1)
    keep = targets != IGNORE_INDEX
    picked = logp.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return (picked * keep).sum(dim=-1)


@torch.no_grad()
def greedy_answers(model: nn.Module, prompts: Sequence[Sequence[int]], max_new_tokens: int,
                   stop_id: int, batch_size: int = 64) -> list[list[int]]:
    """The greedy continuation of each prompt, up to and without the first ``stop_id``
    (at most ``max_new_tokens`` tokens). Prompts of equal length are decoded together with
    the model's key/value cache (the GPT has no padding mask, so no padding is used)."""
    device = next(model.parameters()).device
    answers: list[list[int]] = [[] for _ in prompts]
    by_length: dict[int, list[int]] = {}
    for i, p in enumerate(prompts):
        by_length.setdefault(len(p), []).append(i)
    for rows in by_length.values():
        for start in range(0, len(rows), batch_size):
            chunk = rows[start:start + batch_size]
            idx = torch.tensor([list(prompts[i]) for i in chunk], device=device)
            out = model.generate(idx, max_new_tokens, temperature=0.0)[:, idx.shape[1]:]
            for i, row in zip(chunk, out.tolist(), strict=True):
                answers[i] = row[:row.index(stop_id)] if stop_id in row else row
    return answers
