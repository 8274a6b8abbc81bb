"""The shipped TinyChat: hash, size, its model card in sync with the checkpoint, accuracy on
fresh test-split items (directly and through `genai-course serve`), no leak of the
held-back people into its training data, and the recipe's pieces on a tiny budget."""

from __future__ import annotations

import random
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from scipy.stats import binomtest

from genai_course.data import tasks
from genai_course.data.tinyworld import default_world
from genai_course.llm.chat import ChatModel, ChatTokenizer
from genai_course.llm.transformer import GPT, count_parameters
from genai_course.pretrained import REGISTRY, load_payload, load_pretrained, sha256_of
from genai_course.pretrained import tinychat as recipe
from genai_course.serving.client import ChatClient
from genai_course.serving.server import serve_in_thread

CARD = Path(recipe.__file__).parent / "cards" / "tinychat.md"
needs_checkpoint = pytest.mark.skipif(
    "tinychat" not in REGISTRY,
    reason="the tinychat checkpoint is not registered yet (genai-course retrain tinychat)")


@pytest.fixture(scope="module")
def model() -> GPT:
    if "tinychat" not in REGISTRY:
        pytest.skip("the tinychat checkpoint is not registered yet (genai-course retrain "
                    "tinychat)")
    return load_pretrained("tinychat")


@pytest.fixture(scope="module")
def chat(model: GPT) -> ChatModel:
    return model.chat


def test_checkpoint_is_small_hash_checked_and_described(model: GPT) -> None:
    entry = REGISTRY["tinychat"]
    assert sha256_of(entry.path) == entry.sha256
    assert entry.path.stat().st_size < 3_000_000
    assert isinstance(model, GPT) and not model.training
    assert model.config.vocab_size == ChatTokenizer().vocab_size
    assert {k: getattr(model.config, k) for k in recipe.CONFIG} == recipe.CONFIG
    assert model.num_parameters() == count_parameters(model.config)
    assert model.retrain_command == "genai-course retrain tinychat"
    assert [row["task"] for row in model.report_card] == [r[0] for r in recipe.REPORT_ROWS]


def test_model_card_is_the_shipped_checkpoint_s(model: GPT) -> None:
    text = CARD.read_text(encoding="utf-8")
    assert text == recipe.model_card(load_payload("tinychat"))
    assert recipe.format_report_card(model.report_card) in text
    for heading in ("## Model details", "## Data", "## Training", "## Report card",
                    "## Known failure modes"):
        assert heading in text
    assert "TODO" not in text


def accuracy(chat: ChatModel, family: str, n: int, seed: int, **options) -> float:
    items = tasks.generate(family, n, seed=seed, split="test", **options)
    return tasks.accuracy(items, chat.answer_many([it.messages() for it in items]))


#: Each threshold is the shipped checkpoint's accuracy on exactly these items (measured
#: in brackets) minus a margin of about two standard errors; the items are fixed by the seed.
@pytest.mark.parametrize("family, options, least", [
    ("add", {"digits": 2, "scratchpad": False}, 0.9),  # measured 0.98
    ("add", {"digits": 4, "scratchpad": True}, 0.9),  # 1.00
    ("json", {}, 0.9),  # 0.98
    ("fact", {"people": "trained"}, 0.78),  # 0.88 (chance 1/8 to 1/62)
    ("format", {"where": "system"}, 0.6),  # 0.75: format and content both right
    ("classify", {"shots": 0, "mapping": "natural"}, 0.75),  # 0.85 (chance 0.5)
])
def test_accuracy_on_fresh_items(chat: ChatModel, family, options, least) -> None:
    """60 fresh test-split items per task (a seed the report card did not use)."""
    assert accuracy(chat, family, 60, 777, **options) >= least


def test_the_scratchpad_is_what_makes_four_digit_sums_work(chat: ChatModel) -> None:
    direct = accuracy(chat, "add", 60, 777, digits=4, scratchpad=False)  # measured 0.22
    assert direct < 0.4
    assert accuracy(chat, "add", 60, 777, digits=4, scratchpad=True) > direct + 0.5


def test_the_system_prompt_sets_the_format(chat: ChatModel) -> None:
    items = tasks.generate("format", 60, seed=777, split="test", where="system")
    replies = chat.answer_many([it.messages() for it in items])
    assert sum(tasks.obeys_format(i, r) for i, r in zip(items, replies, strict=True)) >= 54


def test_unseen_facts_are_near_chance(chat: ChatModel) -> None:
    """Cities of held-back people: 12 cities, chance 1/12; the model knows nothing."""
    assert accuracy(chat, "fact", 60, 778, people="held_back", attribute="city") < 0.3


@pytest.mark.xfail(strict=True, reason="known failure mode (model card): the shipped "
                   "TinyChat does not read the documents in its prompt")
def test_a_retrieved_document_supplies_what_memory_cannot(chat: ChatModel) -> None:
    closed_book = accuracy(chat, "fact", 60, 778, people="held_back", attribute="city")
    with_document = accuracy(chat, "context", 60, 778, source="held_back", n_docs=1,
                             attribute="city")
    assert with_document > closed_book + 0.3


@pytest.mark.xfail(strict=True, reason="known failure mode (model card): in-context label "
                   "mapping with arbitrary labels stays at chance")
def test_four_examples_teach_an_arbitrary_label_mapping(chat: ChatModel) -> None:
    assert accuracy(chat, "classify", 60, 777, shots=4, mapping="arbitrary") >= 0.7


def test_an_openai_client_gets_two_digit_sums_through_the_server(chat: ChatModel) -> None:
    """The issue's 'done when': plain user messages such as 'What is 23 + 45?' sent by an
    OpenAI-style client to the served TinyChat, several at once; the number in the reply.
    The issue asks for 90%: the shipped checkpoint got 94% of 200 such questions (seed
    2026) and 35 of these 40."""
    rng = random.Random(779)
    pairs = []
    while len(pairs) < 40:
        a, b = rng.randint(10, 99), rng.randint(10, 99)
        if tasks.is_test_key(f"{a}+{b}"):
            pairs.append((a, b))
    with serve_in_thread({"tinychat": chat}) as server:
        client = ChatClient.openai(server.base_url, model="tinychat")
        with ThreadPoolExecutor(4) as pool:
            replies = list(pool.map(lambda p: client.ask(f"What is {p[0]} + {p[1]}?"), pairs))
        streamed = "".join(client.stream([{"role": "user", "content": "What is 23 + 45?"}],
                                         temperature=0))
    right = sum(re.findall(r"-?\d+", r)[-1:] == [str(a + b)]
                for r, (a, b) in zip(replies, pairs, strict=True))
    assert right / len(pairs) >= 0.75, replies  # measured 0.875
    assert streamed == chat.chat([{"role": "user", "content": "What is 23 + 45?"}],
                                 temperature=0).text


def test_held_back_people_never_reach_the_training_data() -> None:
    held = [p.name for p in default_world().people_in("held_back")]
    text = recipe.pretraining_text(seed=0, n_chars=300_000)
    rng = random.Random(0)
    conversations = " ".join(m["content"] for _ in range(3000)
                             for m in recipe.sample_conversation(rng))
    conversations += " ".join(m["content"] for _ in range(3000) for m in
                              recipe.sample_conversation(rng, recipe.CONSOLIDATION,
                                                         recipe.CONSOLIDATION_DIGITS))
    for name in held:
        assert name not in text and name not in conversations
    assert "favourite colour" not in text + conversations  # reserved for chapter 7
    trained = default_world().people_in("trained")
    assert sum(p.name in conversations for p in trained) > 90
    keys = [recipe.sample_item(rng).key for _ in range(3000)]
    assert not any(tasks.is_test_key(k) for k in keys)


def test_sft_batches_train_on_answer_tokens_only() -> None:
    tok = ChatTokenizer()
    batches = recipe.sft_batches(tok, seed=0, tokens_per_batch=1024, block_size=384, pool=64)
    for _ in range(10):
        x, y, mask = next(batches)
        assert x.shape == y.shape == mask.shape and x.shape[0] * x.shape[1] <= 1024 + 384
        assert torch.equal(x[:, 1:], y[:, :-1])
        for row in range(x.shape[0]):
            assert x[row, 0] in (tok.role_ids["user"], tok.role_ids["system"])
            trained = tok.decode(y[row][mask[row]].tolist())
            assert trained.endswith("<|end|>") and "<|user|>" not in trained
            assert not mask[row][y[row] == tok.role_ids["assistant"]].any()


def test_masked_loss_is_the_cross_entropy_of_the_masked_tokens() -> None:
    gpt = recipe.build_model(0, dict(n_layer=1, n_embd=16, n_head=2, block_size=32))
    x = torch.randint(0, 101, (3, 12))
    y = torch.randint(0, 101, (3, 12))
    mask = torch.rand(3, 12) < 0.4
    mask[0, 0] = True
    logits = gpt(x)
    expected = F.cross_entropy(logits[mask], y[mask])
    assert torch.allclose(recipe.masked_loss(gpt, x, y, mask), expected, atol=1e-6)


def test_wilson_interval_matches_scipy() -> None:
    for k, n in ((0, 20), (13, 20), (95, 100), (100, 100)):
        ours = recipe.wilson_interval(k / n, n)
        ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        assert ours == pytest.approx((ci.low, ci.high), abs=1e-3)
    for k, n in ((0, 6), (6, 6), (30, 30), (1, 7)):
        lo, hi = recipe.wilson_interval(k / n, n)
        assert 0.0 <= lo <= k / n <= hi <= 1.0  # an error bar is never negative
    assert recipe.wilson_interval(1.0, 6)[1] == 1.0 and recipe.wilson_interval(0.0, 6)[0] == 0.0


def test_report_cards_compared_row_by_row_with_a_two_proportion_z() -> None:
    def row(task, accuracy, n=100):
        return {"task": task, "accuracy": accuracy, "n": n}

    new = [row("a", 0.03), row("b", 0.5), row("c", 0.0), row("d", 0.6, 50)]
    old = [row("d", 0.5, 200), row("c", 0.0), row("b", 0.5), row("a", 0.24)]
    got = {r["task"]: r for r in recipe.compare_report_cards(new, old)}
    # pooled p = 0.135: z = -0.21 / sqrt(0.135 * 0.865 * 0.02) = -4.345
    assert got["a"]["z"] == pytest.approx(-0.21 / (0.135 * 0.865 * 0.02) ** 0.5)
    assert got["a"]["z"] == pytest.approx(-4.345, abs=1e-3) and not got["a"]["within_noise"]
    assert got["b"]["z"] == 0.0 and got["c"]["z"] == 0.0 and got["c"]["within_noise"]
    pooled = (0.6 * 50 + 0.5 * 200) / 250  # unequal sizes
    assert got["d"]["z"] == pytest.approx(0.1 / (pooled * (1 - pooled) * (1 / 50 + 1 / 200)) ** 0.5)
    assert (got["d"]["new"], got["d"]["old"]) == (0.6, 0.5)


def test_the_recorded_reproduction_is_of_the_shipped_checkpoint() -> None:
    """The measured retrain in the model card was compared with this checkpoint's card."""
    import json

    record = json.loads(recipe.REPRODUCTION_PATH.read_text(encoding="utf-8"))
    shipped = {r["task"]: r["accuracy"] for r in load_payload("tinychat")["metrics"]["report_card"]}
    assert {r["task"]: r["old"] for r in record["rows"]} == shipped
    assert record["cpu_seconds"] < 45 * 60  # the budget, as CPU time of one thread
    assert "## Reproduction" in CARD.read_text(encoding="utf-8")


TINY_CONFIG = dict(n_layer=1, n_embd=16, n_head=2, block_size=384)
TINY_TRAINING = dict(pretrain_steps=3, pretrain_batch=2, sft_steps=3, sft_tokens=512, warmup=1,
                     consolidate_steps=2, consolidate_warmup=1)


def test_recipe_end_to_end_on_a_tiny_budget(one_thread) -> None:
    payload = recipe.train(seed=1, config=TINY_CONFIG, training=TINY_TRAINING, report_items=0,
                           progress=False)
    assert all(v.dtype == torch.float16 for v in payload["state_dict"].values())
    loaded = recipe.load(payload)
    assert isinstance(loaded.chat, ChatModel) and loaded.config.n_layer == 1
    extra = payload["extra"]
    assert [len(extra[k]) for k in ("pretrain_loss", "sft_loss", "consolidate_loss")] == [3, 3, 2]
    assert list(extra["stage_seconds"]) == ["pretraining", "instruction tuning", "consolidation"]
    card = recipe.report_card(loaded.chat, n=3, rows=recipe.REPORT_ROWS[:2] + (
        ("format", "format", {"where": "user"}), ("injected", "subject", {"attack": True}),
        ("facts", "fact", {"people": "held_back"})))
    assert [r["task"] for r in card] == ["add 2-digit, direct", "add 4-digit, direct",
                                         "format", "injected", "facts"]
    assert {"format_obeyed", "attack_success", "answers_a_valid_value"} <= \
        {k for r in card for k in r}
    assert "| add 2-digit, direct |" in recipe.format_report_card(card)


def test_consolidating_a_saved_stage_2_payload_is_the_same_as_one_run(one_thread) -> None:
    """Stage 3 starts from the float16 stage-2 weights, so continuing a saved stage-2
    payload gives bit for bit what one uninterrupted run gives (how the shipped file was made)."""
    whole = recipe.train(seed=2, config=TINY_CONFIG, training=TINY_TRAINING, report_items=0,
                         progress=False)
    stage2 = recipe.train(seed=2, config=TINY_CONFIG,
                          training={**TINY_TRAINING, "consolidate_steps": 0}, report_items=0,
                          progress=False)
    assert "consolidate_loss" not in stage2["extra"]
    resumed = recipe.train(seed=2, config=TINY_CONFIG, training=TINY_TRAINING, report_items=0,
                           progress=False, stage2=stage2)
    assert resumed["extra"]["stages_1_2_reused"] and not whole["extra"]["stages_1_2_reused"]
    assert resumed["extra"]["consolidate_loss"] == whole["extra"]["consolidate_loss"]
    for name, tensor in whole["state_dict"].items():
        assert torch.equal(resumed["state_dict"][name], tensor), name
    with pytest.raises(ValueError, match="sft_lr"):
        recipe.train(seed=2, config=TINY_CONFIG, training={**TINY_TRAINING, "sft_lr": 1e-4},
                     report_items=0, progress=False, stage2=stage2)
    with pytest.raises(ValueError, match="already consolidated"):
        recipe.train(seed=2, config=TINY_CONFIG, training=TINY_TRAINING, report_items=0,
                     progress=False, stage2=whole)


@needs_checkpoint
def test_genai_course_serve_command(tmp_path) -> None:
    """`genai-course serve` in its own process on a free loopback port, called by plain
    HTTP, then stopped."""
    import socket
    import subprocess
    import sys
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "genai_course.course.cli", "serve",
                             "--port", str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                models = httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=5).json()
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read()
                time.sleep(0.5)
        assert [m["id"] for m in models["data"]] == ["tinychat"]
        reply = httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", timeout=60, json={
            "model": "tinychat", "temperature": 0,
            "messages": [{"role": "user", "content": "What is 23 + 45?"}]}).json()
        expected = recipe.load_chat().chat([{"role": "user", "content": "What is 23 + 45?"}],
                                           temperature=0).text
        assert reply["choices"][0]["message"]["content"] == expected
    finally:
        proc.terminate()
        proc.wait(30)
