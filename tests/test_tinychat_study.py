"""Chapter 7's TinyChat study: the new relation is new (never in TinyChat's training data),
its split keeps test questions out of training, LoRA at initialisation leaves TinyChat's
answers exactly unchanged, the recipe runs on a tiny budget, and the shipped report is the
current recipe's and agrees with counts made here."""

from __future__ import annotations

import copy
import random
import re

import pytest
import torch

from genai_course.data import tasks
from genai_course.data.tinyworld import COLOURS, QUESTIONS, biography, default_world
from genai_course.finetune import tinychat_study as ts
from genai_course.finetune.lora import apply_lora, trainable_parameters
from genai_course.llm.chat import ChatModel
from genai_course.pretrained import tinychat


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """TinyChat is small: one thread is fastest, and immune to a loaded machine."""


@pytest.fixture(scope="module")
def chat() -> ChatModel:
    return tinychat.load_chat()


@pytest.fixture(scope="module")
def report() -> dict:
    return ts.load_report()


def colour_patterns() -> list[re.Pattern]:
    """Every way the package writes the colour relation: its three questions (up to the
    name) and its three biography sentences."""
    colours = "|".join(COLOURS)
    questions = [re.escape(q.split("{name}")[0]) for q in QUESTIONS["colour"]]
    return [re.compile(q) for q in questions] + [
        re.compile(r"favourite colour is"), re.compile(rf"likes ({colours}) best"),
        re.compile(r"loves the colour")]


def test_the_patterns_find_the_relation_where_it_is_written():
    """The check below can fail: the patterns find every colour question and sentence."""
    person = default_world().people[0]
    text = " ".join(biography(person, ("colour",), v) for v in range(30))
    text += " ".join(ts.colour_item(person, k).prompt for k in range(len(QUESTIONS["colour"])))
    for pattern in colour_patterns():
        assert pattern.search(text), pattern.pattern


def test_the_colour_relation_never_appears_in_tinychat_training_data():
    """Pretraining text, instruction-tuning and consolidation conversations, drawn by the
    recipe's own generators, never state or ask a favourite colour."""
    patterns = colour_patterns()
    text = tinychat.pretraining_text(seed=0, n_chars=300_000)
    rng = random.Random(0)
    for mixture, digits in ((None, None), (tinychat.CONSOLIDATION,
                                           tinychat.CONSOLIDATION_DIGITS)):
        for _ in range(1500):
            text += "\n".join(m["content"] for m in
                              tinychat.sample_conversation(rng, mixture, digits))
    assert "colour" in text  # the JSON task's field name: the text is not trivially empty
    for pattern in patterns:
        assert not pattern.search(text), pattern.pattern


def test_colour_split_tests_fresh_phrasings_of_trained_facts():
    split = ts.colour_split(people=12)
    train_prompts = {it.prompt for it in split["train"]}
    taught = {it.meta["person"] for it in split["train"]}
    assert len(split["train"]) == 24 and len(taught) == 12
    assert {it.meta["person"] for it in split["fresh phrasing"]} == taught
    assert not train_prompts & {it.prompt for it in split["fresh phrasing"]}
    assert not taught & {it.meta["person"] for it in split["people not taught"]}
    world = default_world()
    for it in split["fresh phrasing"] + split["people not taught"]:
        person = world.person(it.meta["person"])
        assert person.split == "trained" and it.target == person.colour
        assert tasks.check(it, f"The answer is {person.colour}.")
        assert not tasks.check(it, "grey" if person.colour != "grey" else "red")
    # every phrasing is trained on for some people
    phrasings = {it.key.rsplit(":", 1)[1] for it in split["train"]}
    assert phrasings == {str(k) for k in range(len(QUESTIONS["colour"]))}


def test_training_examples_are_the_chat_template_with_the_answer_as_target(chat):
    item = ts.colour_split(people=2)["train"][0]
    (prompt, answer), = ts.training_examples(chat, [item])
    assert prompt == chat.prompt_ids(item.messages())
    assert answer == [*chat.tokenizer.encode(item.answer), chat.tokenizer.end_id]


def test_lora_at_initialisation_leaves_tinychat_exactly_unchanged(chat):
    wrapped = copy.deepcopy(chat.model)
    names = apply_lora(wrapped, ["attn.qkv", "attn.proj", "mlp.0", "mlp.2"], r=8, seed=3)
    assert len(names) == 4 * chat.model.config.n_layer
    tuned = ChatModel(wrapped, chat.tokenizer)
    items = (tasks.generate("add", 8, seed=1, split="test", digits=2, scratchpad=False)
             + tasks.generate("json", 4, seed=1, split="test")
             + ts.colour_split(people=4)["fresh phrasing"])
    ids = torch.tensor([chat.prompt_ids(items[0].messages())])
    with torch.no_grad():
        assert torch.equal(chat.model(ids), wrapped(ids))
    conversations = [it.messages() for it in items]
    assert tuned.answer_many(conversations, 40) == chat.answer_many(conversations, 40)


def test_the_recipe_runs_on_a_tiny_budget_and_returns_the_documented_fields(chat):
    study = ts.run_study(chat, runs=("full", "LoRA r=1"), seeds={"full": (0, 1)}, steps=2,
                         old_items=2, people=3, quantisation=False)
    assert set(study) == {"settings", "base", "runs", "quantisation", "machine", "seconds"}
    assert [(r["name"], r["seed"]) for r in study["runs"]] == [
        ("full", 0), ("full", 1), ("LoRA r=1", 0)]
    assert study["settings"]["train_examples"] == 6
    for row in [study["base"], *study["runs"]]:
        assert set(row["new"]) == {"fresh phrasing", "trained phrasing", "people not taught"}
        assert set(row["old"]) == {*ts.OLD_ROWS, "format obeyed"}
    full, _, lora1 = study["runs"]
    n_parameters = sum(p.numel() for p in chat.model.parameters())
    assert full["trainable"] == full["base_parameters"] == n_parameters
    targets = ts.RUNS["LoRA r=1"]["targets"]
    assert lora1["trainable"] == sum(  # r * (in + out) per wrapped layer, r = 1
        m.in_features + m.out_features for n, m in chat.model.named_modules()
        if isinstance(m, torch.nn.Linear) and any(n.endswith("." + t) for t in targets))
    assert 0 < lora1["step_flops"] < full["step_flops"]
    assert lora1["state_bytes"] < full["state_bytes"] / 50


def test_shipped_report_is_the_current_recipes(report):
    settings = report["settings"]
    assert settings["task"] == ts.TASK and settings["training"] == ts.TRAINING
    assert settings["old_rows"] == list(ts.OLD_ROWS)
    assert settings["evaluation"] == ts.EVALUATION
    assert settings["runs"] == ts.RUNS
    expected = [(name, s) for name in ts.RUNS for s in ts.SEEDED_RUNS.get(name, (0,))]
    assert [(r["name"], r["seed"]) for r in report["runs"]] == expected
    assert [q["format"] for q in report["quantisation"]] == list(ts.FORMATS)
    assert report["machine"]["threads"] == 1 and report["seconds"] > 0


def test_shipped_report_agrees_with_counts_made_here(report, chat):
    """Trainable shares and training-state bytes recounted on freshly wrapped models;
    accuracies are counts over the stated numbers of items; the float32 row of the
    quantisation table is the base model, scored on the same items."""
    sizes = report["settings"]["test_items"]
    n_old = report["settings"]["evaluation"]["old_items"]
    for row in [report["base"], *report["runs"]]:
        for name, acc in row["new"].items():
            assert (acc * sizes[name]) == pytest.approx(round(acc * sizes[name]), abs=1e-9)
        for acc in row["old"].values():
            assert acc * n_old == pytest.approx(round(acc * n_old), abs=1e-9)
    assert report["base"]["new"]["fresh phrasing"] == 0.0
    for row in report["runs"]:
        model = copy.deepcopy(chat.model)
        if row["method"] == "lora":
            apply_lora(model, row["targets"], r=row["r"])
        trainable, _ = trainable_parameters(model)
        assert row["trainable"] == trainable
        assert row["trainable_share"] == pytest.approx(trainable / report["base"]["parameters"])
        tensors = sum(p.requires_grad for p in model.parameters())
        # weights + gradients + Adam's two moments (float32), and Adam's step per tensor
        assert row["state_bytes"] == 16 * trainable + 4 * tensors
    float32 = next(q for q in report["quantisation"] if q["format"] == "float32")
    assert float32["old"] == report["base"]["old"]
    sizes = {q["format"]: q["bytes"] for q in report["quantisation"]}
    assert sizes["int4 per tensor"] < sizes["int8 per tensor"] < sizes["float16"] \
        < sizes["float32"]
