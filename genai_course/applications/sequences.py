"""Small autoregressive models of token sequences: game levels, melodies, programs.

Each application of chapter 9 writes its content as a sequence of symbols from a small
vocabulary, and the chapter 3 GPT (:mod:`genai_course.llm.transformer`, the same code)
learns it with the course's training loop :func:`~genai_course.core.train.fit`: each
training sequence is one row ``<bos> s <eos>``, padded, starting at position 0;
:func:`generate_sequences` samples new sequences from ``<bos>`` (or a prompt) until
``<eos>``.

Used in: chapter 9.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
import torch.nn.functional as F

from genai_course.core.checks import check_int
from genai_course.core.train import History, fit
from genai_course.llm.transformer import GPT, GPTConfig

BOS, EOS = "<bos>", "<eos>"
IGNORE = -100  # the target id that the loss skips (padding)


class Vocabulary:
    """A fixed list of symbols (strings) plus ``<bos>`` and ``<eos>``, and their ids."""

    def __init__(self, symbols: Iterable[str]) -> None:
        self.symbols: tuple[str, ...] = (BOS, EOS, *dict.fromkeys(symbols))
        self.ids = {s: i for i, s in enumerate(self.symbols)}
        self.bos, self.eos = self.ids[BOS], self.ids[EOS]

    def __len__(self) -> int:
        return len(self.symbols)

    def encode(self, symbols: Iterable[str]) -> list[int]:
        try:
            return [self.ids[s] for s in symbols]
        except KeyError as err:
            raise ValueError(f"symbol {err.args[0]!r} is not in the vocabulary") from None

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.symbols[i] for i in ids]


def pad_sequences(sequences: Sequence[Sequence[str]], vocab: Vocabulary, length: int
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs ``<bos> s`` and targets ``s <eos>``, padded to ``length`` (int64, one row per
    sequence); padded targets are ``IGNORE`` so that the loss skips them."""
    inputs = torch.full((len(sequences), length), vocab.eos, dtype=torch.int64)
    targets = torch.full((len(sequences), length), IGNORE, dtype=torch.int64)
    for i, seq in enumerate(sequences):
        ids = [vocab.bos, *vocab.encode(seq), vocab.eos]
        if len(ids) - 1 > length:
            raise ValueError(f"sequence {i} has {len(seq)} symbols; at most {length - 1} fit")
        inputs[i, :len(ids) - 1] = torch.tensor(ids[:-1])
        targets[i, :len(ids) - 1] = torch.tensor(ids[1:])
    return inputs, targets


def sequence_loss(model: GPT, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean next-symbol cross-entropy (nats) over the targets that are not padding."""
    logits = model(inputs)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                           ignore_index=IGNORE)


def train_sequence_model(sequences: Sequence[Sequence[str]], vocab: Vocabulary, *,
                         steps: int, block_size: int, n_layer: int = 2, n_head: int = 4,
                         n_embd: int = 64, batch_size: int = 32, lr: float = 3e-3,
                         seed: int = 0, progress: bool | None = None,
                         desc: str = "training GPT") -> tuple[GPT, History]:
    """A small GPT trained on ``sequences`` (lists of symbols of ``vocab``), one sequence
    per row starting at position 0 (so a position means the same thing in every sequence:
    in a level, a row and a column), ``steps`` AdamW steps with a cosine learning rate."""
    config = GPTConfig(vocab_size=len(vocab), block_size=block_size, n_layer=n_layer,
                       n_head=n_head, n_embd=n_embd)
    model = GPT(config, seed=seed)
    inputs, targets = pad_sequences(sequences, vocab, block_size)
    history = fit(model, lambda x, y: sequence_loss(model, x, y), (inputs, targets),
                  steps=steps, batch_size=batch_size, seed=seed, lr=lr, weight_decay=0.01,
                  lr_schedule="cosine", clip_norm=1.0, desc=desc, progress=progress)
    return model, history


def generate_sequences(model: GPT, vocab: Vocabulary, n: int, *, max_len: int,
                       prompt: Sequence[str] = (), temperature: float = 1.0,
                       top_k: int | None = None, seed: int = 0) -> list[list[str]]:
    """``n`` sequences sampled from ``<bos> + prompt``, each cut at its first ``<eos>`` (or
    after ``max_len`` new symbols); the prompt is not included. A ``<bos>`` generated
    inside a sequence is kept as a symbol (the caller's checks will reject it)."""
    n, max_len = check_int(n, "n", 1), check_int(max_len, "max_len", 1)
    start = torch.tensor([[vocab.bos, *vocab.encode(prompt)]] * n)
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(seed)
    out = model.generate(start.to(device), max_new_tokens=max_len, temperature=temperature,
                         top_k=top_k, generator=generator)[:, start.shape[1]:].tolist()
    result = []
    for row in out:
        cut = row.index(vocab.eos) if vocab.eos in row else len(row)
        result.append(vocab.decode(row[:cut]))
    return result


@torch.no_grad()
def evaluate_sequence_loss(model: GPT, sequences: Sequence[Sequence[str]],
                           vocab: Vocabulary) -> float:
    """Mean next-symbol cross-entropy (nats) of held-out ``sequences`` (``<eos>`` included)."""
    inputs, targets = pad_sequences(sequences, vocab, model.config.block_size)
    was_training = model.training
    model.eval()
    loss = sequence_loss(model, inputs, targets).item()
    model.train(was_training)
    return float(loss)


def train_payload(train: Sequence[Sequence[str]], held_out: Sequence[Sequence[str]],
                  vocab: Vocabulary, config: dict, seed: int) -> dict:
    """Train a sequence model with ``config`` (the keyword arguments of
    :func:`train_sequence_model`) and return a checkpoint payload: the configuration, the
    float16 weights, the vocabulary, and train/held-out losses."""
    model, history = train_sequence_model(train, vocab, seed=seed, **config)
    return {"config": {**model.config.to_dict(), "train": dict(config)},
            "state_dict": {k: v.half() for k, v in model.state_dict().items()},
            "extra": {"symbols": list(vocab.symbols[2:])},
            "metrics": {"train_loss": history.smoothed("loss", 100),
                        "held_out_loss": evaluate_sequence_loss(model, held_out, vocab)}}


def load_payload_model(payload: dict) -> GPT:
    """The GPT of a :func:`train_payload` payload, in float32, with its vocabulary as
    ``model.vocab``."""
    config = GPTConfig(**{k: v for k, v in payload["config"].items() if k != "train"})
    model = GPT(config)
    model.load_state_dict({k: v.float() for k, v in payload["state_dict"].items()})
    model.vocab = Vocabulary(payload["extra"]["symbols"])
    return model
