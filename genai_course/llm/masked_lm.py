"""The masked-language-model objective of BERT (Devlin et al. 2019, section 3.1).

An encoder sees the whole sentence, both directions at once, so it cannot be trained to
predict the next token: the answer would be visible. Instead 15% of the positions are
chosen and the model predicts the original token there. Of the chosen positions 80% are
replaced by a ``[MASK]`` token, 10% by a random token and 10% are left unchanged, so the
model cannot rely on ``[MASK]`` (which never appears when it is used later) marking the
positions that matter.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

#: Label of the positions that do not count in the loss (``F.cross_entropy``'s default).
IGNORE_INDEX = -100


def mask_tokens(
    ids: torch.Tensor,
    mask_id: int,
    vocab_size: int,
    mask_prob: float = 0.15,
    special_ids: Sequence[int] = (),
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's corruption of a batch of token ids (any shape).

    Each position not in ``special_ids`` is chosen with probability ``mask_prob``; a chosen
    position becomes ``mask_id`` (80%), a uniformly random token of ``range(vocab_size)``
    (10%) or stays (10%). Returns ``(inputs, labels)`` where ``labels`` holds the original
    id at chosen positions and :data:`IGNORE_INDEX` elsewhere.
    """
    if ids.dtype != torch.long:
        raise TypeError(f"ids must be a torch.long tensor, got {ids.dtype}")
    if not 0.0 <= mask_prob <= 1.0:
        raise ValueError(f"mask_prob must be in [0, 1], got {mask_prob}")
    if not 0 <= mask_id < vocab_size:
        raise ValueError(f"mask_id must be in [0, vocab_size), got {mask_id}")

    def uniform() -> torch.Tensor:
        return torch.rand(ids.shape, generator=generator, device=ids.device)

    maskable = ~torch.isin(ids, torch.as_tensor(list(special_ids), dtype=torch.long,
                                                device=ids.device))
    chosen = (uniform() < mask_prob) & maskable
    action = uniform()  # < 0.8: [MASK]; 0.8-0.9: random token; >= 0.9: unchanged
    random_ids = torch.randint(vocab_size, ids.shape, generator=generator, device=ids.device)
    inputs = torch.where(chosen & (action < 0.8), torch.full_like(ids, mask_id), ids)
    inputs = torch.where(chosen & (action >= 0.8) & (action < 0.9), random_ids, inputs)
    labels = torch.where(chosen, ids, torch.full_like(ids, IGNORE_INDEX))
    return inputs, labels
