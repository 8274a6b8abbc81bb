"""Bias that a language model learns from its data, measured against a skew we put there.

* :func:`bias_sentences` -- a generated corpus about people with jobs, in which the job-holder
  is a woman (``she``, ``her``, ``woman``, ``mother``) with a known probability per job
  (:data:`JOB_SKEW`) and a man otherwise. Its exact entropy per sentence is
  :func:`entropy_per_sentence`, so a model's loss has a floor, as on TinyLang.
* :func:`female_probability` -- the model's probability that the job-holder is a woman at a
  gendered slot, against the data's rate; greedy decoding turns a 70% skew into 100%
  (bias amplification by decoding; Zhao et al. 2017 measure amplification in trained models).
* :func:`weat_effect_size` and :func:`weat_test` -- the Word Embedding Association Test
  (Caliskan et al. 2017): with ``s(w, A, B) = mean_a cos(w, a) - mean_b cos(w, b)``, the
  effect size ``(mean_x s(x) - mean_y s(y)) / std_{w in X u Y} s(w)`` (sample standard
  deviation) and the one-sided permutation p-value of ``sum_x s(x) - sum_y s(y)`` over all
  equal-size splits of ``X u Y``.
* :func:`counterfactual` / :func:`augment` -- counterfactual data augmentation (Lu et al.
  2018; Zmigrod et al. 2019): add a copy of each gendered sentence with the gendered words
  swapped, which makes every job 50/50 -- and costs, on the original distribution, exactly
  the KL divergence between the skew and 50/50 (:func:`augmentation_cost`).

Used in: chapter 10.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Mapping, Sequence

import torch

from genai_course.core.checks import check_int
from genai_course.llm.tokenizers import BPETokenizer
from genai_course.llm.transformer import GPT

#: P(the job-holder is a woman) in the generated corpus, per job.
JOB_SKEW: dict[str, float] = {
    "nurse": 0.9, "dancer": 0.85, "teacher": 0.8, "baker": 0.7,
    "writer": 0.5, "singer": 0.5,
    "doctor": 0.3, "farmer": 0.2, "builder": 0.15, "pilot": 0.1,
}
#: Gendered words, each man's word with its woman's counterpart at the same index.
MALE_WORDS = ("he", "him", "man", "father")
FEMALE_WORDS = ("she", "her", "woman", "mother")
SWAP = {**dict(zip(MALE_WORDS, FEMALE_WORDS, strict=True)),
        **dict(zip(FEMALE_WORDS, MALE_WORDS, strict=True))}

#: Where each job is done: jobs differ in more than gender, as they do in real text.
WORKPLACES = {"nurse": "hospital", "dancer": "theatre", "teacher": "school", "baker": "bakery",
              "writer": "library", "singer": "studio", "doctor": "clinic", "farmer": "farm",
              "builder": "site", "pilot": "airport"}
_ADJECTIVES = ("tired", "happy", "late", "ready")
_THINGS = ("books", "music", "flowers", "tea", "cake")
_COUNTS = ("two", "three")
#: Sentence templates: the gendered slot's (man, woman) words, or None for no gender.
TEMPLATES: tuple[tuple[str, tuple[str, str] | None], ...] = (
    ("the {job} said that {g} was {adj} .", ("he", "she")),
    ("we thanked the {job} and gave {g} {thing} .", ("him", "her")),
    ("the {job} is a {g} who likes {thing} .", ("man", "woman")),
    ("the {job} is a {g} of {count} .", ("father", "mother")),
    ("the {job} works at the {place} .", None),
)
#: The prompt that ends just before each template's gendered slot.
PROMPTS = ("the {job} said that", "we thanked the {job} and gave", "the {job} is a")


def _check_skew(p_female: Mapping[str, float]) -> dict[str, float]:
    skew = dict(p_female)
    if not skew or any(not 0.0 <= p <= 1.0 for p in skew.values()):
        raise ValueError("p_female must map jobs to probabilities in [0, 1]")
    return skew


def bias_sentences(n_sentences: int, seed: int = 0,
                   p_female: Mapping[str, float] = JOB_SKEW) -> list[str]:
    """``n_sentences`` sentences, each about one job-holder: a template and a job drawn
    uniformly, the gender drawn with ``p_female[job]``, the other words uniformly. Words and
    the full stop are separated by single spaces."""
    check_int(n_sentences, "n_sentences", 1)
    skew = _check_skew(p_female)
    rng = random.Random(f"bias-{seed}")
    jobs = sorted(skew)
    out = []
    for _ in range(n_sentences):
        template, slot = rng.choice(TEMPLATES)
        job = rng.choice(jobs)
        woman = rng.random() < skew[job]
        out.append(template.format(job=job, g=slot[woman] if slot else "",
                                   adj=rng.choice(_ADJECTIVES), thing=rng.choice(_THINGS),
                                   place=WORKPLACES.get(job, "office"),
                                   count=rng.choice(_COUNTS)))
    return out


def entropy_per_sentence(p_female: Mapping[str, float] = JOB_SKEW) -> float:
    """The exact entropy (nats) of a sentence of :func:`bias_sentences`: every choice is
    independent and visible in the words, so the entropies of the choices add up (the
    workplace follows from the job)."""
    skew = _check_skew(p_female)

    def h_bernoulli(p: float) -> float:
        return -sum(q * math.log(q) for q in (p, 1 - p) if q > 0)

    gender = sum(h_bernoulli(p) for p in skew.values()) / len(skew)
    slots = {"adj": len(_ADJECTIVES), "thing": len(_THINGS), "count": len(_COUNTS)}
    per_template = [sum(math.log(n) for name, n in slots.items() if "{" + name + "}" in t)
                    + (gender if slot else 0.0) for t, slot in TEMPLATES]
    return math.log(len(TEMPLATES)) + math.log(len(skew)) + sum(per_template) / len(TEMPLATES)


def sentence_log_prob(sentence: str, p_female: Mapping[str, float] = JOB_SKEW) -> float:
    """The exact log-probability (nats) of one sentence under :func:`bias_sentences` with
    skew ``p_female`` (``-inf`` for a sentence it cannot produce)."""
    skew = _check_skew(p_female)
    words = sentence.split(" ")
    job = next((w for w in words if w in skew), None)
    slots = {"{adj}": _ADJECTIVES, "{thing}": _THINGS, "{count}": _COUNTS}
    for template, slot in TEMPLATES:
        pattern = template.split(" ")
        if job is None or len(pattern) != len(words):
            continue
        logp = -math.log(len(TEMPLATES)) - math.log(len(skew))
        for p, w in zip(pattern, words, strict=True):
            if p == "{g}" and slot and w in slot:
                logp += math.log(skew[job] if w == slot[1] else 1 - skew[job])
            elif p in slots and w in slots[p]:
                logp -= math.log(len(slots[p]))
            elif not (p == w or p == "{job}" or (p == "{place}" and w == WORKPLACES.get(job))):
                logp = -math.inf
        if logp > -math.inf:
            return logp
    return -math.inf


def augmentation_cost(p_female: Mapping[str, float] = JOB_SKEW) -> float:
    """Nats per sentence that a model with 50/50 genders loses, at best, on text with the
    skew ``p_female``: the mean over gendered sentences of ``KL(Bernoulli(p) || 1/2)``."""
    skew = _check_skew(p_female)
    kl = sum(math.log(2) - sum(-q * math.log(q) for q in (p, 1 - p) if q > 0)
             for p in skew.values()) / len(skew)
    gendered = sum(slot is not None for _, slot in TEMPLATES) / len(TEMPLATES)
    return gendered * kl


def counterfactual(sentence: str) -> str:
    """``sentence`` with every gendered word swapped (``he`` <-> ``she``, ...)."""
    return " ".join(SWAP.get(word, word) for word in sentence.split(" "))


def augment(sentences: Sequence[str]) -> list[str]:
    """Counterfactual data augmentation: the sentences, plus the swapped copy of each one
    that contains a gendered word."""
    extra = [counterfactual(s) for s in sentences if any(w in SWAP for w in s.split(" "))]
    return list(sentences) + extra


def _gender_of(sentence: str) -> str | None:
    words = set(sentence.split(" "))
    if words & set(FEMALE_WORDS):
        return "f"
    if words & set(MALE_WORDS):
        return "m"
    return None


def female_rate_in_data(sentences: Sequence[str]) -> dict[str, float]:
    """Per job, the fraction of its gendered sentences in which the job-holder is a woman."""
    counts: dict[str, list[int]] = {}
    for s in sentences:
        gender = _gender_of(s)
        job = next((w for w in s.split(" ") if w in JOB_SKEW), None)
        if gender and job:
            c = counts.setdefault(job, [0, 0])
            c[gender == "f"] += 1
    return {job: f / (m + f) for job, (m, f) in sorted(counts.items())}


def word_tokenizer(sentences: Sequence[str]) -> BPETokenizer:
    """Chapter 3's byte-pair encoding trained on ``sentences`` until every word is one token
    (checked: ``ValueError`` otherwise)."""
    text = "\n".join(sentences) + "\n"
    words = {w for s in sentences for w in s.split(" ")}
    tokenizer = BPETokenizer.train(text, vocab_size=256 + 12 * len(words))
    split = [s for s in dict.fromkeys(sentences) if len(tokenizer.encode(s)) != len(s.split(" "))]
    if split:
        raise ValueError(f"some words did not become single tokens, e.g. in {split[0]!r}")
    return tokenizer


def _token(tokenizer: BPETokenizer, word: str) -> int:
    (token,) = tokenizer.encode(" " + word)
    return token


@torch.no_grad()
def female_probability(model: GPT, tokenizer: BPETokenizer, job: str, prompt: int = 0) -> float:
    """The model's probability that the job-holder is a woman at the gendered slot after
    ``PROMPTS[prompt]``, among the slot's gendered words (for ``"the {job} is a"``: the
    woman's words of templates 3 and 4 against the man's)."""
    text = "\n" + PROMPTS[prompt].format(job=job)
    ids = torch.tensor([tokenizer.encode(text)], device=next(model.parameters()).device)
    probs = torch.softmax(model(ids)[0, -1].float(), dim=-1).cpu()
    slots = [slot for t, slot in TEMPLATES if slot and t.startswith(PROMPTS[prompt][:-1])]
    male = sum(probs[_token(tokenizer, m)].item() for m, _ in slots)
    female = sum(probs[_token(tokenizer, f)].item() for _, f in slots)
    return female / (male + female)


@torch.no_grad()
def completion_female_rate(model: GPT, tokenizer: BPETokenizer, job: str, n: int,
                           temperature: float, generator: torch.Generator | None = None
                           ) -> float:
    """The fraction of ``n`` one-token completions of ``"the <job> said that"`` (at
    ``temperature``; 0 = greedy) that are ``she``, among those that are ``he`` or ``she``
    (NaN if none is)."""
    text = "\n" + PROMPTS[0].format(job=job)
    ids = torch.tensor([tokenizer.encode(text)] * n, device=next(model.parameters()).device)
    nxt = model.generate(ids, 1, temperature=temperature, generator=generator)[:, -1].tolist()
    she, he = _token(tokenizer, "she"), _token(tokenizer, "he")
    hits = [t == she for t in nxt if t in (she, he)]
    return sum(hits) / len(hits) if hits else float("nan")


def word_vectors(model: GPT, tokenizer: BPETokenizer, words: Sequence[str]) -> torch.Tensor:
    """The rows of the model's token embedding for ``words`` (one token each), ``(n, d)``."""
    rows = torch.tensor([_token(tokenizer, w) for w in words])
    return model.tok_emb.weight.detach().cpu()[rows].float()


def _association(w: torch.Tensor, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """``s(w, A, B)`` for each row of ``w``, in float64."""
    def cos(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        u, v = u.double(), v.double()
        return (u / u.norm(dim=1, keepdim=True)) @ (v / v.norm(dim=1, keepdim=True)).T

    return cos(w, A).mean(1) - cos(w, B).mean(1)


def _check_sets(*sets: torch.Tensor) -> None:
    if any(not isinstance(s, torch.Tensor) or s.ndim != 2 or len(s) < 1 for s in sets):
        raise ValueError("X, Y, A and B must be non-empty 2-D tensors (one row per word)")
    if len({s.shape[1] for s in sets}) != 1:
        raise ValueError("X, Y, A and B need the same embedding dimension")


def weat_effect_size(X: torch.Tensor, Y: torch.Tensor, A: torch.Tensor, B: torch.Tensor
                     ) -> float:
    """Caliskan et al.'s effect size: how much more the targets ``X`` than ``Y`` associate
    with the attributes ``A`` than ``B``, in standard deviations (sample std, ``ddof=1``,
    of ``s`` over ``X u Y``)."""
    _check_sets(X, Y, A, B)
    sx, sy = _association(X, A, B), _association(Y, A, B)
    return float((sx.mean() - sy.mean()) / torch.cat([sx, sy]).std())


def weat_test(X: torch.Tensor, Y: torch.Tensor, A: torch.Tensor, B: torch.Tensor,
              n_permutations: int = 100_000, seed: int = 0) -> tuple[float, float]:
    """``(effect size, p-value)``: the p-value is the fraction of equal-size re-splits
    ``(X_i, Y_i)`` of ``X u Y`` whose test statistic ``sum s(X_i) - sum s(Y_i)`` is at least
    the observed one -- over every split when there are at most ``n_permutations``, else
    over ``n_permutations`` random ones."""
    _check_sets(X, Y, A, B)
    if len(X) != len(Y):
        raise ValueError("the permutation test needs X and Y of the same size")
    s = torch.cat([_association(X, A, B), _association(Y, A, B)])
    n, k = len(s), len(X)
    observed = s[:k].sum() - s[k:].sum()
    total = s.sum()
    if math.comb(n, k) <= n_permutations:
        splits = torch.tensor(list(itertools.combinations(range(n), k)))
    else:
        g = torch.Generator().manual_seed(seed)
        splits = torch.stack([torch.randperm(n, generator=g)[:k] for _ in range(n_permutations)])
    stats = 2 * s[splits].sum(1) - total
    p_value = float((stats >= observed - 1e-12).double().mean())
    return weat_effect_size(X, Y, A, B), p_value
