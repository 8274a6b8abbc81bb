"""The small interface chapter 8's text evaluations ask of a model, and adapters to it.

A benchmark harness should not care what the model is. It needs two things:

* ``logprobs(pairs)`` -- for each ``(context, continuation)`` pair of strings, the log-probability
  (nats) of the continuation given the context;
* ``generate(prompts, max_chars)`` -- text continuing each prompt (greedy at temperature 0),
  cut at the first ``stop`` string.

:class:`TextModel` states that contract. :class:`CharGPT` adapts a character-level GPT (the
chapter 3 model, e.g. ``load_pretrained("tinygpt-tinylang")``); :class:`CharNGram` adapts a
character n-gram model (:class:`~genai_course.classic.ngram.NGramLanguageModel` over
characters); :class:`ChatTextModel` adapts a chat model (TinyChat's
:class:`~genai_course.llm.chat.ChatModel`) by wrapping each prompt in its chat template as the
user's message, as harnesses do for chat models; an OpenAI-compatible endpoint plugs in the
same way.

Used in: chapter 8.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import torch
import torch.nn.functional as F

from genai_course.classic.ngram import NGramLanguageModel
from genai_course.llm.chat import ChatModel
from genai_course.llm.tokenizers import CharTokenizer
from genai_course.llm.transformer import GPT


@runtime_checkable
class TextModel(Protocol):
    """What the harnesses of :mod:`~genai_course.evaluation.multiple_choice` and the
    preference study call (see the module docstring)."""

    name: str

    def logprobs(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        """``log P(continuation | context)`` in nats for each pair."""
        ...

    def generate(self, prompts: Sequence[str], max_chars: int, temperature: float = 0.0,
                 seed: int = 0, stop: str | None = "\n") -> list[str]:
        """A continuation of each prompt (without the prompt), cut before ``stop``."""
        ...


def _cut(text: str, stop: str | None) -> str:
    return text.split(stop, 1)[0] if stop else text


class CharGPT:
    """A character-level :class:`~genai_course.llm.transformer.GPT` as a :class:`TextModel`.

    Contexts are prefixed with ``bos`` (TinyLang texts start each sentence after a newline,
    so ``"\\n"`` is the natural start); when context and continuation do not fit the model's
    window, the context is cut from the left."""

    def __init__(self, model: GPT, tokenizer: CharTokenizer | None = None, name: str = "gpt",
                 bos: str = "\n", batch_size: int = 128) -> None:
        self.model = model
        self.tokenizer = tokenizer if tokenizer is not None else model.tokenizer
        self.name, self.bos, self.batch_size = name, bos, batch_size

    @torch.no_grad()
    def logprobs(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        """Pairs are scored in batches; one-character continuations of the same context
        (the letters of a multiple-choice prompt) share one forward pass."""
        if pairs and all(len(c) == 1 for _, c in pairs):
            contexts = list(dict.fromkeys(ctx for ctx, _ in pairs))
            nxt = self._next_char_logprobs(contexts)
            return [float(nxt[ctx][self.tokenizer.encode(c)[0]]) for ctx, c in pairs]
        return self._score(pairs)

    def _next_char_logprobs(self, contexts: Sequence[str]) -> dict[str, torch.Tensor]:
        """Log-probabilities of every next character after each context."""
        block = self.model.config.block_size
        device = next(self.model.parameters()).device
        out: dict[str, torch.Tensor] = {}
        was_training = self.model.training
        self.model.eval()
        for i in range(0, len(contexts), self.batch_size):
            chunk = contexts[i:i + self.batch_size]
            ids = [self.tokenizer.encode(self.bos + ctx)[-block:] for ctx in chunk]
            x = torch.zeros(len(chunk), max(map(len, ids)), dtype=torch.long)
            for r, row in enumerate(ids):
                x[r, :len(row)] = torch.tensor(row)
            logp = F.log_softmax(self.model(x.to(device)).double(), -1).cpu()
            for r, (ctx, row) in enumerate(zip(chunk, ids, strict=True)):
                out[ctx] = logp[r, len(row) - 1]
        self.model.train(was_training)
        return out

    @torch.no_grad()
    def _score(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        block = self.model.config.block_size
        rows = []
        for context, continuation in pairs:
            ctx = self.tokenizer.encode(self.bos + context)
            cont = self.tokenizer.encode(continuation)
            if not cont:
                raise ValueError("a continuation must not be empty")
            if len(cont) > block:
                raise ValueError(f"a continuation of {len(cont)} tokens exceeds the window "
                                 f"of {block}")
            ids = (ctx + cont)[-(block + 1):]
            rows.append((ids, len(cont)))
        was_training = self.model.training
        self.model.eval()
        device = next(self.model.parameters()).device
        out: list[float] = []
        for i in range(0, len(rows), self.batch_size):
            chunk = rows[i:i + self.batch_size]
            width = max(len(ids) for ids, _ in chunk) - 1
            x = torch.zeros(len(chunk), width, dtype=torch.long)
            y = torch.zeros(len(chunk), width, dtype=torch.long)
            mask = torch.zeros(len(chunk), width, dtype=torch.bool)
            for r, (ids, n_cont) in enumerate(chunk):
                t = torch.tensor(ids)
                x[r, :len(ids) - 1], y[r, :len(ids) - 1] = t[:-1], t[1:]
                mask[r, len(ids) - 1 - n_cont:len(ids) - 1] = True
            logp = F.log_softmax(self.model(x.to(device)).double(), -1).cpu()
            picked = logp.gather(-1, y[..., None])[..., 0]
            out.extend((picked * mask).sum(1).tolist())
        self.model.train(was_training)
        return out

    @torch.no_grad()
    def generate(self, prompts: Sequence[str], max_chars: int, temperature: float = 0.0,
                 seed: int = 0, stop: str | None = "\n", chunk: int = 16) -> list[str]:
        """Prompts of equal length generate together, ``chunk`` characters at a time, and a
        batch stops once every row contains ``stop``."""
        generator = torch.Generator().manual_seed(seed)
        device = next(self.model.parameters()).device
        texts: list[str] = [""] * len(prompts)
        by_length: dict[int, list[int]] = {}
        encoded = [self.tokenizer.encode(self.bos + p) for p in prompts]
        for i, ids in enumerate(encoded):
            by_length.setdefault(len(ids), []).append(i)
        for length, members in by_length.items():
            for s in range(0, len(members), self.batch_size):
                batch = members[s:s + self.batch_size]
                idx = torch.tensor([encoded[i] for i in batch], device=device)
                while idx.shape[1] - length < max_chars:
                    steps = min(chunk, max_chars - (idx.shape[1] - length))
                    idx = self.model.generate(idx, steps, temperature=temperature,
                                              generator=generator if temperature > 0 else None)
                    done = [stop is not None and stop in self.tokenizer.decode(row.tolist())
                            for row in idx[:, length:].cpu()]
                    if all(done):
                        break
                for i, row in zip(batch, idx[:, length:].cpu(), strict=True):
                    texts[i] = _cut(self.tokenizer.decode(row.tolist()), stop)
        return texts


class CharNGram:
    """A character n-gram model (``NGramLanguageModel`` fitted on sentences split into
    characters, with add-k smoothing so no character has probability 0) as a
    :class:`TextModel`. Every context is read as the start of a sentence."""

    def __init__(self, model: NGramLanguageModel, name: str = "n-gram") -> None:
        if model.add_k <= 0:
            raise ValueError("use add_k > 0: an unsmoothed n-gram gives log-probability -inf")
        self.model, self.name = model, name

    @classmethod
    def fit(cls, sentences: Sequence[str], n: int, add_k: float = 0.01,
            name: str | None = None) -> CharNGram:
        """Fit an order-``n`` character model on ``sentences`` (strings)."""
        model = NGramLanguageModel(n, add_k=add_k).fit([list(s) for s in sentences])
        return cls(model, name or f"char {n}-gram")

    def logprobs(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        out = []
        for context, continuation in pairs:
            history, total = list(context), 0.0
            for ch in continuation:
                p = self.model.prob(ch, history)
                total += math.log(p) if p > 0 else -math.inf
                history.append(ch)
            out.append(total)
        return out

    def generate(self, prompts: Sequence[str], max_chars: int, temperature: float = 0.0,
                 seed: int = 0, stop: str | None = "\n") -> list[str]:
        rng = random.Random(seed)
        return [_cut("".join(self.model.generate(max_chars, seed=rng.randrange(2**31),
                                                 temperature=temperature, context=list(p))),
                     stop) for p in prompts]


class ChatTextModel:
    """A :class:`~genai_course.llm.chat.ChatModel` as a :class:`TextModel`: each context is
    the user's message and each continuation the start of the assistant's reply. A reply
    starts a new turn, so the space a harness puts between a question and a choice is
    dropped; the reply is not closed (``log p`` of its text only, like the continuation of a
    base model)."""

    def __init__(self, chat: ChatModel, name: str = "chat") -> None:
        self.chat, self.name = chat, name

    def logprobs(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        out = []
        for context, continuation in pairs:
            reply = continuation.lstrip(" ")
            if not reply:
                raise ValueError("a continuation must not be empty")
            out.append(self.chat.logprob([{"role": "user", "content": context}], reply,
                                         close=False))
        return out

    def generate(self, prompts: Sequence[str], max_chars: int, temperature: float = 0.0,
                 seed: int = 0, stop: str | None = "\n") -> list[str]:
        """Greedy replies (batched); sampled ones at ``temperature`` > 0, seeded per prompt."""
        conversations = [[{"role": "user", "content": p}] for p in prompts]
        if temperature == 0:
            replies = self.chat.answer_many(conversations, max_tokens=max_chars)
        else:
            replies = [self.chat.chat(c, temperature=temperature, max_tokens=max_chars,
                                      seed=seed + i).text for i, c in enumerate(conversations)]
        return [_cut(r, stop) for r in replies]
