"""The watermark: green lists, the processor and the wrapped model against each other, the
z-score against the binomial, the false-positive rate on unwatermarked text against the
normal tail, and detection of watermarked 200-token continuations (the chapter's target)."""

from __future__ import annotations

import math

import pytest
import torch
from scipy import stats

from genai_course.data.tinylang import TinyLang
from genai_course.llm.transformer import GPT, GPTConfig
from genai_course.pretrained import load_pretrained
from genai_course.safety import watermark as wm

pytestmark = pytest.mark.xdist_group("tinygpt-tinylang-bpe")  # one worker loads the model


@pytest.fixture(scope="module")
def lm():
    return load_pretrained("tinygpt-tinylang-bpe")


@pytest.fixture(scope="module")
def human_chunks(lm):
    """200-token chunks of TinyLang text straight from the grammar (no watermark)."""
    ids = lm.tokenizer.encode("\n" + TinyLang(0).text("test", 4000))
    return [ids[i:i + 200] for i in range(0, len(ids) - 200, 200)]


def test_green_list_has_the_right_size_and_depends_on_key_and_context_only():
    cfg = wm.WatermarkConfig(vocab_size=101, gamma=0.25, key=3, context_width=2)
    state = torch.random.get_rng_state()
    mask = wm.green_list((4, 5), 101, 0.25, 3)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert mask.dtype == torch.bool and int(mask.sum()) == 25 == cfg.green_size
    assert torch.equal(mask, wm.GreenLists(cfg).row((4, 5)))
    assert not torch.equal(mask, wm.green_list((5, 4), 101, 0.25, 3))
    assert not torch.equal(mask, wm.green_list((4, 5), 101, 0.25, 4))
    # over many contexts every token is green a quarter of the time
    share = torch.stack([wm.green_list((c, 0), 101, 0.25, 3) for c in range(400)]).float().mean(0)
    assert abs(float(share.mean()) - 25 / 101) < 1e-9
    assert float(share.std()) < 0.05


@pytest.mark.parametrize("bad", [dict(gamma=0.0), dict(gamma=1.0), dict(delta=-1.0),
                                 dict(vocab_size=1), dict(context_width=0),
                                 dict(vocab_size=3, gamma=0.2)])
def test_config_rejects_bad_values(bad):
    with pytest.raises(ValueError):
        wm.WatermarkConfig(**{"vocab_size": 50, **bad})


def test_processor_adds_delta_exactly_on_the_green_list():
    cfg = wm.WatermarkConfig(vocab_size=30, delta=1.5, context_width=2)
    processor = wm.WatermarkLogitsProcessor(cfg)
    history = torch.tensor([[1, 2, 3], [7, 8, 9]])
    scores = torch.randn(2, 30)
    out = processor(history, scores)
    for row, context in enumerate([(2, 3), (8, 9)]):
        want = scores[row] + 1.5 * wm.green_list(context, 30, cfg.gamma, cfg.key).float()
        torch.testing.assert_close(out[row], want)
    assert torch.equal(processor(history[:, :1], scores), scores)  # no full context yet


def test_wrapped_model_logits_match_the_processor_step_by_step():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=20, block_size=16, n_layer=1, n_head=2, n_embd=16), seed=0)
    cfg = wm.WatermarkConfig(vocab_size=20, delta=2.0, context_width=3)
    ids = torch.randint(20, (2, 12))
    wrapped = wm.WatermarkedLM(model, cfg)(ids)
    processor = wm.WatermarkLogitsProcessor(cfg)
    for t in range(12):
        torch.testing.assert_close(wrapped[:, t], processor(ids[:, :t + 1], model(ids)[:, t]))


def test_generate_without_processor_is_the_gpt_greedy_decoder():
    model = GPT(GPTConfig(vocab_size=20, block_size=32, n_layer=2, n_head=2, n_embd=16), seed=1)
    prompt = torch.randint(20, (3, 4), generator=torch.Generator().manual_seed(0))
    ours = wm.generate(model, prompt, 20, temperature=0.0)
    assert torch.equal(ours, model.generate(prompt, 20, temperature=0.0))
    with pytest.raises(ValueError, match="block_size"):
        wm.generate(model, prompt, 29)


def test_detect_counts_like_a_brute_force_and_z_is_the_binomial_z():
    cfg = wm.WatermarkConfig(vocab_size=40, context_width=2, key=9)
    ids = torch.randint(40, (300,), generator=torch.Generator().manual_seed(2)).tolist()
    ids[100:160] = ids[:60]  # repeats
    for repeats in (False, True):
        result = wm.detect(ids, cfg, prefix=[1, 2], ignore_repeats=not repeats)
        full = [1, 2, *ids]
        pairs = [(tuple(full[i - 2:i]), full[i]) for i in range(2, len(full))]
        if not repeats:
            pairs = list(dict.fromkeys(pairs))
        green = sum(bool(wm.green_list(c, 40, cfg.gamma, 9)[t]) for c, t in pairs)
        assert (result.green, result.scored) == (green, len(pairs))
        mean, var = stats.binom.stats(len(pairs), cfg.gamma, moments="mv")
        assert result.z == pytest.approx(float((green - mean) / math.sqrt(var)), abs=1e-12)
        assert result.p_value == pytest.approx(float(stats.norm.sf(result.z)), rel=1e-9)


@pytest.mark.parametrize(("green", "scored", "gamma"), [(0, 0, 0.25), (5, 4, 0.25), (1, 4, 1.0)])
def test_z_score_rejects_impossible_counts(green, scored, gamma):
    with pytest.raises(ValueError):
        wm.z_score(green, scored, gamma)


def test_false_positive_rate_on_unwatermarked_text_follows_the_normal_tail(lm, human_chunks):
    """TinyLang text from the grammar, scored under 20 keys: with repeated pairs ignored the
    share above z = 2 is within 4 standard errors of the normal tail; counting repeats
    inflates it (the reason to ignore them)."""
    V = lm.config.vocab_size
    for width in (1, 3):
        zs, zs_repeats = [], []
        for key in range(20):
            cfg = wm.WatermarkConfig(V, key=key, context_width=width)
            lists = wm.GreenLists(cfg)
            zs += [wm.detect(c, cfg, lists=lists).z for c in human_chunks]
            zs_repeats += [wm.detect(c, cfg, lists=lists, ignore_repeats=False).z
                           for c in human_chunks]
        tail, n = float(stats.norm.sf(2.0)), len(zs)
        rate = sum(z > 2 for z in zs) / n
        assert abs(rate - tail) < 4 * math.sqrt(tail * (1 - tail) / n), (width, rate)
        assert sum(z > 4 for z in zs) / n <= 0.01
        if width == 1:
            assert sum(z > 2 for z in zs_repeats) / n > 2 * tail


def test_watermarked_200_token_continuations_are_detected(lm):
    """The chapter's target: delta = 2, context width 3, z > 4 on at least 95% (here 60
    texts: at least 54)."""
    cfg = wm.WatermarkConfig(lm.config.vocab_size, delta=2.0, context_width=3)
    prompt_ids = lm.tokenizer.encode("\n" + TinyLang(0).text("test", 1))
    prompt = torch.tensor([prompt_ids] * 60)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        out = wm.generate(lm, prompt, 200, processor=wm.WatermarkLogitsProcessor(cfg),
                          generator=torch.Generator().manual_seed(0))[:, len(prompt_ids):]
    finally:
        torch.set_num_threads(threads)
    lists = wm.GreenLists(cfg)
    zs = [wm.detect(row, cfg, prefix=prompt_ids, lists=lists).z for row in out]
    assert sum(z > 4 for z in zs) >= 54, sorted(zs)[:10]
    # edits wash it out: replacing half the tokens leaves a weaker signal
    vocab = torch.tensor(sorted(set(prompt_ids)))
    edited = wm.substitute_tokens(out, 0.5, vocab, torch.Generator().manual_seed(1))
    zs_edited = [wm.detect(row, cfg, prefix=prompt_ids, lists=lists).z for row in edited]
    assert sum(zs_edited) / len(zs_edited) < sum(zs) / len(zs) - 1.5


def test_pooled_detection_scores_each_distinct_pair_of_all_texts_once():
    cfg = wm.WatermarkConfig(vocab_size=50, gamma=0.5, key=9, context_width=2)
    a, b = ([1, 2], [3, 4, 5, 3, 4, 5]), ([7, 8], [9, 1, 2, 3])
    one = wm.detect(a[1], cfg, prefix=a[0])
    assert wm.detect_pooled([a], cfg) == one
    assert wm.detect_pooled([a, a], cfg) == one  # a repeated answer is no new evidence
    pairs = {((1, 2), 3), ((2, 3), 4), ((3, 4), 5), ((4, 5), 3), ((5, 3), 4),  # a, by hand
             ((7, 8), 9), ((8, 9), 1), ((9, 1), 2)}  # b's last pair ((1, 2), 3) is a's first
    green = sum(bool(wm.green_list(c, 50, 0.5, 9)[t]) for c, t in pairs)
    pooled = wm.detect_pooled([a, b], cfg)
    assert (pooled.green, pooled.scored) == (green, 8)
    assert pooled.z == pytest.approx((green - 4) / math.sqrt(8 * 0.25))


@pytest.mark.xdist_group("tinychat")
def test_tinychat_study_without_delta_is_the_plain_model_and_a_huge_delta_turns_all_green():
    from genai_course.data import tasks
    from genai_course.pretrained.tinychat import load_chat

    chat = load_chat()
    items = {"facts": tasks.generate("fact", 6, seed=4, split="test"),
             "add": tasks.generate("add", 4, seed=4, split="test", digits=2)}
    rows = wm.chat_watermark_study(chat, items, deltas=(0.0, 60.0), max_tokens=60)
    assert [(r["family"], r["delta"]) for r in rows] == [
        ("facts", 0.0), ("facts", 60.0), ("add", 0.0), ("add", 60.0)]
    for family, plain, forced in [("facts", *rows[0:2]), ("add", *rows[2:4])]:
        # delta = 0: the greedy replies are the model's own (answer_many is the reference)
        replies = chat.answer_many([it.messages() for it in items[family]], max_tokens=60)
        assert plain["accuracy"] == tasks.accuracy(items[family], replies)
        # an overwhelming bias makes every scored token green: z takes its maximum
        n = forced["pooled"].scored
        assert forced["pooled"].green == n
        assert forced["pooled"].z == pytest.approx(0.75 * n / math.sqrt(n * 0.25 * 0.75))
