"""Chapter 9's applications: the playability checker on hand-drawn levels, melody statistics
on known melodies, the cost formulas on worked examples, the code runner and task family,
the sequence models, the augmentation study's bookkeeping and the shipped checkpoints."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from genai_course.applications import costs, levels, music, rag
from genai_course.applications.augmentation import augmentation_study, few_shot_subset
from genai_course.applications.codegen import (
    HELD_OUT_PAIRS,
    TEST_INPUTS,
    code_tasks,
    code_to_symbols,
    run_programs,
    symbols_to_code,
    task_symbols,
    unit_tests,
)
from genai_course.applications.sequences import (
    Vocabulary,
    evaluate_sequence_loss,
    generate_sequences,
    pad_sequences,
    train_sequence_model,
)
from genai_course.applications.serving import decode_throughput
from genai_course.llm.transformer import GPT, GPTConfig

# ------------------------------------------------------------------ levels

HAND_DRAWN = {
    # (level, shortest path or -1)
    "straight corridor": (["#####", "#S.G#", "#####"], 2),
    "wall in the way": (["#####", "#S#G#", "#####"], -1),
    "around a pillar": (["######", "#S...#", "#.##.#", "#...G#", "######"], 5),
    "diagonal gap is not a path": (["####", "#S##", "##G#", "####"], -1),
    "longer of two routes avoided": (["#########", "#S......#", "#.#####.#", "#.......#",
                                      "######G##"], 8),
    "dead-end maze": (["S.#...", "#.#.#.", "#...#G"], 11),
    "wrap-around is not a move": (["G#S"], -1),
}


@pytest.mark.parametrize("name", sorted(HAND_DRAWN))
def test_shortest_path_on_hand_drawn_levels(name):
    level, want = HAND_DRAWN[name]
    assert levels.shortest_path(level) == want


def test_shortest_path_rejects_bad_levels():
    for bad in (["S.."], ["S.G", "S.."], ["SG", "G."], ["S.G", ".."], "S.G"):
        with pytest.raises(ValueError):
            levels.shortest_path(bad)


def test_rule_based_levels_are_valid_playable_and_reproducible():
    made = levels.rule_based_levels(50, seed=3)
    assert made == levels.rule_based_levels(50, seed=3)
    assert all(levels.is_valid(lv) and levels.is_playable(lv) for lv in made)
    # the goal is the floor tile farthest from the start
    for lv in made[:10]:
        start = next((r, c) for r, row in enumerate(lv) for c, ch in enumerate(row) if ch == "S")
        assert levels.shortest_path(lv) == max(levels.distances_from(lv, start).values())


def test_level_report_on_known_sets():
    train = levels.rule_based_levels(30, seed=0)
    copies = levels.level_report(train[:10], train)
    assert copies["copied"] == 1.0 and copies["nearest"] == 0.0 and copies["playable"] == 1.0
    # diversity is the mean pairwise share of differing tiles: two levels differing in 1 tile
    a = train[0]
    row = 1
    b = [*a[:row], a[row][:1] + ("#" if a[row][1] != "#" else ".") + a[row][2:], *a[row + 1:]]
    pair = levels.level_report([a, b], train)
    assert pair["diversity"] == pytest.approx(1 / (levels.HEIGHT * levels.WIDTH))
    broken = levels.level_report([["####"]], train)
    assert broken["valid"] == 0.0 and math.isnan(broken["copied"])
    rand = levels.level_report(levels.random_levels(100, seed=0), train)
    assert rand["valid"] == 1.0 and rand["playable"] < 0.6


def test_level_symbols_round_trip():
    lv = levels.rule_based_levels(1, seed=5)[0]
    symbols = levels.level_to_symbols(lv)
    assert len(symbols) == levels.HEIGHT * (levels.WIDTH + 1)
    assert levels.symbols_to_level(symbols) == lv


# ------------------------------------------------------------------ music


def test_pitch_class_histogram_of_known_melodies():
    twinkle = music.KNOWN_MELODIES["twinkle twinkle little star"]
    want = np.zeros(12)
    want[[0, 2, 4, 5, 7, 9]] = [16, 8, 8, 8, 16, 8]  # C D E F G A in sixteenths
    np.testing.assert_allclose(music.pitch_class_histogram(twinkle), want / 64)
    # octaves fold, rests do not count
    np.testing.assert_allclose(music.pitch_class_histogram([(48, 1), (None, 5), (72, 1)])[0], 1.0)
    with pytest.raises(ValueError, match="sounding"):
        music.pitch_class_histogram([(None, 4)])
    with pytest.raises(ValueError):
        music.pitch_class_histogram([(200, 4)])


def test_keys_and_scales_of_known_melodies():
    assert music.best_key(music.KNOWN_MELODIES["twinkle twinkle little star"]) == 0  # C major
    assert music.best_key(music.KNOWN_MELODIES["ode to joy"]) == 0
    assert music.best_key(music.KNOWN_MELODIES["frere jacques"]) == 7  # G major
    for melody in music.KNOWN_MELODIES.values():
        assert music.in_scale_rate(melody) == 1.0
    chromatic = [(60 + i, 1) for i in range(12)]
    assert music.in_scale_rate(chromatic) == pytest.approx(7 / 12)


def test_interval_histogram_of_ode_to_joy():
    # E E F G G F E D C C D E E D D: intervals 0 1 2 0 2 1 2 2 0 2 2 0 2 0
    hist = music.interval_histogram(music.KNOWN_MELODIES["ode to joy"])
    np.testing.assert_allclose(hist[:3], [5 / 14, 2 / 14, 7 / 14])
    assert hist[3:].sum() == 0


def test_corpus_beats_random_baseline_on_every_statistic():
    corpus = music.folk_melodies(300, seed=0)
    fresh = music.melody_report(music.folk_melodies(100, seed=1), corpus)
    rand = music.melody_report(music.random_melodies(100, seed=1), corpus)
    assert fresh["in_scale"] == 1.0 and rand["in_scale"] < 0.9
    assert fresh["pitch_distance"] < 0.1 < rand["pitch_distance"]
    assert fresh["interval_distance"] < 0.1 < rand["interval_distance"]
    assert fresh["step_share"] > rand["step_share"] + 0.2


def test_melody_symbols_round_trip_and_synthesis():
    melody = music.folk_melodies(1, seed=2)[0] + [(None, 2)]
    assert music.symbols_to_melody(music.melody_to_symbols(melody)) == melody
    assert music.symbols_to_melody(["d4", "p60", "p62", "d2"]) == [(62, 2)]
    wave = music.synthesize([(69, 4), (None, 4)], tempo=60.0, sample_rate=8000)
    assert wave.dtype == np.float32 and len(wave) == 2 * 8000  # two quarter notes at 60 bpm
    assert np.abs(wave).max() <= 1.0 and np.abs(wave[8000:]).max() == 0.0
    # the note's strongest frequency is A4 = 440 Hz
    spectrum = np.abs(np.fft.rfft(wave[:8000]))
    assert np.fft.rfftfreq(8000, 1 / 8000)[spectrum.argmax()] == pytest.approx(440, abs=2)


# ------------------------------------------------------------------ costs and RAG prompt


def test_cost_formulas_on_worked_examples():
    # 1,000 tokens/s for an hour is 3.6 million tokens; at $3.60/h that is $1 per million
    assert costs.cost_per_million_tokens(1000, 3.6) == pytest.approx(1.0)
    assert costs.cost_per_million_tokens(1000, 3.6, 0.25) == pytest.approx(4.0)
    # 2N FLOPs per token: 1e12 FLOP/s at 50% on a 1e9-parameter model = 250 tokens/s
    assert costs.decode_tokens_per_second(1e9, 1e12, 0.5) == pytest.approx(250.0)
    assert costs.decode_tokens_per_second(1e9, 1e12, 0.5, batch=4) == pytest.approx(1000.0)
    # 14 GB of float16 weights read at 2.8 TB/s: 200 steps/s, times the batch
    assert costs.memory_bound_tokens_per_second(7e9, 2.8e12) == pytest.approx(200.0)
    assert costs.memory_bound_tokens_per_second(7e9, 2.8e12, 1.0, batch=8) == pytest.approx(3200.0)
    # $2,160 a month against $0.60 per million: 3.6 billion tokens
    assert costs.break_even_tokens(2160, 0.60) == pytest.approx(3.6e9)
    assert costs.break_even_tokens(2160, 0.60, 0.20) == pytest.approx(5.4e9)
    assert costs.break_even_tokens(10, 0.5, 0.5) == math.inf
    with pytest.raises(ValueError, match="utilization"):
        costs.cost_per_million_tokens(10, 1.0, 1.5)
    with pytest.raises(ValueError, match="tokens_per_second"):
        costs.cost_per_million_tokens(0, 1.0)


def test_rag_prompt_packing():
    docs = ["aaaa", "bb", "cccccc", "d"]
    full = "Context:\naaaa\nbb\ncccccc\nd\nQuestion: q"
    assert rag.build_rag_prompt("q", docs, len(full)) == full
    # "cccccc" does not fit, is skipped, and the shorter "d" after it still does
    skipped = "Context:\naaaa\nbb\nd\nQuestion: q"
    assert rag.build_rag_prompt("q", docs, len(skipped)) == skipped
    assert rag.build_rag_prompt("q", docs, 21) == "Context:\n\nQuestion: q"
    with pytest.raises(ValueError, match="budget"):
        rag.build_rag_prompt("q", docs, 20)
    # another token counter: words
    words = rag.build_rag_prompt("q", ["a b c", "d"], 4, count_tokens=lambda t: len(t.split()))
    assert words == "Context:\nd\nQuestion: q"


def test_read_off_copies_the_first_valid_answer_of_the_context():
    prompt = "Context:\nAnn has a cat. Bo has a dog.\nQuestion: What pet does Bo have? A dog?"
    assert rag.read_off(prompt, ("dog", "cat", "owl")) == "cat"  # first in the context
    assert rag.read_off(prompt, ("dog", "owl")) == "dog"
    assert rag.read_off(prompt, ("owl",)) == ""  # the question's words do not count
    assert rag.read_off("Context:\nHe is 340.\nQuestion: age?", ("34", "40")) == ""  # whole words


class _ConstantChat:
    """A stand-in generator that ignores its prompt and always answers ``reply``."""

    def __init__(self, reply):
        self.reply, self.prompts = reply, []

    def answer_many(self, conversations, max_tokens):
        self.prompts += [c[-1]["content"] for c in conversations]
        return [self.reply] * len(conversations)


def test_rag_study_bookkeeping_on_a_generator_that_ignores_the_prompt():
    from genai_course.applications import retrieval
    from genai_course.data import tasks
    from genai_course.data.tinyworld import default_world

    docs = default_world().documents()
    texts, bio = [d.text for d in docs], {d.person: d.text for d in docs}
    items = tasks.generate("fact", 24, seed=5, split="test", people="held_back")
    gold = [bio[it.meta["person"]] for it in items]
    bm25 = retrieval.BM25([retrieval.tokenize(t) for t in texts])
    chat = _ConstantChat("dog")
    rows = rag.rag_study(chat, items, gold, texts,
                         lambda q, k: bm25.rank(retrieval.tokenize(q), k), ks=(1, 2))
    assert [r["condition"] for r in rows] == [
        "closed book", "top 1 retrieved", "top 2 retrieved", "the right passage alone",
        "a wrong passage first"]
    assert len(chat.prompts) == 5 * len(items) and chat.prompts[:24] == [it.prompt for it in items]
    dogs = sum(it.target == "dog" for it in items) / len(items)
    pets_not_dog = sum(it.meta["attribute"] == "pet" and it.target != "dog" for it in items)
    assert 0 < dogs and pets_not_dog > 0
    for r in rows:  # the same reply everywhere: only the prompts differ
        assert r["accuracy"] == dogs and r["confident_wrong"] == pets_not_dog / len(items)
    closed, top1, _, alone, wrong_first = rows
    assert closed["gold_in_prompt"] == 0 and closed["read_off_accuracy"] == 0
    # every biography states every trained attribute: reading the right passage is exact
    assert alone["gold_in_prompt"] == wrong_first["gold_in_prompt"] == 1.0
    assert alone["read_off_accuracy"] == 1.0 > wrong_first["read_off_accuracy"]
    assert top1["gold_in_prompt"] == top1["read_off_accuracy"]  # names are unique in TinyWorld
    with pytest.raises(ValueError, match="gold"):
        rag.rag_study(chat, items, gold[:-1], texts, lambda q, k: [0])


# ------------------------------------------------------------------ code


def test_code_tasks_hold_out_combinations_and_reference_programs_pass():
    train, test = code_tasks(200, "train"), code_tasks(50, "test")
    assert not {t.steps[:2] for t in train} & HELD_OUT_PAIRS
    assert {t.steps[:2] for t in test} <= HELD_OUT_PAIRS
    for task in train[:20] + test[:20]:
        namespace: dict = {}
        exec(symbols_to_code(code_to_symbols(task.program)), namespace)  # round trip runs
        exec(unit_tests(task), namespace)
        assert unit_tests(task).count("assert") == len(TEST_INPUTS)


def test_a_known_task_program_and_its_tests():
    task = next(t for t in code_tasks(300, "test", seed=0) if t.steps == ("even", "square", "sum"))
    assert "x % 2 == 0" in task.program and "x * x" in task.program
    # independent check on one input: even numbers 2, 4, 6 -> 4 + 16 + 36
    assert "assert f([1, 2, 3, 4, 5, 6]) == 56" in unit_tests(task)


def test_run_programs_reports_pass_fail_timeout_and_memory():
    tests = "assert f(2) == 4\n"
    programs = ["def f(x):\n    return x * 2\n",
                "def f(x):\n    return x + 1\n",
                "def f(x):\n    while True:\n        pass\n",
                "def f(x):\n    return len([0] * 10 ** 10)\n",
                "def f(x):\n    with open('x.txt', 'w') as fh:\n"
                "        fh.write('no')\n    return 4\n",
                "syntax error here"]
    statuses = run_programs(programs, [tests] * len(programs), seconds=0.5, memory_mb=256)
    assert statuses[0] == "passed"
    assert statuses[1] == "failed: AssertionError"
    assert statuses[2] == "timeout"
    assert statuses[3] == "failed: MemoryError"
    assert statuses[4].startswith("failed")  # no files may be written
    assert statuses[5] == "failed: SyntaxError"
    with pytest.raises(ValueError):
        run_programs(["x = 1"], [])


# ------------------------------------------------------------------ sequence models


def test_padding_and_loss_ignore_the_padding():
    vocab = Vocabulary("ab")
    x, y = pad_sequences([["a", "b"], ["b"]], vocab, 5)
    a, b = vocab.ids["a"], vocab.ids["b"]
    assert x.tolist() == [[vocab.bos, a, b, vocab.eos, vocab.eos], [vocab.bos, b] + [vocab.eos] * 3]
    assert y.tolist() == [[a, b, vocab.eos, -100, -100], [b, vocab.eos, -100, -100, -100]]
    with pytest.raises(ValueError, match="symbol"):
        vocab.encode(["c"])
    with pytest.raises(ValueError, match="fit"):
        pad_sequences([["a"] * 5], vocab, 5)


def test_a_sequence_model_learns_a_deterministic_language(one_thread):
    """Sequences "a^n b^n" for n = 1..4: after training, greedy generation from <bos> a^n b
    continues with exactly n - 1 more b's, and the held-out loss falls far below the uniform
    ln(vocabulary)."""
    vocab = Vocabulary("ab")
    data = [["a"] * n + ["b"] * n for n in range(1, 5)] * 8
    model, history = train_sequence_model(data, vocab, steps=300, block_size=10, n_layer=1,
                                          n_embd=32, batch_size=16, lr=1e-2, seed=0,
                                          progress=False)
    assert evaluate_sequence_loss(model, data[:4], vocab) < 0.5 * math.log(len(vocab))
    for n in range(1, 5):
        out = generate_sequences(model, vocab, 2, max_len=8, prompt=["a"] * n + ["b"], top_k=1)
        assert out[0] == ["b"] * (n - 1), (n, out)


def test_decode_throughput_counts_tokens():
    model = GPT(GPTConfig(vocab_size=7, block_size=16, n_layer=1, n_head=2, n_embd=16), seed=0)
    r = decode_throughput(model, batch=4, new_tokens=6, prompt_len=4, repeats=1)
    assert r["tokens_per_second"] == pytest.approx(24 / r["seconds"])
    assert r["latency"] == r["seconds"]
    with pytest.raises(ValueError, match="block_size"):
        decode_throughput(model, batch=1, new_tokens=16)


# ------------------------------------------------------------------ augmentation


def test_few_shot_subset_and_study_bookkeeping(one_thread):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(200, 1, 8, 8, generator=g)
    y = torch.arange(200) % 10
    xs, ys = few_shot_subset(x, y, 3, seed=1)
    assert torch.equal(torch.bincount(ys, minlength=10), torch.full((10,), 3))
    assert torch.equal(few_shot_subset(x, y, 3, seed=1)[0], xs)
    with pytest.raises(ValueError, match="class"):
        few_shot_subset(x, y, 50)
    rows = augmentation_study((x, y), (x[:50], y[:50]), {"copies": (x[:20], y[:20])},
                              sizes=(2,), seeds=(0, 1), steps=3, synthetic_only=("copies",))
    names = [(r["per_class"], r["training set"]) for r in rows]
    assert names == [(0, "copies only"), (2, "real"), (2, "real + classic augmentation"),
                     (2, "real + copies")]
    for r in rows:
        assert len(r["accuracies"]) == 2
        assert r["mean"] == pytest.approx(np.mean(r["accuracies"]))


# ------------------------------------------------------------------ shipped checkpoints


@pytest.mark.parametrize("name", ["levelgpt-dungeons", "melodygpt-folk", "codegpt-lists"])
def test_shipped_sequence_models_load_and_beat_chance(name):
    from genai_course.pretrained import load_pretrained

    model = load_pretrained(name)
    assert model.metrics["held_out_loss"] < 0.5 * math.log(len(model.vocab))


def test_shipped_level_model_writes_mostly_playable_novel_levels(one_thread):
    from genai_course.pretrained import load_pretrained

    model = load_pretrained("levelgpt-dungeons")
    made = [levels.symbols_to_level(s) for s in
            generate_sequences(model, model.vocab, 40, max_len=124, temperature=0.7, seed=0)]
    report = levels.level_report(made, levels.rule_based_levels(4000, seed=0))
    assert report["playable"] > 0.6 and report["copied"] < 0.1


def test_shipped_code_model_passes_tests_on_unseen_combinations(one_thread):
    from genai_course.applications.codegen import spec_to_symbols
    from genai_course.pretrained import load_pretrained

    model = load_pretrained("codegpt-lists")
    tasks = code_tasks(10, "test", seed=5)
    programs = [symbols_to_code(generate_sequences(model, model.vocab, 1, max_len=52,
                                                   prompt=spec_to_symbols(t.spec), top_k=1)[0])
                for t in tasks]
    statuses = run_programs(programs, [unit_tests(t) for t in tasks])
    assert sum(s == "passed" for s in statuses) >= 7
    assert all(symbol in model.vocab.ids for t in tasks for symbol in task_symbols(t))
