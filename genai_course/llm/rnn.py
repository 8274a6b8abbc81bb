"""A recurrent language model, the baseline the transformer replaced.

:class:`RNNLanguageModel` embeds characters, runs a multi-layer GRU (Cho et al. 2014) over
them one position after another, and predicts the next token from each hidden state. It has
the interface :func:`~genai_course.llm.transformer.train_lm` and
:func:`~genai_course.llm.tinylang_lm.floor_report` use (``config``, ``forward``, ``loss``),
so it trains on the same windows as the GPT. Its hidden state at position ``t`` needs the one
at ``t - 1``: ``T`` dependent steps per layer, where attention computes all positions at once.

Used in: chapter 3 (why transformers broke through).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from genai_course.llm.transformer import GPTConfig
from genai_course.runtime import seeded


class RNNLanguageModel(nn.Module):
    """Embedding ``V x d``, a ``config.n_layer``-layer GRU of width ``d = config.n_embd``
    and an output layer ``d -> V``; ``forward`` maps ids ``(B, T)`` to logits ``(B, T, V)``.
    Only ``vocab_size``, ``block_size`` (the training window), ``n_layer`` and ``n_embd`` of
    the config are used."""

    def __init__(self, config: GPTConfig, seed: int | None = None) -> None:
        super().__init__()
        self.config = config
        with seeded(seed):
            self.emb = nn.Embedding(config.vocab_size, config.n_embd)
            self.rnn = nn.GRU(config.n_embd, config.n_embd, num_layers=config.n_layer,
                              batch_first=True)
            self.head = nn.Linear(config.n_embd, config.vocab_size)

    def num_parameters(self) -> int:
        """``sum(p.numel())``: ``2 V d + V`` plus ``3 (d_in d + d^2 + 2 d)`` per GRU layer."""
        return sum(p.numel() for p in self.parameters())

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.head(self.rnn(self.emb(idx))[0])

    def loss(self, idx: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean next-token cross-entropy (nats per token) of ``targets`` given ``idx``."""
        logits = self(idx)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
