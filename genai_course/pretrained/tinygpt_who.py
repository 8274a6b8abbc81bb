"""Recipe of the shipped ``tinygpt-who-lora`` adapter and of chapter 7's fine-tuning study.

The adapter: LoRA (r = 8, alpha = 16, every linear layer of the blocks) on top of the
shipped ``tinygpt-tinylang``, trained on the new "who is the sentence about?" task
(:mod:`genai_course.finetune.tinylang_tasks`) with answers that are half concise
(``queen.``) and half verbose (``the red queen.``): the instruction-tuned model that chapter
7's preference tuning (DPO) starts from. Only the adapter ships (PEFT's names, float16):
``load`` puts it on the base model.

The study, run by :func:`study` and kept in the payload's ``metrics["study"]``, measures on
fresh held-out sentences what the chapter's live cells can only sample on a 2-core CPU:
full fine-tuning vs LoRA at r = 1, 2, 4, 8, 16 and on different target modules (new-task
accuracy, the old task's loss against TinyLang's exact entropy floor and the grammatical
share of its samples, trainable parameters, FLOPs, optimiser memory, seconds), three seeds
of two of them (run-to-run variance), the loss on answers only vs on every token, the
singular values of each learned update, and DPO at four values of beta (preference
accuracy, task accuracy, answer length, KL to the reference).

``genai-course retrain tinygpt-who-lora`` reruns all of it (about 15 minutes on one idle CPU
thread; the chapter prints the seconds it was measured with).

Used in: chapter 7.
"""

from __future__ import annotations

import copy
import time
from typing import Any

import torch

from genai_course.finetune.adaptation import finetune
from genai_course.finetune.costs import update_singular_values
from genai_course.finetune.dpo import preference_accuracy, sequence_kl, train_dpo
from genai_course.finetune.lora import (
    GPT_TARGETS,
    LoRALinear,
    apply_lora,
    lora_layers,
    merge_lora,
    peft_state_dict,
)
from genai_course.finetune.tinylang_tasks import WhoTask, subject, who_prompt
from genai_course.llm.transformer import GPT

#: The shipped adapter: LoRA on every linear layer of the blocks.
CONFIG: dict[str, Any] = dict(r=8, alpha=16.0, targets=list(GPT_TARGETS["all linear"]),
                              dropout=0.0)
#: One fine-tuning run: Adam steps, batch, learning rates (LoRA needs a larger one).
TRAINING: dict[str, Any] = dict(steps=200, batch_size=16, lr_lora=1e-3, lr_full=1e-4,
                                train_sentences=4000, mix={"concise": 0.5, "verbose": 0.5})
#: The study's runs beside the adapter: name -> finetune() arguments.
RUNS: dict[str, dict[str, Any]] = {
    "full": dict(method="full"),
    **{f"LoRA r={r}": dict(method="lora", r=r) for r in (1, 2, 4, 8, 16)},
    **{f"LoRA r=8, {name}": dict(method="lora", r=8, targets=list(GPT_TARGETS[name]))
       for name in ("attention qkv", "attention output", "mlp")},
    "LoRA r=8, loss on every token": dict(method="lora", r=8, mask_prompt=False),
}
#: Runs repeated with more seeds for the run-to-run variance.
SEEDED_RUNS = ("full", "LoRA r=8")
SEEDS = (0, 1, 2)
#: The update whose spectrum is kept (the second block's MLP input layer).
SPECTRUM_LAYER = "blocks.1.mlp.0"
#: DPO: the betas, and the run.
BETAS = (0.03, 0.1, 0.3, 1.0)
DPO: dict[str, Any] = dict(steps=100, batch_size=16, lr=1e-3, r=8, pairs=1000,
                           held_out_pairs=200, kl_prompts=60)


def _base() -> GPT:
    from genai_course.pretrained import load_pretrained
    return load_pretrained("tinygpt-tinylang")


def _answer_stats(task: WhoTask, model: torch.nn.Module) -> dict[str, float]:
    replies = task.answers(model)
    right = [r.endswith(f"{subject(s)}.") for r, s in zip(replies, task.test, strict=True)]
    exact = [r == f"{subject(s)}." for r, s in zip(replies, task.test, strict=True)]
    return {"new_task": sum(exact) / len(exact), "right_subject": sum(right) / len(right),
            "answer_chars": sum(len(r) for r in replies) / len(replies)}


def measure_run(task: WhoTask, base: GPT, tuned: torch.nn.Module, record: dict[str, Any]
                ) -> dict[str, Any]:
    """The record of one run with the new and old tasks' scores and the update spectrum."""
    row = {k: v for k, v in record.items() if k != "loss"}
    row["loss_last_20"] = sum(record["loss"][-20:]) / len(record["loss"][-20:])
    row.update(_answer_stats(task, tuned))
    row.update(task.old_task_scores(tuned))
    merged = merge_lora(copy.deepcopy(tuned))
    s = update_singular_values(base.get_submodule(SPECTRUM_LAYER).weight,
                               merged.get_submodule(SPECTRUM_LAYER).weight)
    row["spectrum"] = [round(float(v), 6) for v in s[:32]]
    return row


def study(base: GPT, task: WhoTask, seed: int = 0, progress: bool = True
          ) -> list[dict[str, Any]]:
    """Every run of :data:`RUNS` (and the seeds of :data:`SEEDED_RUNS`) from ``base``."""
    train = task.train_examples(TRAINING["train_sentences"], "concise", seed=seed)
    rows = []
    for name, kwargs in RUNS.items():
        for s in SEEDS if name in SEEDED_RUNS else (0,):
            args = {"targets": CONFIG["targets"], "alpha": CONFIG["alpha"], **kwargs}
            lr = TRAINING["lr_full"] if args["method"] == "full" else TRAINING["lr_lora"]
            tuned, record = finetune(base, train, pad_id=task.stop_id, steps=TRAINING["steps"],
                                     batch_size=TRAINING["batch_size"], lr=lr,
                                     seed=seed + s, progress=progress, **args)
            rows.append({"name": name, "seed": seed + s, "lr": lr,
                         **measure_run(task, base, tuned, record)})
    return rows


def dpo_study(sft: GPT, task: WhoTask, seed: int = 0, progress: bool = True
              ) -> list[dict[str, Any]]:
    """DPO from the instruction-tuned ``sft`` model (also the frozen reference) with a fresh
    LoRA adapter per beta; scores on held-out pairs and test questions."""
    train_sentences = task.language.text("train", 8000).splitlines()[-DPO["pairs"]:]
    pairs = task.preference_pairs(train_sentences, seed=seed)
    held_out = task.preference_pairs(task.test[:DPO["held_out_pairs"]], seed=seed + 1)
    prompts = [task.tokenizer.encode(who_prompt(s)) for s in task.test[:DPO["kl_prompts"]]]
    rows = [{"beta": 0.0, "preference_accuracy": preference_accuracy(sft, sft, held_out,
                                                                     task.stop_id),
             "kl": 0.0, "kl_se": 0.0, **_answer_stats(task, sft)}]
    for beta in BETAS:
        policy = copy.deepcopy(sft)
        apply_lora(policy, CONFIG["targets"], r=DPO["r"], alpha=CONFIG["alpha"], seed=seed)
        history = train_dpo(policy, sft, pairs, task.stop_id, beta=beta, steps=DPO["steps"],
                            batch_size=DPO["batch_size"], lr=DPO["lr"], seed=seed,
                            progress=progress)
        kl, se = sequence_kl(policy, sft, prompts, task.stop_id, max_new_tokens=20, seed=seed)
        rows.append({"beta": beta, "seconds": history.seconds,
                     "preference_accuracy": preference_accuracy(policy, sft, held_out,
                                                                task.stop_id),
                     "kl": kl, "kl_se": se, **_answer_stats(task, policy)})
    return rows


def train(seed: int = 0, config: dict[str, Any] | None = None, progress: bool = True
          ) -> dict[str, Any]:
    """Train the shipped adapter, run the study and the DPO study; return the payload."""
    cfg = {**CONFIG, **(config or {})}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the recorded seconds are for one thread
    try:
        base = _base()
        task = WhoTask(base.tokenizer)
        start = time.perf_counter()
        mixed = task.train_examples(TRAINING["train_sentences"], TRAINING["mix"], seed=seed)
        sft, record = finetune(base, mixed, pad_id=task.stop_id, steps=TRAINING["steps"],
                               method="lora", r=cfg["r"], alpha=cfg["alpha"],
                               targets=cfg["targets"], dropout=cfg["dropout"],
                               batch_size=TRAINING["batch_size"], lr=TRAINING["lr_lora"],
                               seed=seed, progress=progress)
        adapter_row = {"name": "shipped adapter (mixed answers)", "seed": seed,
                       **measure_run(task, base, sft, record)}
        sft_merged = merge_lora(copy.deepcopy(sft))
        rows = study(base, task, seed, progress)
        dpo_rows = dpo_study(sft_merged, task, seed, progress)
        seconds = time.perf_counter() - start
    finally:
        torch.set_num_threads(threads)
    state = {k: v.half() for k, v in peft_state_dict(sft).items()}
    return {"config": cfg, "state_dict": state,
            "extra": {"base": "tinygpt-tinylang", "training": dict(TRAINING), "dpo": dict(DPO),
                      "loss_curve": record["loss"]},
            "metrics": {"adapter": adapter_row, "study": rows, "dpo": dpo_rows,
                        "study_seconds": round(seconds, 1)}}


def load(payload: dict[str, Any]) -> GPT:
    """The base ``tinygpt-tinylang`` with the shipped adapter on it (a LoRA-wrapped GPT;
    ``merge_lora`` folds it in), with ``model.tokenizer`` and the training ``loss_curve``."""
    cfg = payload["config"]
    model = _base()
    apply_lora(model, cfg["targets"], r=cfg["r"], alpha=cfg["alpha"], dropout=cfg["dropout"])
    layers: dict[str, LoRALinear] = lora_layers(model)
    with torch.no_grad():
        for name, layer in layers.items():
            prefix = f"base_model.model.{name}"
            layer.lora_A.weight.copy_(payload["state_dict"][f"{prefix}.lora_A.weight"].float())
            layer.lora_B.weight.copy_(payload["state_dict"][f"{prefix}.lora_B.weight"].float())
    model.loss_curve = list(payload["extra"]["loss_curve"])
    return model.eval()
