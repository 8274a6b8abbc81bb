"""A statistical watermark for generated text (Kirchenbauer et al. 2023, "A Watermark for
Large Language Models", algorithms 2 and 3).

At each step the previous token (or the previous ``context_width`` tokens) and a secret key
pick a **green list** of ``gamma * |V|`` tokens; generation adds ``delta`` to their logits, so
the text holds more green tokens than chance. Whoever knows the key recounts them: with ``g``
green tokens among ``T`` scored ones,

    z = (g - gamma T) / sqrt(T gamma (1 - gamma))                       (Kirchenbauer eq. 2)

is about standard normal for text written without the watermark, and large for watermarked
text. Choices made here:

* the green list of a context is the first ``int(gamma |V|)`` tokens of a pseudo-random
  permutation of the vocabulary whose seed is a keyed hash of the context
  (:func:`context_seed`), as in the paper's algorithm 2;
* ``context_width`` ``h`` (1 in the paper's algorithm 2): seeding with the previous ``h``
  tokens makes green lists more varied, so a small vocabulary repeats (context, token)
  pairs less, at the price of robustness -- one edited token changes ``h + 1`` green lists
  (Kirchenbauer et al. 2024, "On the Reliability of Watermarks for Large Language Models");
* :func:`detect` scores each distinct (context, token) pair once (ibid., section 4): a
  repeated pair is not new evidence, and counting it again breaks the normal approximation
  (measured in chapter 10). Tokens with fewer than ``h`` tokens before them are not scored.

:class:`WatermarkLogitsProcessor` has the signature of Hugging Face's logits processors,
``(input_ids, scores) -> scores``, as TinyChat's chat API calls it; :func:`generate` samples
from a :class:`~genai_course.llm.transformer.GPT` through such a processor, and
:class:`WatermarkedLM` gives the watermarked logits to
:func:`~genai_course.llm.transformer.evaluate_stream_loss`, to measure what the watermark
costs in cross-entropy.

:func:`chat_watermark_study` watermarks TinyChat's answers to task items and tests them one by
one and pooled (:func:`detect_pooled`): low-entropy answers either keep their content or carry
the watermark, rarely both.

Used in: chapter 10.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from genai_course.core.checks import check_int
from genai_course.data import tasks
from genai_course.llm.attention import KVCache
from genai_course.llm.chat import ChatModel
from genai_course.llm.decoding import sample_next
from genai_course.llm.transformer import GPT

#: The hash key of Kirchenbauer et al.'s reference implementation (any secret int works).
DEFAULT_KEY = 15485863

Context = tuple[int, ...]
GreenFn = Callable[[Context, int, float, int], torch.Tensor]


@dataclass(frozen=True)
class WatermarkConfig:
    """A watermark: the vocabulary size, the green fraction ``gamma``, the logit bias
    ``delta``, the secret ``key`` and how many previous tokens seed a green list."""

    vocab_size: int
    gamma: float = 0.25
    delta: float = 2.0
    key: int = DEFAULT_KEY
    context_width: int = 1

    def __post_init__(self) -> None:
        check_int(self.vocab_size, "vocab_size", 2)
        check_int(self.key, "key")
        check_int(self.context_width, "context_width", 1)
        for name in ("gamma", "delta"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{name} must be a number, got {type(value).__name__}")
        if not 0.0 < self.gamma < 1.0:
            raise ValueError(f"gamma must be in (0, 1), got {self.gamma}")
        if not (math.isfinite(self.delta) and self.delta >= 0):
            raise ValueError(f"delta must be finite and >= 0, got {self.delta}")
        if self.green_size < 1:
            raise ValueError(f"gamma * vocab_size = {self.gamma * self.vocab_size:g} leaves an "
                             f"empty green list")

    @property
    def green_size(self) -> int:
        """Tokens in each green list: ``int(gamma * vocab_size)``."""
        return int(self.gamma * self.vocab_size)


def context_seed(key: int, context: Context) -> int:
    """A keyed pseudo-random 63-bit seed for the green list after ``context`` (a tuple of
    token ids): BLAKE2b (a keyed hash, RFC 7693) of ``"c1,c2,..."`` with ``key`` as its key,
    first 8 bytes, top bit cleared. Without the key the seeds cannot be predicted."""
    text = ",".join(str(int(c)) for c in context)
    digest = hashlib.blake2b(text.encode(), digest_size=8, key=key.to_bytes(16, "big")).digest()
    return int.from_bytes(digest, "big") >> 1


def green_list(context: Context, vocab_size: int, gamma: float, key: int) -> torch.Tensor:
    """The green list after ``context`` (a tuple of the previous token ids): a boolean mask of
    shape ``(vocab_size,)``, True for the first ``int(gamma * vocab_size)`` tokens of
    ``torch.randperm(vocab_size)`` drawn from a CPU generator seeded with
    :func:`context_seed` (Kirchenbauer et al.'s algorithm 2). Plain arguments, so that a
    student's version can be graded in the sandbox."""
    generator = torch.Generator().manual_seed(context_seed(key, context))
    permutation = torch.randperm(vocab_size, generator=generator)
    mask = torch.zeros(vocab_size, dtype=torch.bool)
    mask[permutation[:int(gamma * vocab_size)]] = True
    return mask


class GreenLists:
    """The green lists of one watermark, each computed once by ``green_fn`` (default
    :func:`green_list`) and kept."""

    def __init__(self, config: WatermarkConfig, green_fn: GreenFn = green_list) -> None:
        self.config, self.green_fn = config, green_fn
        self.rows: dict[Context, torch.Tensor] = {}

    def row(self, context: Context) -> torch.Tensor:
        """The green mask after ``context``."""
        if context not in self.rows:
            cfg = self.config
            row = self.green_fn(context, cfg.vocab_size, cfg.gamma, cfg.key)
            if not isinstance(row, torch.Tensor) or row.dtype != torch.bool or \
                    tuple(row.shape) != (self.config.vocab_size,):
                raise TypeError(f"the green list function must return a bool tensor of shape "
                                f"({self.config.vocab_size},), got {row!r:.80}")
            self.rows[context] = row
        return self.rows[context]

    def mask(self, contexts: torch.Tensor) -> torch.Tensor:
        """Green masks for a tensor of contexts of shape ``(..., context_width)``: shape
        ``(..., vocab_size)``."""
        h, V = self.config.context_width, self.config.vocab_size
        if contexts.shape[-1:] != (h,):
            raise ValueError(f"contexts must end in a dimension of {h}, got "
                             f"{tuple(contexts.shape)}")
        flat = contexts.detach().cpu().long().reshape(-1, h)
        if flat.numel() and (flat.min() < 0 or flat.max() >= V):
            raise ValueError(f"token ids must be in [0, {V})")
        unique, inverse = flat.unique(dim=0, return_inverse=True)
        table = torch.stack([self.row(tuple(c)) for c in unique.tolist()]) if len(unique) \
            else torch.zeros(0, V, dtype=torch.bool)
        return table[inverse].reshape(*contexts.shape[:-1], V).to(contexts.device)


class WatermarkLogitsProcessor:
    """Adds ``delta`` to the logits of the green list of each row's last ``context_width``
    tokens (rows with fewer tokens are left alone). Call it like a Hugging Face
    ``LogitsProcessor``: ``processor(input_ids (B, t), scores (B, V))``."""

    def __init__(self, config: WatermarkConfig, green_fn: GreenFn = green_list) -> None:
        self.config = config
        self.lists = GreenLists(config, green_fn)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if scores.shape[-1] != self.config.vocab_size:
            raise ValueError(f"scores have {scores.shape[-1]} tokens, the watermark "
                             f"{self.config.vocab_size}")
        h = self.config.context_width
        if input_ids.shape[1] < h:
            return scores
        green = self.lists.mask(input_ids[:, -h:])
        return scores + self.config.delta * green.to(scores.dtype)


@torch.no_grad()
def generate(model: GPT, prompt: torch.Tensor, max_new_tokens: int, *,
             processor: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
             temperature: float = 1.0, generator: torch.Generator | None = None
             ) -> torch.Tensor:
    """Sample ``max_new_tokens`` tokens after each row of ``prompt`` (``(B, t)``), passing the
    logits through ``processor(tokens so far, logits)`` first, with a key/value cache; the
    prompt and the new tokens must fit in the model's ``block_size``. Returns ``(B, t + n)``."""
    check_int(max_new_tokens, "max_new_tokens")
    if prompt.ndim != 2 or prompt.shape[1] < 1:
        raise ValueError(f"prompt must have shape (B, t >= 1), got {tuple(prompt.shape)}")
    if prompt.shape[1] + max_new_tokens > model.config.block_size:
        raise ValueError(f"{prompt.shape[1]} + {max_new_tokens} tokens exceed block_size "
                         f"{model.config.block_size}")
    was_training = model.training
    model.eval()
    cache = KVCache(model.config.n_layer)
    tokens, new = prompt, prompt
    for _ in range(max_new_tokens):
        logits = model(new, cache)[:, -1, :].float()
        if processor is not None:
            logits = processor(tokens, logits)
        new = sample_next(logits, temperature, generator=generator)
        tokens = torch.cat([tokens, new], dim=1)
    model.train(was_training)
    return tokens


class WatermarkedLM(nn.Module):
    """A GPT whose next-token logits carry the watermark, for scoring with
    :func:`~genai_course.llm.transformer.evaluate_stream_loss` (no key/value cache): the
    logits at position ``t`` get ``delta`` on the green list of tokens ``t - h + 1 .. t``
    (positions with a shorter past are left alone)."""

    def __init__(self, model: GPT, config: WatermarkConfig, green_fn: GreenFn = green_list
                 ) -> None:
        super().__init__()
        if model.config.vocab_size != config.vocab_size:
            raise ValueError(f"the model has {model.config.vocab_size} tokens, the watermark "
                             f"{config.vocab_size}")
        self.model, self.config, self.watermark = model, model.config, config
        self.lists = GreenLists(config, green_fn)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        logits = self.model(idx)
        h = self.watermark.context_width
        if idx.shape[1] < h:
            return logits
        green = self.lists.mask(idx.unfold(1, h, 1)).to(logits.dtype)  # (B, T - h + 1, V)
        bias = torch.zeros_like(logits)
        bias[:, h - 1:] = self.watermark.delta * green
        return logits + bias


def z_score(green: int, scored: int, gamma: float) -> float:
    """The one-proportion z statistic of ``green`` successes in ``scored`` trials that each
    succeed with probability ``gamma`` under the null hypothesis (Kirchenbauer eq. 2)."""
    check_int(scored, "scored", 1)
    check_int(green, "green")
    if green > scored:
        raise ValueError(f"green ({green}) cannot exceed scored ({scored})")
    if isinstance(gamma, bool) or not isinstance(gamma, (int, float)) or not 0 < gamma < 1:
        raise ValueError(f"gamma must be a number in (0, 1), got {gamma!r}")
    return (green - gamma * scored) / math.sqrt(scored * gamma * (1 - gamma))


@dataclass(frozen=True)
class Detection:
    """What :func:`detect` found: ``green`` of ``scored`` tokens, the ``z`` score."""

    green: int
    scored: int
    z: float

    @property
    def p_value(self) -> float:
        """One-sided normal tail ``P(Z > z)`` under the null hypothesis."""
        return 0.5 * math.erfc(self.z / math.sqrt(2))


def _ids(token_ids: Sequence[int] | torch.Tensor) -> list[int]:
    if isinstance(token_ids, torch.Tensor):
        if token_ids.ndim != 1:
            raise ValueError(f"token_ids must be 1-D, got shape {tuple(token_ids.shape)}")
        return token_ids.tolist()
    return [check_int(t, "token id") for t in token_ids]


def detect(token_ids: Sequence[int] | torch.Tensor, config: WatermarkConfig, *,
           prefix: Sequence[int] = (), ignore_repeats: bool = True,
           lists: GreenLists | None = None,
           z_fn: Callable[[int, int, float], float] = z_score) -> Detection:
    """Count green tokens in ``token_ids`` and test for the watermark of ``config``.

    Each token is scored against the green list of the ``context_width`` tokens before it;
    ``prefix`` (e.g. the end of the prompt) supplies the context of the first ones, tokens
    without a full context are not scored. With ``ignore_repeats`` each distinct (context,
    token) pair is scored once. ``lists`` reuses computed green lists (and can hold another
    ``green_fn``); ``z_fn(green, scored, gamma)`` gives ``z``.
    """
    pairs = _scored_pairs(_ids(token_ids), prefix, config.context_width)
    return _test(pairs, config, ignore_repeats, lists, z_fn)


def detect_pooled(texts: Sequence[tuple[Sequence[int], Sequence[int] | torch.Tensor]],
                  config: WatermarkConfig, *, lists: GreenLists | None = None) -> Detection:
    """One test over many texts, each given as ``(prefix, token_ids)``: the distinct
    (context, token) pairs of all of them are scored once, as if one long text. Short answers
    that each carry too few tokens for a verdict can still reveal the watermark together
    (the z score grows like the square root of the tokens scored, Kirchenbauer eq. 2)."""
    pairs = [pair for prefix, ids in texts
             for pair in _scored_pairs(_ids(ids), prefix, config.context_width)]
    return _test(pairs, config, True, lists, z_score)


def _scored_pairs(ids: list[int], prefix: Sequence[int], h: int) -> list[tuple[Context, int]]:
    """(the ``h`` tokens before, token) for each token of ``ids`` with a full context."""
    full = [check_int(t, "prefix token") for t in prefix] + ids
    first = max(h, len(full) - len(ids))
    return [(tuple(full[i - h:i]), full[i]) for i in range(first, len(full))]


def _test(pairs: list[tuple[Context, int]], config: WatermarkConfig, ignore_repeats: bool,
          lists: GreenLists | None, z_fn: Callable[[int, int, float], float]) -> Detection:
    lists = GreenLists(config) if lists is None else lists
    if lists.config != config:
        raise ValueError("lists were built for another watermark config")
    if ignore_repeats:
        pairs = list(dict.fromkeys(pairs))
    if not pairs:
        raise ValueError(f"nothing to score: need more than {config.context_width} tokens "
                         f"(with the prefix)")
    green = sum(bool(lists.row(context)[token]) for context, token in pairs)
    return Detection(green, len(pairs), float(z_fn(green, len(pairs), config.gamma)))


def chat_watermark_study(chat: ChatModel, items: Mapping[str, Sequence[tasks.Item]],
                         deltas: Sequence[float], *, gamma: float = 0.25,
                         context_width: int = 3, key: int = DEFAULT_KEY,
                         threshold: float = 4.0, max_tokens: int = 120) -> list[dict]:
    """Watermark a chat model's greedy answers to task items through its
    ``logits_processor`` hook, one row per (family, ``delta``): accuracy by the task's exact
    checker, the mean answer length in tokens, the share of answers flagged one by one
    (``z > threshold``; answers are scored from the prompt's last ``context_width`` tokens)
    and the z of all answers pooled (:func:`detect_pooled`). ``delta = 0`` is the model
    without the watermark, scored with the same key."""
    rows = []
    for family, family_items in items.items():
        for delta in deltas:
            config = WatermarkConfig(chat.tokenizer.vocab_size, gamma, delta, key,
                                     context_width)
            processor = WatermarkLogitsProcessor(config)
            correct, texts, flagged = 0, [], 0
            for item in family_items:
                messages = item.messages()
                reply = chat.chat(messages, temperature=0.0, max_tokens=max_tokens,
                                  logits_processor=processor).choices[0].text
                correct += tasks.check(item, reply)
                text = (chat.prompt_ids(messages)[-context_width:], chat.tokenizer.encode(reply))
                texts.append(text)
                if text[1]:
                    flagged += detect(text[1], config, prefix=text[0],
                                      lists=processor.lists).z > threshold
            n = len(family_items)
            rows.append(dict(family=family, delta=delta, accuracy=correct / n,
                             tokens=sum(len(ids) for _, ids in texts) / n, flagged=flagged / n,
                             pooled=detect_pooled(texts, config, lists=processor.lists)))
    return rows


def substitute_tokens(token_ids: torch.Tensor, fraction: float, vocabulary: torch.Tensor,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """An edit attack: ``round(fraction * T)`` positions of each row of ``token_ids``
    (``(B, T)``), chosen at random, get a token drawn uniformly from ``vocabulary``."""
    if token_ids.ndim != 2:
        raise ValueError(f"token_ids must have shape (B, T), got {tuple(token_ids.shape)}")
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    out = token_ids.clone()
    B, T = out.shape
    k = round(fraction * T)
    for row in range(B):
        where = torch.randperm(T, generator=generator)[:k]
        pick = torch.randint(len(vocabulary), (k,), generator=generator)
        out[row, where] = vocabulary[pick].to(out.dtype)
    return out
