"""Memorisation of training data, measured with canaries, and two mitigations.

* **Canaries** (Carlini et al. 2019, "The Secret Sharer"): sentences such as ``the code of
  the king is 4817.`` inserted into the training text a chosen number of times.
* **Exposure** (Carlini et al. 2019, definition 4): with the canary's secret ranked among
  all ``|R|`` candidate secrets by the model's probability (rank 1 = most likely),
  ``exposure = log2 |R| - log2 rank``. A secret the model never saw has expected exposure
  ``log2 |R| - E[log2 rank]``, about ``1 / ln 2 = 1.44`` bits; a memorised one reaches
  ``log2 |R|``. :func:`candidate_log_probs` scores *every* candidate exactly (a brute force
  over 10^n digit strings, feasible for small ``n``).
* **Extraction** (Carlini et al. 2021): prompt with the prefix and sample.
* **Deduplication** (Kandpal et al. 2022; Lee et al. 2022): train on each distinct sentence
  once.
* **DP-SGD** (Abadi et al. 2016, algorithm 1): clip each example's gradient to norm ``C``,
  sum, add Gaussian noise ``N(0, sigma^2 C^2 I)``, average. Per-example gradients come from
  ``torch.func`` (``vmap`` over ``grad``). :func:`dp_epsilon` is the Renyi-DP accountant of
  the sampled Gaussian mechanism for integer orders (Mironov et al. 2019, section 3.3),
  converted to (epsilon, delta)-DP (Mironov 2017, proposition 3).

Used in: chapter 10.
"""

from __future__ import annotations

import math
import random
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.func import functional_call, grad, vmap

from genai_course.core.checks import check_int, check_number
from genai_course.core.train import History, fit
from genai_course.llm.tokenizers import CharTokenizer
from genai_course.llm.transformer import GPT, random_windows

DIGITS = "0123456789"
#: Who owns each canary's code: a TinyLang agent, so the prefix is made of known words.
OWNERS = ("king", "queen", "wizard", "witch", "boy", "girl")


@dataclass(frozen=True)
class Canary:
    """The sentence ``"the code of the <owner> is <secret>."``, inserted ``repetitions``
    times into the training text."""

    owner: str
    secret: str
    repetitions: int

    @property
    def prefix(self) -> str:
        return f"the code of the {self.owner} is "

    @property
    def sentence(self) -> str:
        return f"{self.prefix}{self.secret}."


def make_canaries(repetitions: Sequence[int], n_digits: int = 4, seed: int = 0
                  ) -> list[Canary]:
    """One canary per entry of ``repetitions`` (at most ``len(OWNERS)``), each with its own
    owner and a random secret of ``n_digits`` digits."""
    check_int(n_digits, "n_digits", 1)
    if len(repetitions) > len(OWNERS):
        raise ValueError(f"at most {len(OWNERS)} canaries, got {len(repetitions)}")
    rng = random.Random(f"canaries-{seed}")
    return [Canary(owner, "".join(rng.choice(DIGITS) for _ in range(n_digits)),
                   check_int(r, "repetitions"))
            for owner, r in zip(OWNERS, repetitions, strict=False)]


def insert_canaries(sentences: Sequence[str], canaries: Sequence[Canary], seed: int = 0
                    ) -> list[str]:
    """``sentences`` with each canary's sentence inserted ``repetitions`` times at random
    places."""
    out = list(sentences)
    rng = random.Random(f"insert-{seed}")
    for canary in canaries:
        for _ in range(canary.repetitions):
            out.insert(rng.randrange(len(out) + 1), canary.sentence)
    return out


def deduplicate(sentences: Sequence[str]) -> list[str]:
    """Each distinct sentence once, in the order of first appearance."""
    return list(dict.fromkeys(sentences))


def canary_tokenizer(alphabet: str) -> CharTokenizer:
    """A character tokenizer for TinyLang's ``alphabet`` plus the digits."""
    return CharTokenizer(alphabet + DIGITS)


@torch.no_grad()
def candidate_log_probs(model: GPT, tokenizer: CharTokenizer, prefix: str, n_digits: int,
                        batch_size: int = 1000) -> torch.Tensor:
    """``log p(s | "\\n" + prefix)`` in nats for every digit string ``s`` of length
    ``n_digits``, as a tensor of ``10**n_digits`` entries; entry ``i`` is the string of
    ``i`` written with leading zeros. One forward pass per string of ``n_digits - 1``
    digits scores all ten of its continuations."""
    check_int(n_digits, "n_digits", 1)
    if 10 ** n_digits > 10 ** 6:
        raise ValueError("at most 6 digits: the brute force scores every candidate")
    digit_ids = torch.tensor(tokenizer.encode(DIGITS))
    context = tokenizer.encode("\n" + prefix)
    heads = [f"{i:0{n_digits - 1}d}" if n_digits > 1 else "" for i in range(10 ** (n_digits - 1))]
    device = next(model.parameters()).device
    out = []
    for start in range(0, len(heads), batch_size):
        chunk = heads[start:start + batch_size]
        rows = torch.tensor([context + tokenizer.encode(h) for h in chunk], device=device)
        logp = torch.log_softmax(model(rows).float(), dim=-1).cpu()
        c = len(context)
        # log-probabilities of the given head digits, then of each possible last digit
        head = logp[:, c - 1:c - 1 + n_digits - 1].gather(-1, rows[:, c:].cpu()[..., None])
        last = logp[:, -1, digit_ids]
        out.append(head.sum(dim=(1, 2))[:, None] + last)
    return torch.cat(out).reshape(-1)


def exposure_from_log_probs(canary_log_prob: float, candidate_log_probs: torch.Tensor) -> float:
    """Carlini et al.'s exposure, ``log2 |R| - log2 rank``, where ``|R|`` is the number of
    candidates and the canary's rank is 1 plus the number of candidates strictly more likely
    than it."""
    if not isinstance(candidate_log_probs, torch.Tensor):
        raise TypeError(f"candidate_log_probs must be a torch.Tensor, got "
                        f"{type(candidate_log_probs).__name__}")
    if candidate_log_probs.ndim != 1 or len(candidate_log_probs) < 1:
        raise ValueError(f"candidate_log_probs must be a non-empty 1-D tensor, got shape "
                         f"{tuple(candidate_log_probs.shape)}")
    rank = 1 + int((candidate_log_probs > canary_log_prob).sum())
    return math.log2(len(candidate_log_probs)) - math.log2(rank)


def expected_random_exposure(space_size: int) -> float:
    """Expected exposure of a secret whose rank is uniform on ``1..space_size`` (one the
    model never saw): ``log2 N - log2(N!) / N``, which tends to ``1 / ln 2``."""
    check_int(space_size, "space_size", 1)
    return math.log2(space_size) - math.lgamma(space_size + 1) / math.log(2) / space_size


@torch.no_grad()
def extraction_rate(model: GPT, tokenizer: CharTokenizer, canary: Canary, n_samples: int,
                    temperature: float = 1.0, generator: torch.Generator | None = None
                    ) -> float:
    """The fraction of ``n_samples`` continuations of ``"\\n" + canary.prefix`` (sampled
    at ``temperature``; 0 = greedy) whose first digits are the canary's secret."""
    check_int(n_samples, "n_samples", 1)
    context = torch.tensor([tokenizer.encode("\n" + canary.prefix)] * n_samples,
                           device=next(model.parameters()).device)
    out = model.generate(context, len(canary.secret), temperature=temperature,
                         generator=generator)[:, context.shape[1]:]
    hits = [tokenizer.decode(row.tolist()) == canary.secret for row in out]
    return sum(hits) / n_samples


def _per_example_loss(model: GPT):
    def loss(params: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        logits = functional_call(model, params, (x[None],))
        return F.cross_entropy(logits[0], y)

    return loss


def private_gradients(model: GPT, x: torch.Tensor, y: torch.Tensor, clip: float,
                      noise_multiplier: float, generator: torch.Generator | None = None
                      ) -> dict[str, torch.Tensor]:
    """DP-SGD's gradient for a batch of ``B`` windows ``x`` with targets ``y``: each
    example's gradient (over all parameters together) clipped to norm ``clip``, summed,
    plus ``N(0, (noise_multiplier * clip)^2)`` noise per coordinate, divided by ``B``."""
    check_number(clip, "clip", positive=True)
    check_number(noise_multiplier, "noise_multiplier")
    params = {k: v.detach() for k, v in model.named_parameters()}
    with warnings.catch_warnings():  # vmap runs PyTorch's fused attention one example at a time
        warnings.filterwarnings("ignore", message=".*performance drop.*batching rule")
        per_example = vmap(grad(_per_example_loss(model)), in_dims=(None, 0, 0))(params, x, y)
    norms = torch.sqrt(sum(g.flatten(1).pow(2).sum(1) for g in per_example.values()))
    scale = (clip / (norms + 1e-12)).clamp(max=1.0)
    out = {}
    for name, g in per_example.items():
        clipped = (g * scale.view(-1, *[1] * (g.ndim - 1))).sum(0)
        noise = torch.randn(clipped.shape, generator=generator) * (noise_multiplier * clip)
        out[name] = (clipped + noise.to(clipped.device)) / len(x)
    return out


def train_dp_lm(model: GPT, ids: torch.Tensor, steps: int, batch_size: int = 32,
                lr: float = 3e-3, clip: float = 1.0, noise_multiplier: float = 1.0,
                seed: int = 0, progress: bool | None = None) -> History:
    """Train ``model`` on random windows of ``ids`` with DP-SGD's gradients
    (:func:`private_gradients`) and Adam, through :func:`~genai_course.core.train.fit`: the
    loss handed to ``fit`` is ``sum(p * g_private)``, whose gradient is the private
    gradient; the recorded ``loss`` is the batch's cross-entropy."""
    block = model.config.block_size
    noise = torch.Generator().manual_seed(seed)

    def loss_fn(starts: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        x, y = random_windows(ids, starts, block)
        with torch.no_grad():
            ce = model.loss(x, y).item()
        g = private_gradients(model, x, y, clip, noise_multiplier, noise)
        surrogate = sum((p * g[name]).sum() for name, p in model.named_parameters())
        return surrogate, {"loss": ce}

    starts = torch.arange(len(ids) - block - 1)
    return fit(model, loss_fn, starts, steps=steps, batch_size=batch_size, seed=seed, lr=lr,
               desc="DP-SGD", progress=progress)


def rdp_sampled_gaussian(sample_rate: float, noise_multiplier: float, order: int) -> float:
    """Renyi DP of one step of the sampled Gaussian mechanism at integer ``order`` alpha:
    ``log(sum_k C(alpha, k) (1-q)^(alpha-k) q^k exp((k^2 - k) / (2 sigma^2))) / (alpha - 1)``
    (Mironov et al. 2019, section 3.3), computed in log space."""
    check_int(order, "order", 2)
    q, sigma = sample_rate, check_number(noise_multiplier, "noise_multiplier", positive=True)
    if not 0 < q <= 1:
        raise ValueError(f"sample_rate must be in (0, 1], got {q}")
    terms = []
    for k in range(order + 1):
        log_binom = math.lgamma(order + 1) - math.lgamma(k + 1) - math.lgamma(order - k + 1)
        log_q = k * math.log(q) + ((order - k) * math.log1p(-q) if q < 1 else
                                   (0.0 if k == order else -math.inf))
        terms.append(log_binom + log_q + (k * k - k) / (2 * sigma ** 2))
    top = max(terms)
    return (top + math.log(sum(math.exp(t - top) for t in terms))) / (order - 1)


def dp_epsilon(sample_rate: float, noise_multiplier: float, steps: int, delta: float,
               orders: Sequence[int] = tuple(range(2, 129))) -> float:
    """The epsilon of (epsilon, delta)-DP after ``steps`` steps of DP-SGD: RDP composes by
    adding, and ``epsilon = min_alpha steps * rdp(alpha) + log(1/delta) / (alpha - 1)``.
    Assumes each example joins each batch independently with probability ``sample_rate``
    (Poisson sampling), as the analysis of DP-SGD does."""
    check_int(steps, "steps", 1)
    if not 0 < delta < 1:
        raise ValueError(f"delta must be in (0, 1), got {delta}")
    return min(steps * rdp_sampled_gaussian(sample_rate, noise_multiplier, a)
               + math.log(1 / delta) / (a - 1) for a in orders)
