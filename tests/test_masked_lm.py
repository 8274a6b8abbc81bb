"""BERT's masking: 15% of positions chosen, then 80% [MASK], 10% random, 10% unchanged."""

from __future__ import annotations

import pytest
import torch

from genai_course.llm.masked_lm import IGNORE_INDEX, mask_tokens


def test_proportions_and_labels() -> None:
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, 100, (400, 250), generator=g)  # 100,000 tokens, none special
    inputs, labels = mask_tokens(ids, mask_id=1, vocab_size=100, generator=g)
    chosen = labels != IGNORE_INDEX
    n = chosen.sum().item()
    assert abs(n / ids.numel() - 0.15) < 0.005
    assert torch.equal(labels[chosen], ids[chosen])  # labels are the originals
    assert torch.equal(inputs[~chosen], ids[~chosen])  # other positions untouched
    masked = (inputs == 1) & chosen
    unchanged = (inputs == ids) & chosen
    assert abs(masked.sum().item() / n - 0.8) < 0.015
    # 10% kept on purpose, plus the random replacements that drew the same token (1%)
    assert abs(unchanged.sum().item() / n - (0.1 + 0.1 / 100)) < 0.01
    replaced = chosen & ~masked & ~unchanged
    assert abs(replaced.sum().item() / n - 0.1 * 0.99) < 0.01
    assert inputs[replaced].min() >= 0 and inputs[replaced].max() < 100


def test_special_tokens_are_never_chosen_and_seeds_repeat() -> None:
    ids = torch.tensor([[0, 7, 8, 9, 2]] * 200)
    inputs, labels = mask_tokens(ids, mask_id=3, vocab_size=10, mask_prob=0.5,
                                 special_ids=(0, 2), generator=torch.Generator().manual_seed(1))
    assert torch.all(labels[:, [0, 4]] == IGNORE_INDEX)
    assert torch.equal(inputs[:, [0, 4]], ids[:, [0, 4]])
    again = mask_tokens(ids, mask_id=3, vocab_size=10, mask_prob=0.5, special_ids=(0, 2),
                        generator=torch.Generator().manual_seed(1))
    assert torch.equal(again[0], inputs) and torch.equal(again[1], labels)
    none, none_labels = mask_tokens(ids, 3, 10, mask_prob=0.0)
    assert torch.equal(none, ids) and torch.all(none_labels == IGNORE_INDEX)


def test_arguments() -> None:
    ids = torch.zeros(3, dtype=torch.long)
    with pytest.raises(TypeError, match="long"):
        mask_tokens(ids.float(), 1, 5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="mask_prob"):
        mask_tokens(ids, 1, 5, mask_prob=1.5)
    with pytest.raises(ValueError, match="mask_id"):
        mask_tokens(ids, 5, 5)
