"""Recipe of the shipped ``tinygpt-lastword-lora`` adapter and of chapter 7's fine-tuning study.

The adapter: LoRA (r = 8, alpha = 16, every linear layer of the blocks) on top of the
shipped ``tinygpt-tinylang``, trained on the new "last word" task
(:mod:`genai_course.finetune.tinylang_tasks`) with concise answers (``river.``): the
instruction-tuned model that chapter 7's preference tuning (DPO) starts from. Only the adapter
ships (PEFT's names, float16): ``load`` puts it on the base model.

The study, run by :func:`train` and kept in the payload's ``metrics``, measures on fresh
held-out sentences what the chapter's live cells can only sample on a 2-core CPU: full
fine-tuning vs LoRA at r = 1, 2, 4, 8, 16 and on different target modules (new-task accuracy,
the old task's loss against TinyLang's exact entropy floor and the grammatical share of its
samples, trainable parameters, FLOPs, training-state memory, seconds), three seeds of LoRA
r = 8 (run-to-run variance), the loss on answers only vs on every token, the singular values
of each learned update, and DPO at four values of beta (preference accuracy, task accuracy,
answer length, KL to the reference). The adapter is the study's "LoRA r=8" run of seed 0.

``genai-course retrain tinygpt-lastword-lora`` reruns all of it (about 15 minutes on one idle
CPU thread; the payload records the seconds of every run).

Used in: chapter 7.
"""

from __future__ import annotations

import copy
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
from genai_course.finetune.tinylang_tasks import LastWordTask, last_word, question_prompt
from genai_course.llm.transformer import GPT

#: The shipped adapter: LoRA on every linear layer of the blocks.
CONFIG: dict[str, Any] = dict(r=8, alpha=16.0, targets=list(GPT_TARGETS["all linear"]),
                              dropout=0.0)
#: One fine-tuning run: Adam steps, batch, learning rates, data and evaluation sizes.
TRAINING: dict[str, Any] = dict(steps=100, batch_size=16, lr_lora=1e-3, lr_full=1e-4,
                                train_sentences=2400, test_sentences=100,
                                validation_sentences=30, samples=64)
#: The study's runs: name -> finetune() arguments.
RUNS: dict[str, dict[str, Any]] = {
    "full": dict(method="full"),
    **{f"LoRA r={r}": dict(method="lora", r=r) for r in (1, 2, 4, 8, 16)},
    **{f"LoRA r=8, {name}": dict(method="lora", r=8, targets=list(GPT_TARGETS[name]))
       for name in ("attention qkv", "mlp")},
    "LoRA r=8, loss on every token": dict(method="lora", r=8, mask_prompt=False),
}
#: The shipped adapter's run, repeated with more seeds for the run-to-run variance.
ADAPTER_RUN = "LoRA r=8"
SEEDS = (0, 1, 2)
#: The update whose spectrum is kept (the second block's MLP input layer).
SPECTRUM_LAYER = "blocks.1.mlp.0"
#: DPO: the betas, and the run.
BETAS = (0.03, 0.1, 0.3, 1.0)
DPO: dict[str, Any] = dict(steps=40, batch_size=16, lr=1e-3, r=8, pairs=600,
                           held_out_pairs=100, kl_prompts=40)


def base_model() -> GPT:
    """The shipped ``tinygpt-tinylang``, the base of every run."""
    from genai_course.pretrained import load_pretrained
    return load_pretrained("tinygpt-tinylang")


def make_task(base: GPT) -> LastWordTask:
    """The task with the study's test and validation sizes."""
    return LastWordTask(base.tokenizer, n_test=TRAINING["test_sentences"],
                        n_validation=TRAINING["validation_sentences"])


def answer_stats(task: LastWordTask, model: torch.nn.Module) -> dict[str, float]:
    """Exact answers, answers ending in the right word (any form), mean answer length."""
    replies = task.answers(model)
    right = [r.endswith(f"{last_word(s)}.") for r, s in zip(replies, task.test, strict=True)]
    exact = [r == f"{last_word(s)}." for r, s in zip(replies, task.test, strict=True)]
    return {"new_task": sum(exact) / len(exact), "right_word": sum(right) / len(right),
            "answer_chars": sum(len(r) for r in replies) / len(replies)}


def run(base: GPT, task: LastWordTask, name: str, seed: int = 0, progress: bool = False
        ) -> tuple[torch.nn.Module, dict[str, Any]]:
    """One run of :data:`RUNS` from ``base``: the tuned model and its measured row (the new
    and old tasks' scores, the costs, and the spectrum of the update of
    :data:`SPECTRUM_LAYER`)."""
    train_examples = task.train_examples(TRAINING["train_sentences"], "concise", seed=0)
    args = {"targets": CONFIG["targets"], "alpha": CONFIG["alpha"], **RUNS[name]}
    lr = TRAINING["lr_full"] if args["method"] == "full" else TRAINING["lr_lora"]
    tuned, record = finetune(base, train_examples, pad_id=task.stop_id,
                             steps=TRAINING["steps"], batch_size=TRAINING["batch_size"], lr=lr,
                             seed=seed, progress=progress, **args)
    row = {"name": name, "seed": seed, "lr": lr,
           **{k: v for k, v in record.items() if k != "loss"}}
    row["loss_last_10"] = sum(record["loss"][-10:]) / len(record["loss"][-10:])
    row.update(answer_stats(task, tuned))
    row.update(task.old_task_scores(tuned, samples=TRAINING["samples"]))
    merged = merge_lora(copy.deepcopy(tuned))
    s = update_singular_values(base.get_submodule(SPECTRUM_LAYER).weight,
                               merged.get_submodule(SPECTRUM_LAYER).weight)
    row["spectrum"] = [round(float(v), 6) for v in s[:32]]
    return tuned, row


def dpo_study(sft: GPT, task: LastWordTask, seed: int = 0, progress: bool = False
              ) -> list[dict[str, Any]]:
    """DPO from the instruction-tuned ``sft`` model (also the frozen reference) with a fresh
    LoRA adapter per beta; scores on held-out pairs and test questions."""
    train_sentences = task.language.text("train", 8000).splitlines()[-DPO["pairs"]:]
    pairs = task.preference_pairs(train_sentences, seed=seed)
    held_out = task.preference_pairs(task.test[:DPO["held_out_pairs"]], seed=seed + 1)
    prompts = [task.tokenizer.encode(question_prompt(s)) for s in task.test[:DPO["kl_prompts"]]]
    rows = [{"beta": 0.0, "preference_accuracy": preference_accuracy(sft, sft, held_out,
                                                                     task.stop_id),
             "kl": 0.0, "kl_se": 0.0, **answer_stats(task, sft)}]
    for beta in BETAS:
        policy = copy.deepcopy(sft)
        apply_lora(policy, CONFIG["targets"], r=DPO["r"], alpha=CONFIG["alpha"], seed=seed)
        history = train_dpo(policy, sft, pairs, task.stop_id, beta=beta, steps=DPO["steps"],
                            batch_size=DPO["batch_size"], lr=DPO["lr"], seed=seed,
                            progress=progress)
        policy.eval()
        kl, se = sequence_kl(policy, sft, prompts, task.stop_id, max_new_tokens=24, seed=seed)
        rows.append({"beta": beta, "seconds": history.seconds,
                     "preference_accuracy": preference_accuracy(policy, sft, held_out,
                                                                task.stop_id),
                     "kl": kl, "kl_se": se, **answer_stats(task, policy)})
    return rows


def payload(adapter: torch.nn.Module, rows: list[dict[str, Any]],
            dpo_rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The checkpoint: the adapter's weights (float16, PEFT's names) and every measurement."""
    state = {k: v.half() for k, v in peft_state_dict(adapter).items()}
    return {"config": dict(CONFIG), "state_dict": state,
            "extra": {"base": "tinygpt-tinylang", "training": dict(TRAINING), "dpo": dict(DPO)},
            "metrics": {"study": rows, "dpo": dpo_rows}}


def train(seed: int = 0, config: dict[str, Any] | None = None, progress: bool = True
          ) -> dict[str, Any]:
    """Every run of the study (the adapter among them) and the DPO study; the payload."""
    if config:
        raise ValueError("this recipe's configuration is fixed: edit CONFIG, TRAINING, RUNS")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the recorded seconds are for one thread
    try:
        base = base_model()
        task = make_task(base)
        rows, adapter = [], None
        for name in RUNS:
            for s in SEEDS if name == ADAPTER_RUN else (0,):
                tuned, row = run(base, task, name, seed + s, progress)
                rows.append(row)
                if name == ADAPTER_RUN and s == 0:
                    adapter = tuned
        assert adapter is not None
        dpo_rows = dpo_study(merge_lora(copy.deepcopy(adapter)), task, seed, progress)
    finally:
        torch.set_num_threads(threads)
    return payload(adapter, rows, dpo_rows)


def load(payload: dict[str, Any]) -> GPT:
    """The base ``tinygpt-tinylang`` with the shipped adapter on it (a LoRA-wrapped GPT;
    ``merge_lora`` folds it in), with ``model.tokenizer``."""
    cfg = payload["config"]
    model = base_model()
    apply_lora(model, cfg["targets"], r=cfg["r"], alpha=cfg["alpha"], dropout=cfg["dropout"])
    layers: dict[str, LoRALinear] = lora_layers(model)
    with torch.no_grad():
        for name, layer in layers.items():
            prefix = f"base_model.model.{name}"
            layer.lora_A.weight.copy_(payload["state_dict"][f"{prefix}.lora_A.weight"].float())
            layer.lora_B.weight.copy_(payload["state_dict"][f"{prefix}.lora_B.weight"].float())
    return model.eval()
