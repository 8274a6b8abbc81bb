"""The recurrent baseline: its parameter count, causality, and training with train_lm."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from genai_course.llm.rnn import RNNLanguageModel
from genai_course.llm.transformer import GPTConfig, train_lm

CONFIG = GPTConfig(vocab_size=11, block_size=16, n_layer=2, n_head=1, n_embd=20)


def test_parameter_count_follows_the_gru_equations() -> None:
    V, d = 11, 20
    gru_layer = 3 * (d * d + d * d + 2 * d)  # Cho et al. 2014: W, U and two biases per gate
    model = RNNLanguageModel(CONFIG, seed=0)
    assert model.num_parameters() == V * d + 2 * gru_layer + d * V + V


def test_logits_depend_on_the_past_only_and_loss_is_cross_entropy() -> None:
    model = RNNLanguageModel(CONFIG, seed=0)
    x = torch.randint(11, (2, 10), generator=torch.Generator().manual_seed(0))
    changed = x.clone()
    changed[:, 6:] = (changed[:, 6:] + 1) % 11
    with torch.no_grad():
        a, b = model(x), model(changed)
        assert torch.equal(a[:, :6], b[:, :6]) and not torch.allclose(a[:, 6:], b[:, 6:])
        y = torch.roll(x, -1, dims=1)
        torch.testing.assert_close(model.loss(x, y), F.cross_entropy(a.transpose(1, 2), y))


def test_seeded_and_trains_on_a_repeating_sequence(one_thread) -> None:
    a, b = RNNLanguageModel(CONFIG, seed=3), RNNLanguageModel(CONFIG, seed=3)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    model = RNNLanguageModel(CONFIG, seed=0)
    ids = torch.tensor([1, 2, 3, 4, 5] * 40)
    hist = train_lm(model, ids, steps=150, batch_size=8, lr=1e-2, warmup=10, progress=False)
    assert hist["loss"][-1] < 0.1 < hist["loss"][0]
