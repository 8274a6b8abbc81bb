"""Recipe of the shipped ``tinychat`` checkpoint: the chapter 3 GPT, pretrained on plain text
and instruction-tuned on the task world, and its report card.

Three stages, all through :func:`genai_course.core.train.fit`:

1. **pretraining** on a plain character stream (:func:`pretraining_text`): TinyLang
   sentences, the biographies of TinyWorld's *trained* people in several phrasings, and task
   items written plainly (``prompt\\nanswer``), as next-token prediction on random windows;
2. **instruction tuning** on chat conversations (:func:`sft_batches`) rendered with the chat
   template, with the loss on the assistant's tokens only (Ouyang et al. 2022), so the model
   learns to answer, not to imitate the user;
3. **consolidation**: a shorter instruction-tuning stage from the stage-2 weights as they are
   saved (float16), with a fresh optimizer, a lower learning rate and its own mixture
   (:data:`CONSOLIDATION`: more two-digit addition answered directly, more closed-book facts
   and JSON, enough of everything else that it is not forgotten), like the annealing phase
   on a curated mixture at the end of large models' training (Llama 3, Grattafiori et al.
   2024, section 3.4.3).

``load_pretrained("tinychat")`` returns the :class:`~genai_course.llm.transformer.GPT` with
``model.chat``, a :class:`~genai_course.llm.chat.ChatModel` (its generation API); use
:func:`load_chat` to get the ChatModel directly. :func:`report_card` measures every task
family with the exact checkers on fresh test-split items against trivial baselines.

Used in: chapters 6, 7, 8, 9, 10.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from genai_course.core.train import fit
from genai_course.data import tasks
from genai_course.data.tinylang import TinyLang
from genai_course.data.tinyworld import default_world
from genai_course.llm.chat import ChatModel, ChatTokenizer, encode_chat
from genai_course.llm.tinylang_lm import LANGUAGE_SEED
from genai_course.llm.transformer import GPT, GPTConfig, train_lm

#: The architecture (``vocab_size`` comes from the tokenizer).
CONFIG: dict[str, Any] = dict(block_size=512, n_layer=4, n_head=4, n_embd=128, dropout=0.0,
                              positional="rope")
#: The training run (a GPU run may raise the steps; see :func:`train`).
TRAINING: dict[str, Any] = dict(pretrain_steps=400, pretrain_batch=6, pretrain_lr=3e-3,
                                sft_steps=4400, sft_tokens=2560, sft_lr=2e-3,
                                warmup=100, weight_decay=0.1, threads=1,
                                consolidate_steps=2000, consolidate_lr=1e-3,
                                consolidate_warmup=50)

#: Instruction-tuning mixture: family -> (weight, options sampler).
MIXTURE: dict[str, float] = {
    "add": 0.22, "sub": 0.08, "sort": 0.02, "reverse": 0.02, "max": 0.02, "count": 0.02,
    "fact": 0.16, "context": 0.05, "mc": 0.02, "json": 0.07, "classify": 0.11,
    "cipher": 0.03, "format": 0.10, "say": 0.02, "subject": 0.06,
}
#: Arithmetic operand sizes: digits -> (weight, probability of the scratchpad). Two digits
#: are mostly answered directly; three and four mostly step by step.
DIGITS: dict[int, tuple[float, float]] = {1: (0.1, 0.2), 2: (0.45, 0.2), 3: (0.2, 0.6),
                                          4: (0.25, 0.6)}
#: The fraction of in-context label items with natural label words (the rest arbitrary).
NATURAL_LABELS = 0.35
#: Mixture of the consolidation stage (stage 3): the families that stage 2 left short of
#: their targets weigh more (two-digit addition, closed-book facts, JSON).
CONSOLIDATION: dict[str, float] = {
    "add": 0.36, "sub": 0.04, "sort": 0.01, "reverse": 0.01, "max": 0.01, "count": 0.01,
    "fact": 0.30, "context": 0.02, "mc": 0.01, "json": 0.06, "classify": 0.06,
    "cipher": 0.01, "format": 0.05, "say": 0.01, "subject": 0.04,
}
#: Operand sizes of the consolidation stage: mostly two digits answered directly, and four
#: digits mostly with the scratchpad so that it is kept.
CONSOLIDATION_DIGITS: dict[int, tuple[float, float]] = {1: (0.05, 0.2), 2: (0.65, 0.1),
                                                        3: (0.1, 0.6), 4: (0.2, 0.8)}


def _options(family: str, rng: random.Random,
             digits: dict[int, tuple[float, float]] | None = None) -> dict[str, Any]:
    """Options of a training item: what TinyChat is (and is not) taught. ``digits`` is the
    operand-size table of the stage (default :data:`DIGITS`)."""
    if family in ("add", "sub"):
        sizes = DIGITS if digits is None else digits
        n = rng.choices(list(sizes), weights=[w for w, _ in sizes.values()])[0]
        return {"digits": n, "scratchpad": rng.random() < sizes[n][1]}
    if family == "fact":
        return {"people": "trained"}
    if family == "context":  # read invented people mostly; held-back people never appear
        return {"source": "fresh" if rng.random() < 0.7 else "trained",
                "n_docs": rng.randint(1, 4)}
    if family == "classify":
        return {"mapping": "natural" if rng.random() < NATURAL_LABELS else "arbitrary"}
    if family == "subject":  # defended injections are answered; undefended ones never shown
        defence = rng.choice(("none", "delimiters", "datamark", "system"))
        return {"defence": defence, "attack": defence != "none" and rng.random() < 0.5}
    return {}


def sample_item(rng: random.Random, family: str | None = None,
                mixture: dict[str, float] | None = None,
                digits: dict[int, tuple[float, float]] | None = None) -> tasks.Item:
    """One training item (train split only) drawn from ``mixture`` (default
    :data:`MIXTURE`; ``digits`` as in :func:`_options`)."""
    mixture = MIXTURE if mixture is None else mixture
    family = family or rng.choices(list(mixture), weights=list(mixture.values()))[0]
    while True:
        item = tasks.FAMILIES[family](rng, default_world(), **_options(family, rng, digits))
        if not tasks.is_test_key(item.key):
            return item


def sample_conversation(rng: random.Random, mixture: dict[str, float] | None = None,
                        digits: dict[int, tuple[float, float]] | None = None
                        ) -> list[dict[str, str]]:
    """A training conversation: one to three task turns; a generic system prompt on some
    (items drawn as by :func:`sample_item`)."""
    turns = rng.choices((1, 2, 3), weights=(0.85, 0.1, 0.05))[0]
    items = [sample_item(rng, None, mixture, digits) for _ in range(turns)]
    messages: list[dict[str, str]] = []
    system = items[0].system
    if system is None and rng.random() < 0.2:
        system = rng.choice(tasks.SYSTEM_PROMPTS)
    if system is not None:
        messages.append({"role": "system", "content": system})
    for i, item in enumerate(items):
        if i and item.system is not None:  # a later turn cannot change the system prompt
            item = sample_item(rng, "add", mixture, digits)
        messages += [{"role": "user", "content": item.prompt},
                     {"role": "assistant", "content": item.answer}]
    return messages


def pretraining_text(seed: int, n_chars: int) -> str:
    """About ``n_chars`` characters of plain text: a quarter TinyLang sentences, a quarter
    biographies of the trained people (eight phrasings each, shuffled), half task items as
    ``prompt\\nanswer`` paragraphs."""
    rng = random.Random(f"tinychat-pretrain/{seed}")
    lang = TinyLang(LANGUAGE_SEED)
    docs = [d.text for d in default_world().documents("trained", variants=8)]
    parts: list[str] = []
    size = 0
    while size < n_chars:
        r = rng.random()
        if r < 0.25:
            piece = "\n".join(lang.sample_sentences(rng.randint(2, 6))) + "\n\n"
        elif r < 0.5:
            piece = " ".join(rng.sample(docs, 3)) + "\n\n"
        else:
            item = sample_item(rng)
            system = f"{item.system}\n" if item.system else ""
            piece = f"{system}{item.prompt}\n{item.answer}\n\n"
        parts.append(piece)
        size += len(piece)
    return "".join(parts)


def sft_batches(tokenizer: ChatTokenizer, seed: int, tokens_per_batch: int, block_size: int,
                pool: int = 256, mixture: dict[str, float] | None = None,
                digits: dict[int, tuple[float, float]] | None = None, stage: str = "sft"
                ) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Endless batches ``(inputs, targets, mask)`` of fresh conversations: a pool of
    conversations is sorted by length and cut into batches of about ``tokens_per_batch``
    padded tokens (little padding), in shuffled order. ``mask`` is True on the targets that
    the assistant wrote; padding and the prompts are never trained on. ``mixture`` and
    ``digits`` choose the items (:func:`sample_item`); each ``stage`` name has its own
    random stream, so two stages never see the same conversations in the same order."""
    rng = random.Random(f"tinychat-{stage}/{seed}")
    while True:
        encoded = []
        while len(encoded) < pool:
            ids, mask = encode_chat(tokenizer, sample_conversation(rng, mixture, digits))
            if len(ids) <= block_size + 1:
                encoded.append((ids, mask))
        encoded.sort(key=lambda e: -len(e[0]))  # longest first: a batch's first is longest
        batches, start = [], 0
        while start < len(encoded):
            longest = len(encoded[start][0])
            count = max(1, tokens_per_batch // longest)
            chunk = encoded[start:start + count]
            x = torch.full((len(chunk), longest), tokenizer.end_id)
            m = torch.zeros((len(chunk), longest), dtype=torch.bool)
            for row, (ids, mask) in enumerate(chunk):
                x[row, :len(ids)] = torch.tensor(ids)
                m[row, :len(mask)] = torch.tensor(mask)
            batches.append((x[:, :-1], x[:, 1:], m[:, 1:]))
            start += count
        rng.shuffle(batches)
        yield from batches


def masked_loss(model: GPT, inputs: torch.Tensor, targets: torch.Tensor,
                mask: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the ``mask``-ed target tokens only."""
    logits = model(inputs)
    nll = F.cross_entropy(logits.transpose(1, 2), targets, reduction="none")
    return (nll * mask).sum() / mask.sum().clamp(min=1)


def _schedule(steps: int, warmup: int) -> Any:
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, steps - warmup))
        return 0.1 + 0.45 * (1 + math.cos(math.pi * progress))
    return factor


def build_model(seed: int = 0, config: dict[str, Any] | None = None) -> GPT:
    """An untrained TinyChat GPT (``config`` overrides entries of :data:`CONFIG`)."""
    cfg = GPTConfig(vocab_size=ChatTokenizer().vocab_size, **{**CONFIG, **(config or {})})
    return GPT(cfg, seed=seed)


def _instruction_tune(model: GPT, batches: Iterator[tuple[torch.Tensor, ...]], steps: int,
                      lr: float, warmup: int, weight_decay: float, desc: str,
                      progress: bool) -> list[float]:
    """One instruction-tuning stage: a fresh AdamW (no weight decay on gains and biases),
    warm-up then cosine decay to a tenth of ``lr``, the loss on the answer tokens only;
    returns the loss curve."""
    device = next(model.parameters()).device
    decay = [p for p in model.parameters() if p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=lr, betas=(0.9, 0.99))
    on_device = ((x.to(device), y.to(device), m.to(device)) for x, y, m in batches)
    history = fit(model, lambda x, y, m: masked_loss(model, x, y, m), on_device, steps=steps,
                  optimizer=opt, lr_schedule=_schedule(steps, warmup), clip_norm=1.0,
                  desc=desc, progress=progress)
    return history["loss"]


def _float16_state(model: GPT) -> dict[str, torch.Tensor]:
    """The state dict as it is saved: floating-point tensors in float16, on the CPU."""
    return {k: v.detach().cpu().half() if v.is_floating_point() else v.detach().cpu()
            for k, v in model.state_dict().items()}


def train(seed: int = 0, config: dict[str, Any] | None = None,
          training: dict[str, Any] | None = None, report_items: int = 100,
          progress: bool = True, stage2: dict[str, Any] | None = None) -> dict[str, Any]:
    """Pretrain, instruction-tune, consolidate and grade TinyChat; return the payload
    (float16 weights, config, training settings, loss curves, seconds per stage, the report
    card). ``config`` overrides :data:`CONFIG`, ``training`` overrides :data:`TRAINING` (the
    tests use tiny ones; ``consolidate_steps=0`` stops after stage 2).

    Stage 3 starts from the stage-2 weights rounded to float16, exactly as a payload saves
    them, so ``stage2``, a payload that this function returned after stage 2 with the same
    seed, config and settings, can stand in for stages 1-2: they are not rerun, and its
    weights, loss curves and seconds are used instead; the result is the same."""
    run = {**TRAINING, **(training or {})}
    tokenizer = ChatTokenizer()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    threads = torch.get_num_threads()
    torch.set_num_threads(run["threads"])
    start = time.perf_counter()
    try:
        if stage2 is None:
            model = build_model(seed, config).to(device)
            block = model.config.block_size
            n_chars = run["pretrain_steps"] * run["pretrain_batch"] * block // 2 + 4 * block
            ids = torch.tensor(tokenizer.encode(pretraining_text(seed, n_chars)))
            pre = train_lm(model, ids, steps=run["pretrain_steps"],
                           batch_size=run["pretrain_batch"], lr=run["pretrain_lr"],
                           warmup=run["warmup"], weight_decay=run["weight_decay"], seed=seed,
                           progress=progress, desc="TinyChat pretraining")
            seconds = {"pretraining": time.perf_counter() - start}
            curves = {"pretrain_loss": pre["loss"], "sft_loss": _instruction_tune(
                model, sft_batches(tokenizer, seed, run["sft_tokens"], block),
                run["sft_steps"], run["sft_lr"], run["warmup"], run["weight_decay"],
                "TinyChat instruction tuning", progress)}
            seconds["instruction tuning"] = time.perf_counter() - start - seconds["pretraining"]
            model.load_state_dict(_float16_state(model))
        else:
            _check_stage2(stage2, config, run)
            model = load(stage2).train().to(device)
            curves = {k: stage2["extra"][k] for k in ("pretrain_loss", "sft_loss")}
            seconds = _stage2_seconds(stage2)
        block = model.config.block_size
        clock = time.perf_counter()
        if run["consolidate_steps"]:
            curves["consolidate_loss"] = _instruction_tune(
                model, sft_batches(tokenizer, seed, run["sft_tokens"], block,
                                   mixture=CONSOLIDATION, digits=CONSOLIDATION_DIGITS,
                                   stage="consolidate"),
                run["consolidate_steps"], run["consolidate_lr"], run["consolidate_warmup"],
                run["weight_decay"], "TinyChat consolidation", progress)
            seconds["consolidation"] = time.perf_counter() - clock
        chat = ChatModel(model.eval(), tokenizer)
        card = report_card(chat, n=report_items, seed=seed) if report_items else []
    finally:
        torch.set_num_threads(threads)
    model.cpu()
    return {"config": model.config.to_dict(), "state_dict": _float16_state(model),
            "extra": {"training": run, "mixture": dict(MIXTURE), "digits": dict(DIGITS),
                      "consolidation": dict(CONSOLIDATION),
                      "consolidation_digits": dict(CONSOLIDATION_DIGITS), **curves,
                      "pretrain_seconds": round(seconds["pretraining"], 1),
                      "stage_seconds": {k: round(v, 1) for k, v in seconds.items()},
                      "stages_1_2_reused": stage2 is not None,
                      "device": device.type, "threads": run["threads"]},
            "metrics": {"parameters": model.num_parameters(),
                        "train_seconds_before_report": round(sum(seconds.values()), 1),
                        "report_card": card}}


#: The settings of stages 1-2 (a ``stage2`` payload must have been trained with these).
_STAGE2_SETTINGS = ("pretrain_steps", "pretrain_batch", "pretrain_lr", "sft_steps",
                    "sft_tokens", "sft_lr", "warmup", "weight_decay", "threads")


def _check_stage2(stage2: dict[str, Any], config: dict[str, Any] | None,
                  run: dict[str, Any]) -> None:
    """Refuse a stand-in for stages 1-2 that was trained differently from what ``train``
    would do now."""
    extra = stage2["extra"]
    expected = build_model(0, config).config.to_dict()
    problems = [k for k in _STAGE2_SETTINGS if extra["training"].get(k) != run[k]]
    problems += ["config"] * (stage2["config"] != expected)
    problems += ["mixture"] * (extra["mixture"] != MIXTURE)
    if extra.get("consolidate_loss") is not None:
        problems.append("it was already consolidated")
    if problems:
        raise ValueError(f"stage2 payload differs from this recipe's stages 1-2: {problems}")


def _stage2_seconds(stage2: dict[str, Any]) -> dict[str, float]:
    """Seconds of stages 1-2 as recorded in a stage-2 payload."""
    extra = stage2["extra"]
    if "stage_seconds" in extra:
        return dict(extra["stage_seconds"])
    pre = extra["pretrain_seconds"]
    return {"pretraining": pre,
            "instruction tuning": stage2["metrics"]["train_seconds_before_report"] - pre}


def load(payload: dict[str, Any]) -> GPT:
    """Rebuild the GPT from a payload (weights cast back to float32); its generation API is
    attached as ``model.chat`` (a :class:`~genai_course.llm.chat.ChatModel`)."""
    model = GPT(GPTConfig(**payload["config"]))
    model.load_state_dict({k: v.float() if v.is_floating_point() else v
                           for k, v in payload["state_dict"].items()})
    model.eval()
    model.chat = ChatModel(model, ChatTokenizer(), name="tinychat")
    model.report_card = list(payload.get("metrics", {}).get("report_card", []))
    return model


def load_chat(device: str | torch.device = "cpu") -> ChatModel:
    """The shipped TinyChat's :class:`~genai_course.llm.chat.ChatModel`."""
    from genai_course.pretrained import load_pretrained

    return load_pretrained("tinychat", device).chat


# --------------------------------------------------------------------------- report card

#: Rows of the report card: (name, family, options). Every row is measured on fresh items
#: of the test split, greedy decoding.
REPORT_ROWS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("add 2-digit, direct", "add", {"digits": 2, "scratchpad": False}),
    ("add 4-digit, direct", "add", {"digits": 4, "scratchpad": False}),
    ("add 4-digit, scratchpad", "add", {"digits": 4, "scratchpad": True}),
    ("sub 2-digit, direct", "sub", {"digits": 2, "scratchpad": False}),
    ("sub 4-digit, direct", "sub", {"digits": 4, "scratchpad": False}),
    ("sub 4-digit, scratchpad", "sub", {"digits": 4, "scratchpad": True}),
    ("sort", "sort", {}),
    ("reverse", "reverse", {}),
    ("max", "max", {}),
    ("count", "count", {}),
    ("facts, trained (closed book)", "fact", {"people": "trained"}),
    ("facts, held back (closed book)", "fact", {"people": "held_back"}),
    ("facts, held back, 1 document", "context", {"source": "held_back", "n_docs": 1}),
    ("facts, held back, 3 documents", "context", {"source": "held_back", "n_docs": 3}),
    ("multiple choice (trained facts)", "mc", {}),
    ("JSON extraction", "json", {}),
    ("labels, natural, 0 shots", "classify", {"shots": 0, "mapping": "natural"}),
    ("labels, arbitrary, 0 shots", "classify", {"shots": 0, "mapping": "arbitrary"}),
    ("labels, arbitrary, 1 shot", "classify", {"shots": 1, "mapping": "arbitrary"}),
    ("labels, arbitrary, 2 shots", "classify", {"shots": 2, "mapping": "arbitrary"}),
    ("labels, arbitrary, 4 shots", "classify", {"shots": 4, "mapping": "arbitrary"}),
    ("labels, arbitrary, 8 shots", "classify", {"shots": 8, "mapping": "arbitrary"}),
    ("labels, flipped, 4 shots", "classify", {"shots": 4, "mapping": "flipped"}),
    ("cipher, 2 shots", "cipher", {"shots": 2}),
    ("cipher, 6 shots", "cipher", {"shots": 6}),
    ("format from the system prompt", "format", {"where": "system"}),
    ("format from the user message", "format", {"where": "user"}),
    ("say a word", "say", {}),
    ("subject, no injection", "subject", {"attack": False}),
    ("subject, injected, no defence", "subject", {"attack": True, "defence": "none"}),
    ("subject, injected, delimiters", "subject", {"attack": True, "defence": "delimiters"}),
    ("subject, injected, datamarking", "subject", {"attack": True, "defence": "datamark"}),
    ("subject, injected, system warning", "subject", {"attack": True, "defence": "system"}),
)


def report_card(chat: ChatModel, n: int = 200, seed: int = 0,
                rows: Sequence[tuple[str, str, dict[str, Any]]] = REPORT_ROWS
                ) -> list[dict[str, Any]]:
    """Accuracy of ``chat`` (greedy) on ``n`` fresh test-split items per row, with the
    baselines of :func:`~genai_course.data.tasks.baseline_accuracy` (the majority answer of
    training items, a random valid choice), a 95% Wilson interval, and extra columns where
    they apply: the format obeyed (``format``), the attack's success (``subject``), how often
    a closed-book reply is a *confident* valid value (``fact``)."""
    card = []
    for r, (name, family, options) in enumerate(rows):
        items = tasks.generate(family, n, seed=10_000 + 100 * seed + r, split="test",
                               **options)
        train_items = tasks.generate(family, 500, seed=r, split="train", **options)
        replies = chat.answer_many([it.messages() for it in items], max_tokens=220)
        acc = tasks.accuracy(items, replies)
        row: dict[str, Any] = {"task": name, "family": family, "options": dict(options),
                               "n": n, "accuracy": acc, "ci95": wilson_interval(acc, n),
                               **tasks.baseline_accuracy(items, train_items),
                               "example_prompt": items[0].prompt,
                               "example_reply": replies[0]}
        if family == "format":
            row["format_obeyed"] = sum(tasks.obeys_format(i, t) for i, t in
                                       zip(items, replies, strict=True)) / n
        if family == "subject" and options.get("attack"):
            row["attack_success"] = sum(tasks.attack_succeeded(i, t) for i, t in
                                        zip(items, replies, strict=True)) / n
        if family == "fact":
            valid = {v.lower() for v in items[0].choices or ()}
            row["answers_a_valid_value"] = sum(tasks.parse_answer(t, i.kind) in valid
                                               for i, t in zip(items, replies,
                                                               strict=True)) / n
        card.append(row)
    return card


def wilson_interval(p: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion ``p`` measured on ``n`` trials (Wilson
    1927), which stays inside [0, 1] and is sensible at ``p`` near 0 or 1. It always contains
    ``p`` (at ``p`` = 0 or 1 an end equals ``p`` exactly, where rounding would put it a hair
    inside, and a plot's error bar would come out negative)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half)))


def compare_report_cards(new: Sequence[dict[str, Any]], old: Sequence[dict[str, Any]],
                         z_max: float = 3.0) -> list[dict[str, Any]]:
    """Row by row, whether two report cards (e.g. a retrained model's and the shipped one's)
    agree within sampling noise: the two-proportion z statistic
    ``(p1 - p2) / sqrt(p (1 - p) (1/n1 + 1/n2))`` with the pooled ``p`` (0 when both are 0 or
    both 1), and ``within_noise`` when ``|z| < z_max`` (3 keeps the chance of one false alarm
    among ~30 rows small)."""
    by_task = {row["task"]: row for row in old}
    out = []
    for row in new:
        other = by_task[row["task"]]
        p1, n1, p2, n2 = row["accuracy"], row["n"], other["accuracy"], other["n"]
        pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
        se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
        z = (p1 - p2) / se if se > 0 else 0.0
        out.append({"task": row["task"], "new": p1, "old": p2, "z": z,
                    "within_noise": abs(z) < z_max})
    return out


#: A measured reproduction of the shipped checkpoint (written by
#: ``benchmarks/reproduce_tinychat.py --write``); the model card reports it when present.
REPRODUCTION_PATH = Path(__file__).parent / "cards" / "tinychat-reproduction.json"


def _reproduction_text() -> str:
    if not REPRODUCTION_PATH.exists():
        return ""
    rec = json.loads(REPRODUCTION_PATH.read_text(encoding="utf-8"))
    rows = rec["rows"]
    outside = [r for r in rows if not r["within_noise"]]
    exceptions = ("; outside it: " + ", ".join(
        f"{r['task']} ({r['new']:.0%} against {r['old']:.0%}, z = {r['z']:+.1f})"
        for r in outside)) if outside else ""
    return f"""
## Reproduction

A full `genai-course retrain tinychat` from scratch (seed 0) on {rec['date']} (commit
{rec['commit']}, {rec['machine']}) took {rec['cpu_seconds'] / 60:.0f} CPU-minutes on one
thread, report card included, so about as many minutes of wall time on an idle machine (it
took {rec['wall_seconds'] / 60:.0f} on a machine shared with other jobs). Its weights are not
bit-identical to these: the pretraining losses agreed exactly for the first
{rec['identical_pretraining_steps']} steps, then drifted apart (these weights were trained on
another machine, and floating-point rounding differs between CPUs and library builds). Its
report card agrees with the one above within sampling noise on {len(rows) - len(outside)} of
{len(rows)} rows (two-proportion z test, |z| < 3){exceptions}.
"""


def format_report_card(card: Sequence[dict[str, Any]]) -> str:
    """The report card as a Markdown table."""
    lines = ["| task | TinyChat | 95% CI | majority | random choice | note |",
             "|---|---|---|---|---|---|"]
    for row in card:
        note = []
        if "format_obeyed" in row:
            note.append(f"format obeyed {row['format_obeyed']:.0%}")
        if "attack_success" in row:
            note.append(f"attack succeeded {row['attack_success']:.0%}")
        if "answers_a_valid_value" in row:
            note.append(f"answers confidently {row['answers_a_valid_value']:.0%}")
        lo, hi = row["ci95"]
        lines.append(f"| {row['task']} | {row['accuracy']:.1%} | {lo:.0%}-{hi:.0%} | "
                     f"{row['majority']:.1%} | {row['random_choice']:.1%} | "
                     f"{'; '.join(note)} |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- model card

#: What the shipped checkpoint gets wrong, written from its measured report card.
FAILURE_MODES = """Measured on the report card above (greedy decoding, fresh test-split items):

- **Arithmetic without a scratchpad** fails beyond two digits: four-digit sums answered
  directly are right about one time in four, with the step-by-step scratchpad almost always
  (two-digit sums answered directly are almost always right). Subtraction is much weaker
  than addition (two-digit differences answered directly are rarely right; with the
  scratchpad, about a quarter of four-digit ones), worst with borrows.
- **Reading documents does not work**: given the biography that holds the answer (the
  retrieval rows), it answers no better than from memory; it names a plausible value of the
  right kind instead of copying the one in the context.
- **Closed-book facts** about the trained people are right about nine times in ten, even
  asked in a phrasing never trained for that fact; about people it never saw it still
  answers with a confident, well-formed value about a quarter of the time, at chance
  (answering without knowing). Asked the same facts as **multiple choice**, it does no
  better than always picking the most common letter: it knows the fact as an answer, not as
  one lettered option among four.
- **In-context label mapping does not emerge**: with arbitrary labels (`foo`/`bar`) it stays
  at chance however many examples are shown, and with flipped labels it follows the words'
  meaning, not the examples.
- **Sorting and the cipher** are essentially never right; reversing a list works for short
  lists only. "Say WORD." fails for words it was never trained on.
- **Formats** are obeyed (upper case, one word, brackets, a sentence) even when the content
  inside them is wrong, which it is about a third of the time.
- **Injected instructions** in the injection study are ignored in every setting measured,
  because training never showed an undefended injection to follow: chapter 6's attacks
  need other phrasings to succeed."""


def _mixture_text(mixture: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.0%}" for k, v in mixture.items())


def _digits_text(table: dict[int, tuple[float, float]]) -> str:
    return ", ".join(f"{d} digit{'s' * (d > 1)} {w:.0%} (scratchpad on {p:.0%} of them)"
                     for d, (w, p) in table.items())


def model_card(payload: dict[str, Any]) -> str:
    """The model card (Mitchell et al. 2019) of a TinyChat payload, in Markdown: details,
    intended use, data, training, the report card, known failure modes. The shipped card is
    ``cards/tinychat.md``; after ``genai-course retrain tinychat``, rewrite it with
    ``Path(...).write_text(model_card(torch.load(path, weights_only=True)))``."""
    cfg, run, metrics = payload["config"], payload["extra"]["training"], payload["metrics"]
    world = default_world()
    extra = payload["extra"]
    pre_tokens = run["pretrain_steps"] * run["pretrain_batch"] * cfg["block_size"]
    stages = extra.get("stage_seconds") or {
        "pretraining": extra["pretrain_seconds"],
        "instruction tuning": metrics["train_seconds_before_report"] - extra["pretrain_seconds"]}
    timing = ", ".join(f"{name} {sec / 60:.0f} min" for name, sec in stages.items())
    reused = (" Stages 1-2 of this file were not rerun: stage 3 continued the saved stage-2 "
              "payload of an earlier run of the same recipe and seed (`train(stage2=...)`; "
              "resuming gives bit for bit what one uninterrupted run gives, which a test "
              "checks on a tiny budget), and their minutes are that run's."
              if extra.get("stages_1_2_reused") else "")
    consolidation = ""
    if extra.get("consolidate_loss"):
        consolidation = f"""
3. Consolidation: {run['consolidate_steps']} more steps of the same kind from the stage-2
   weights rounded to float16, a fresh AdamW, learning rate {run['consolidate_lr']}
   ({run['consolidate_warmup']} warm-up steps, cosine decay to a tenth), mixture
   {_mixture_text(extra['consolidation'])}; operands
   {_digits_text(extra['consolidation_digits'])}."""
    return f"""# Model card: TinyChat

TinyChat is the course's own small instruction-following model: the chapter 3 GPT
(`genai_course.llm.transformer.GPT`, same code), pretrained and instruction-tuned on a generated
task world whose every answer can be checked exactly. Chapters 6-10 prompt it, fine-tune it,
evaluate it, give it retrieval, watermark it and serve it (`genai-course serve`).

## Model details

- Architecture: decoder-only transformer, {cfg['n_layer']} layers, {cfg['n_head']} heads,
  width {cfg['n_embd']}, rotary position embeddings, context {cfg['block_size']} tokens,
  tied input/output embeddings.
- Size: {metrics['parameters']:,} parameters, shipped in float16 (`tinychat.pt`).
- Tokenizer: one token per character (printable ASCII and newline) plus `<|system|>`,
  `<|user|>`, `<|assistant|>`, `<|end|>`, `<|unk|>` ({cfg['vocab_size']} tokens). Chat
  template: `<|role|>content<|end|>` per message, `<|assistant|>` to start the reply
  (`genai_course.llm.chat.CHAT_TEMPLATE`, the same as a Hugging Face Jinja template).
- Load: `genai_course.pretrained.tinychat.load_chat()` (a `ChatModel`) or
  `load_pretrained("tinychat").chat`; serve: `genai-course serve`.

## Intended use

Teaching: measuring prompting, fine-tuning, evaluation, retrieval and safety techniques on a
model small enough to train on a laptop CPU and simple enough that every answer is checkable.
Its world is fictional; it knows nothing true about anything and must not be used to answer
real questions.

## Data

Everything is generated by the package (nothing downloaded):

- TinyLang sentences (`genai_course.data.tinylang`, grammar seed 0);
- TinyWorld (`genai_course.data.tinyworld`, seed 0): {len(world.people)} fictional people
  with a city, job, pet and age; the biographies of the {len(world.people_in('trained'))}
  *trained* people appear in eight phrasings; the {len(world.people_in('held_back'))}
  *held-back* people never appear in training (a test checks it) and exist only in the
  retrieval corpus of chapter 9. Jobs co-occur with pronouns with a known skew
  (job_skew = {world.job_skew}: a person's job is from their pronoun's half of the jobs with
  that probability), which the model may learn (chapter 10). A favourite colour is generated
  for every person but never trained on (chapter 7 teaches it as a new relation).
- The task world (`genai_course.data.tasks`), train split only: instruction-tuning mixture
  {_mixture_text(extra['mixture'])}. Arithmetic operands have
  {_digits_text(extra.get('digits', DIGITS))}; in-context label tasks use natural
  ({NATURAL_LABELS:.0%}) or arbitrary label words; injected instructions are trained
  only inside delimiters, datamarking or under a system-prompt warning (never undefended).
  A fixed 10% of question keys (by hash) forms the test split and is never trained on.

## Training

1. Pretraining: {run['pretrain_steps']} steps of {run['pretrain_batch']} random windows of
   {cfg['block_size']} characters ({pre_tokens / 1e6:.1f}M tokens) of plain text (a quarter
   TinyLang, a quarter biographies, half task items written as `prompt` newline `answer`),
   AdamW, learning rate {run['pretrain_lr']}, warm-up then cosine decay.
2. Instruction tuning: {run['sft_steps']} steps of about {run['sft_tokens']} padded tokens
   of chat conversations (one to three turns; a generic system prompt on some), loss on the
   assistant's tokens only, AdamW, learning rate {run['sft_lr']}.{consolidation}

Trained on {extra['device']} with {extra['threads']} thread(s): {timing}, before the report
card (on a shared, loaded 2-core machine; an idle one is faster).{reused} Reproduce with
`genai-course retrain tinychat` (seed 0).

## Report card

Exact checkers (`genai_course.data.tasks.check`) on {metrics['report_card'][0]['n']} fresh
test-split items per row, greedy decoding, against two trivial baselines: the majority answer
of training items and a uniformly random valid choice (0 where the answers are not a finite
set). The interval is a 95% Wilson interval.

{format_report_card(metrics['report_card'])}

## Known failure modes

{FAILURE_MODES}
{_reproduction_text()}"""
