"""Chapter 7's fine-tuning study on TinyChat: a relation it never saw, taught by full
fine-tuning and by LoRA, with what each method learns, forgets and costs.

The new task is TinyWorld's **favourite colour** (:mod:`genai_course.data.tinyworld`: a colour
is generated for every person but never appears in TinyChat's training data). The split:

* ``TASK["people"]`` people of the *trained* split (TinyChat knows their city, job, pet and
  age) are taught their colour, each in two of the three question phrasings of
  :data:`~genai_course.data.tinyworld.QUESTIONS` (which phrasing is held out rotates from
  person to person, so every phrasing is trained on for someone);
* **new task** (the headline number): the same people asked in their *held-out* phrasing, a
  fresh question about a trained fact (a memorised relation is tested on fresh phrasings of
  trained facts; tasks.py does the same for closed-book facts);
* ``trained phrasing``: the training questions themselves (how well the facts were fitted);
* ``people not taught``: as many other trained-split people, never taught a colour: no
  method can know their colour, so this stays at chance (1/8) unless it is a guess.

Every run fine-tunes the shipped TinyChat on the same conversations (the chat template of
:mod:`genai_course.llm.chat`, the loss on the answer tokens only:
:func:`genai_course.finetune.adaptation.finetune`) for the same number of Adam steps, and is
scored with the exact checker of :mod:`genai_course.data.tasks` on the new task and on four
of TinyChat's own report-card rows (:data:`OLD_ROWS`, the same fresh test items before and
after: **forgetting**), with the trainable parameters, the training-state memory, the FLOPs
of a step and the seconds. Biderman et al. 2024 ("LoRA learns less and forgets less") is
checked against the numbers, whatever they say. A second table quantises TinyChat's weights
(float16, bfloat16, int8 and int4, per tensor and per channel;
:mod:`genai_course.finetune.quantize`) and scores the same rows.

``python -m genai_course.finetune.tinychat_study --write`` runs everything (about a quarter
of an hour on one CPU thread of a loaded machine) and writes :data:`REPORT_PATH`, which the
notebook reads (:func:`load_report`).

Used in: chapter 7.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from genai_course.data import tasks
from genai_course.data.tinyworld import COLOURS, QUESTIONS, Person, default_world
from genai_course.finetune import quantize
from genai_course.finetune.adaptation import finetune
from genai_course.finetune.lora import GPT_TARGETS
from genai_course.llm.chat import ChatModel, encode_chat
from genai_course.pretrained.tinychat import REPORT_ROWS, report_card

#: The new relation's data: how many trained-split people are taught their colour, and the
#: seed that picks them.
TASK: dict[str, Any] = dict(people=50, seed=0)
#: One fine-tuning run (every method the same steps and batches; alpha of every LoRA run).
TRAINING: dict[str, Any] = dict(steps=150, batch_size=16, lr_full=1e-4, lr_lora=1e-3,
                                alpha=16.0)
#: TinyChat's own task families measured before and after (report-card rows, by name).
OLD_ROWS: tuple[str, ...] = ("add 2-digit, direct", "facts, trained (closed book)",
                             "JSON extraction", "format from the system prompt")
#: Fresh test items per old row, and the seed of the item set (the same before and after).
EVALUATION: dict[str, Any] = dict(old_items=60, seed=7)
#: The study's runs: name -> finetune() arguments (``lr`` overrides the method's default:
#: the learning rate is the strongest knob of forgetting, so three runs move it: each method
#: is then seen at two or three points of its learning-forgetting trade-off).
RUNS: dict[str, dict[str, Any]] = {
    "full": dict(method="full"),
    **{f"LoRA r={r}": dict(method="lora", r=r, targets=list(GPT_TARGETS["all linear"]))
       for r in (1, 2, 4, 8, 16)},
    "LoRA r=8, attention qkv": dict(method="lora", r=8,
                                    targets=list(GPT_TARGETS["attention qkv"])),
    "LoRA r=8, mlp": dict(method="lora", r=8, targets=list(GPT_TARGETS["mlp"])),
    "full, lr 3e-4": dict(method="full", lr=3e-4),
    **{f"LoRA r=8, lr {lr:.0e}".replace("e-0", "e-"): dict(
        method="lora", r=8, targets=list(GPT_TARGETS["all linear"]), lr=lr)
       for lr in (3e-4, 3e-3)},
}
#: Runs repeated with more seeds (adapter initialisation and batch order): the spread.
SEEDED_RUNS: dict[str, tuple[int, ...]] = {"full": (0, 1), "LoRA r=8": (0, 1)}
#: Weight formats of the quantisation table: name -> (bits or dtype, per channel).
FORMATS: dict[str, tuple[Any, bool]] = {
    "float32": (torch.float32, False), "float16": (torch.float16, False),
    "bfloat16": (torch.bfloat16, False), "int8 per tensor": (8, False),
    "int8 per channel": (8, True), "int4 per tensor": (4, False), "int4 per channel": (4, True),
}
REPORT_PATH = Path(__file__).with_name("tinychat_study.json")


# --------------------------------------------------------------------------- the new task

def colour_item(person: Person, phrasing: int) -> tasks.Item:
    """The question "favourite colour of ``person``" in phrasing ``phrasing`` as a task item
    (checked like a closed-book fact: the last word of the reply, lower-cased)."""
    question = QUESTIONS["colour"][phrasing].format(name=person.name)
    return tasks.Item("fact", question, person.colour, person.colour, "word",
                      key=f"colour:{person.name}:{phrasing}", choices=COLOURS,
                      meta={"person": person.name, "attribute": "colour"})


def colour_split(people: int = TASK["people"], seed: int = TASK["seed"]
                 ) -> dict[str, list[tasks.Item]]:
    """The new task's items: ``train`` (two phrasings of each taught person), ``fresh
    phrasing`` (the third, held-out phrasing of each taught person), ``trained phrasing``
    (the training questions) and ``people not taught`` (other trained-split people, one
    phrasing each)."""
    pool = default_world().people_in("trained")
    if not 1 <= people <= len(pool) // 2:
        raise ValueError(f"people must be in [1, {len(pool) // 2}], got {people}")
    rng = random.Random(f"tinychat-colour/{seed}")
    chosen = rng.sample(pool, 2 * people)
    taught, others = chosen[:people], chosen[people:]
    n_phrasings = len(QUESTIONS["colour"])
    train = [colour_item(p, k) for i, p in enumerate(taught)
             for k in range(n_phrasings) if k != i % n_phrasings]
    return {"train": train,
            "fresh phrasing": [colour_item(p, i % n_phrasings) for i, p in enumerate(taught)],
            "trained phrasing": list(train),
            "people not taught": [colour_item(p, i % n_phrasings)
                                  for i, p in enumerate(others)]}


def training_examples(chat: ChatModel, items: Sequence[tasks.Item]
                      ) -> list[tuple[list[int], list[int]]]:
    """(prompt ids, answer ids) pairs in the chat template: the prompt ends with
    ``<|assistant|>``, the answer is the reply and ``<|end|>``."""
    examples = []
    for item in items:
        messages = [*item.messages(), {"role": "assistant", "content": item.answer}]
        ids, mask = encode_chat(chat.tokenizer, messages)
        start = mask.index(True)
        examples.append((ids[:start], ids[start:]))
    return examples


def new_task_scores(chat: ChatModel, split: dict[str, list[tasks.Item]]) -> dict[str, float]:
    """Exact-checked accuracy on each test set of :func:`colour_split`."""
    scores = {}
    for name in ("fresh phrasing", "trained phrasing", "people not taught"):
        items = split[name]
        replies = chat.answer_many([it.messages() for it in items], max_tokens=16)
        scores[name] = tasks.accuracy(items, replies)
    return scores


def old_rows(names: Sequence[str] = OLD_ROWS) -> list[tuple[str, str, dict[str, Any]]]:
    """The report-card rows called ``names``."""
    by_name = {row[0]: row for row in REPORT_ROWS}
    return [by_name[name] for name in names]


def old_task_scores(chat: ChatModel, n: int = EVALUATION["old_items"],
                    seed: int = EVALUATION["seed"], names: Sequence[str] = OLD_ROWS
                    ) -> tuple[dict[str, float], dict[str, str]]:
    """Accuracy on TinyChat's own task families (fresh test items, the same ones for every
    model given the same ``n`` and ``seed``) with how often the format was obeyed, and the
    reply to each row's first item (what a forgetting model says instead)."""
    scores, examples = {}, {}
    for row in report_card(chat, n, seed, old_rows(names)):
        scores[row["task"]] = row["accuracy"]
        examples[row["task"]] = row["example_reply"]
        if "format_obeyed" in row:
            scores["format obeyed"] = row["format_obeyed"]
    return scores, examples


# --------------------------------------------------------------------------- the runs

def run(chat: ChatModel, split: dict[str, list[tasks.Item]], name: str, seed: int = 0,
        steps: int = TRAINING["steps"], old_items: int = EVALUATION["old_items"],
        progress: bool | None = None) -> tuple[ChatModel, dict[str, Any]]:
    """One run of :data:`RUNS` from ``chat``'s model: the tuned ChatModel and its row
    (new-task and old-task scores, trainable parameters, seconds, FLOPs, state bytes);
    ``progress`` as in :func:`genai_course.core.train.fit`."""
    args = {"alpha": TRAINING["alpha"], **RUNS[name]}
    lr = args.pop("lr", TRAINING["lr_full"] if args["method"] == "full"
                  else TRAINING["lr_lora"])
    tuned, record = finetune(chat.model, training_examples(chat, split["train"]),
                             pad_id=chat.tokenizer.end_id, steps=steps,
                             batch_size=TRAINING["batch_size"], lr=lr, seed=seed,
                             progress=progress, **args)
    tuned_chat = ChatModel(tuned, chat.tokenizer)
    base_parameters = chat.model.num_parameters()
    row = {"name": name, "seed": seed, "lr": lr,
           **{k: v for k, v in record.items() if k != "loss"},
           "base_parameters": base_parameters,
           "trainable_share": record["trainable"] / base_parameters,
           "loss_first": record["loss"][0], "loss_last_10": sum(record["loss"][-10:]) / 10,
           "new": new_task_scores(tuned_chat, split)}
    row["old"], row["old_examples"] = old_task_scores(tuned_chat, old_items)
    return tuned_chat, row


def quantisation_table(chat: ChatModel, old_items: int = EVALUATION["old_items"]
                       ) -> list[dict[str, Any]]:
    """The shipped TinyChat's weights in each of :data:`FORMATS`: the saved file's bytes
    and the old-task scores. Integer formats quantise the blocks' linear layers; the
    embedding (tied to the output head) and the norms stay float32."""
    rows = []
    for name, (kind, per_channel) in FORMATS.items():
        if isinstance(kind, int):
            model = quantize.quantize_linear_layers(chat.model, kind, per_channel)
            size = quantize.state_dict_bytes(model)
        else:
            model = quantize.round_weights(chat.model, kind)
            size = quantize.state_dict_bytes(model, kind)
        quantised = ChatModel(model, chat.tokenizer)
        rows.append({"format": name, "bytes": size,
                     "old": old_task_scores(quantised, old_items)[0]})
    return rows


def run_study(chat: ChatModel | None = None, runs: Sequence[str] = tuple(RUNS),
              seeds: dict[str, tuple[int, ...]] | None = None,
              steps: int = TRAINING["steps"], old_items: int = EVALUATION["old_items"],
              people: int = TASK["people"], quantisation: bool = True,
              progress: bool = False) -> dict[str, Any]:
    """The whole study as plain data: the settings, the base model's scores, one row per
    (run, seed), the quantisation table, the machine and the seconds. Defaults are the
    shipped report's; the tests pass tiny ones. One CPU thread (the recorded seconds are
    for one thread)."""
    from genai_course.pretrained.tinychat import load_chat

    seeds = SEEDED_RUNS if seeds is None else seeds
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    start = time.perf_counter()
    try:
        chat = chat or load_chat()
        split = colour_split(people)
        old, examples = old_task_scores(chat, old_items)
        base = {"new": new_task_scores(chat, split), "old": old, "old_examples": examples,
                "parameters": chat.model.num_parameters()}
        rows = [run(chat, split, name, s, steps, old_items, progress)[1]
                for name in runs for s in seeds.get(name, (0,))]
        quant = quantisation_table(chat, old_items) if quantisation else []
    finally:
        torch.set_num_threads(threads)
    return {"settings": {"task": {**TASK, "people": people}, "training": {**TRAINING,
                                                                         "steps": steps},
                         "old_rows": list(OLD_ROWS),
                         "evaluation": {**EVALUATION, "old_items": old_items},
                         "runs": {name: RUNS[name] for name in runs},
                         "train_examples": len(split["train"]),
                         "test_items": {k: len(v) for k, v in split.items() if k != "train"}},
            "base": base, "runs": rows, "quantisation": quant,
            "machine": {"platform": platform.platform(), "processor": platform.processor(),
                        "torch": torch.__version__, "threads": 1},
            "seconds": time.perf_counter() - start}


def load_report(path: Path = REPORT_PATH) -> dict[str, Any]:
    """The shipped study (written by ``python -m genai_course.finetune.tinychat_study
    --write``)."""
    return json.loads(Path(path).read_text())


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: ``--write`` runs the study and writes :data:`REPORT_PATH`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"write {REPORT_PATH.name}")
    parser.add_argument("--out", type=Path, default=REPORT_PATH)
    args = parser.parse_args(argv)
    report = run_study(progress=True)
    text = json.dumps(report, indent=1)
    if args.write:
        args.out.write_text(text + "\n")
        print(f"wrote {args.out} ({report['seconds']:.0f} s)")
    else:
        print(text)


if __name__ == "__main__":
    main()
