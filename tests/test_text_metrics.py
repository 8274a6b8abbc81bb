"""BLEU against nltk and sacrebleu, the 13a tokeniser against sacrebleu's, ROUGE against
brute force, diversity measures and sliding-window perplexity against exact truths."""

from __future__ import annotations

import itertools
import math
import random

import pytest
import sacrebleu
import torch
from nltk.translate.bleu_score import SmoothingFunction, corpus_bleu
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

from genai_course.evaluation import text_metrics as tm
from genai_course.evaluation.perplexity import (
    gpt_next_logprobs,
    perplexity,
    sliding_window_nll,
)

VOCAB = ["the", "cat", "sat", "on", "a", "mat", "dog", "ran", "."]
NLTK_METHOD = {None: "method0", "epsilon": "method1", "add-one": "method2", "exp": "method3",
               "length": "method4"}


def random_corpus(rng: random.Random, n_sent: int, min_len: int = 4):
    hyps, refs = [], []
    for _ in range(n_sent):
        hyps.append([rng.choice(VOCAB) for _ in range(rng.randint(min_len, 12))])
        refs.append([[rng.choice(VOCAB) for _ in range(rng.randint(1, 12))]
                     for _ in range(rng.randint(1, 3))])
    return hyps, refs


@pytest.mark.filterwarnings("ignore::UserWarning")  # nltk warns about zero counts
@pytest.mark.parametrize("smooth", list(NLTK_METHOD))
def test_bleu_equals_nltk_corpus_bleu_on_random_corpora(smooth):
    rng = random.Random(0)
    method = getattr(SmoothingFunction(), NLTK_METHOD[smooth])
    for trial in range(150):
        hyps, refs = random_corpus(rng, rng.randint(1, 5))
        max_n = rng.choice([1, 2, 3, 4])
        want = corpus_bleu(refs, hyps, weights=(1 / max_n,) * max_n, smoothing_function=method)
        got = tm.bleu(hyps, refs, max_n=max_n, smooth=smooth)
        assert got == pytest.approx(want, abs=1e-12), (trial, smooth, max_n)


def test_bleu_equals_sacrebleu_without_tokenisation():
    rng = random.Random(1)
    for smooth, sacre in [(None, "none"), ("exp", "exp"), ("epsilon", "floor")]:
        for _ in range(60):
            hyps, refs = random_corpus(rng, rng.randint(1, 5))
            n_refs = max(len(r) for r in refs)
            # sacrebleu takes one stream per reference position; pad with the first reference
            streams = [[" ".join(r[i] if i < len(r) else r[0]) for r in refs]
                       for i in range(n_refs)]
            if any(len(r) < n_refs for r in refs):
                continue
            want = sacrebleu.corpus_bleu([" ".join(h) for h in hyps], streams,
                                         tokenize="none", smooth_method=sacre).score / 100
            assert tm.bleu(hyps, refs, smooth=smooth) == pytest.approx(want, abs=1e-9)


def test_bleu_known_values():
    # Papineni's example (nltk's doctest): 0.5920 for the two-sentence corpus
    hyp1 = ("It is a guide to action which ensures that the military always obeys the "
            "commands of the party").split()
    refs1 = [r.split() for r in (
        "It is a guide to action that ensures that the military will forever heed Party commands",
        "It is the guiding principle which guarantees the military forces always being under "
        "the command of the Party",
        "It is the practical guide for the army always to heed the directions of the party")]
    hyp2 = "he read the book because he was interested in world history".split()
    refs2 = ["he was interested in world history because he read the book".split()]
    assert tm.bleu([hyp1, hyp2], [refs1, refs2]) == pytest.approx(0.5920, abs=1e-4)
    # identical sentences score 1; no unigram match scores 0
    assert tm.bleu([VOCAB], [[VOCAB]]) == 1.0
    assert tm.bleu([["x", "y", "z", "w"]], [[VOCAB]], smooth="exp") == 0.0


def test_clipping_and_brevity_penalty_by_hand():
    # "the the the the" vs "the cat": one "the" counts, not four (Papineni's example)
    assert tm.modified_precision(["the"] * 4, [["the", "cat"]], 1) == (1, 4)
    # the clip is the maximum count in any single reference
    assert tm.modified_precision(["the"] * 4, [["the", "cat"], ["the", "the"]], 1) == (2, 4)
    assert tm.brevity_penalty(10, 8) == 1.0
    assert tm.brevity_penalty(8, 10) == pytest.approx(math.exp(1 - 10 / 8))
    assert tm.brevity_penalty(0, 5) == 0.0
    assert tm.closest_reference_length([[1] * 3, [1] * 7], 5) == 3  # a tie goes to the shorter


def test_bleu_rejects_bad_input():
    with pytest.raises(TypeError, match="list of str tokens"):
        tm.bleu(["the cat sat"], [[["the"]]])
    with pytest.raises(ValueError, match="one list of references per hypothesis"):
        tm.bleu([["a"]], [])
    with pytest.raises(ValueError, match="smooth"):
        tm.bleu([["a"]], [[["a"]]], smooth="method7")
    with pytest.raises(TypeError, match="non-empty list of token lists"):
        tm.bleu([["a"]], [["a"]])


def test_tokenize_13a_equals_sacrebleu():
    tok = Tokenizer13a()
    rng = random.Random(2)
    alphabet = "ab1 2.,-'\"!?()&;:/$%<>[]{}~`@#^*+=|\\\n é"
    samples = ["Don't stop: it's 3.5 km (or 1,000 m) away -- really?!",
               "Prices rose 4.7% in 2023-2024; see e.g. www.example.com/page.",
               "&quot;Quoted&quot; &amp; done<skipped>.", "ab-\ncd", ""]
    samples += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
                for _ in range(500)]
    for s in samples:
        assert tm.tokenize_13a(s) == tok(s).split(), repr(s)


def brute_force_lcs(a, b):
    """The longest common subsequence by trying every subsequence of the shorter list."""
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    for size in range(len(short), 0, -1):
        for idx in itertools.combinations(range(len(short)), size):
            sub = [short[i] for i in idx]
            it = iter(long_)
            if all(any(x == y for y in it) for x in sub):
                return size
    return 0


def test_rouge_l_against_brute_force_lcs():
    rng = random.Random(3)
    for _ in range(300):
        a = [rng.choice("abcd") for _ in range(rng.randint(0, 8))]
        b = [rng.choice("abcd") for _ in range(rng.randint(0, 8))]
        lcs = brute_force_lcs(a, b)
        assert tm.lcs_length(a, b) == lcs
        got = tm.rouge_l(a, b)
        p = lcs / len(a) if a else 0.0
        r = lcs / len(b) if b else 0.0
        assert got["precision"] == pytest.approx(p)
        assert got["recall"] == pytest.approx(r)
        assert got["f1"] == pytest.approx(2 * p * r / (p + r) if p + r else 0.0)


def test_rouge_n_by_hand():
    hyp = "the cat was found under the bed".split()
    ref = "the cat was under the bed".split()
    # Lin (2004)'s style example: bigrams shared: the-cat, cat-was, under-the, the-bed
    got = tm.rouge_n(hyp, ref, 2)
    assert got == pytest.approx({"precision": 4 / 6, "recall": 4 / 5,
                                 "f1": 2 * (4 / 6) * (4 / 5) / (4 / 6 + 4 / 5)})
    # clipped: a repeated unigram matches at most as often as in the reference
    assert tm.rouge_n(["a", "a", "a"], ["a", "b"], 1)["precision"] == pytest.approx(1 / 3)


def test_diversity_measures():
    same = [["a", "b", "c", "d", "e"]] * 4
    assert tm.distinct_n(same, 1) == pytest.approx(5 / 20)
    assert tm.distinct_n([["a", "b"], ["c", "d"]], 2) == 1.0
    assert tm.self_bleu(same) == pytest.approx(1.0)
    varied = [["a", "b", "c", "d"], ["e", "f", "g", "h"], ["i", "j", "k", "l"]]
    assert tm.self_bleu(varied, smooth=None) == 0.0
    with pytest.raises(ValueError, match="at least 2"):
        tm.self_bleu(same[:1])


class MarkovOracle:
    """A first-order Markov chain over V tokens as a NextLogProbs: exact conditional
    log-probabilities, so a text's exact log-likelihood is known."""

    def __init__(self, v: int = 5, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        self.logp = torch.log_softmax(torch.randn(v, v, generator=g, dtype=torch.float64), 1)
        self.calls = 0

    def __call__(self, x):
        self.calls += 1
        return self.logp[x]

    def exact_nll(self, ids):
        return -float(self.logp[ids[:-1], ids[1:]].sum())


def test_sliding_window_scores_every_token_once_exactly():
    oracle = MarkovOracle()
    ids = torch.randint(0, 5, (103,), generator=torch.Generator().manual_seed(1))
    for window, stride in [(2, 1), (8, 1), (8, 3), (8, 7), (16, 5), (200, 100)]:
        total, count = sliding_window_nll(oracle, ids, window, stride, batch_size=4)
        assert count == len(ids) - 1
        # a first-order chain needs one token of context: every window gives the exact value
        assert total == pytest.approx(oracle.exact_nll(ids), rel=1e-12)
    with pytest.raises(ValueError, match="skip tokens"):
        sliding_window_nll(oracle, ids, 8, 8)


def test_sliding_window_context_matters_for_a_gpt_window(one_thread):
    """With a real GPT, stride 1 equals scoring each token from exactly the previous
    window - 1 tokens, computed one position at a time."""
    from genai_course.llm.transformer import GPT, GPTConfig

    model = GPT(GPTConfig(vocab_size=7, block_size=8, n_layer=1, n_head=2, n_embd=16), seed=0)
    ids = torch.randint(0, 7, (30,), generator=torch.Generator().manual_seed(2))
    fn = gpt_next_logprobs(model)
    total, _ = sliding_window_nll(fn, ids, 8, 1)

    def nll_with_context(size):
        out = 0.0
        with torch.no_grad():
            for p in range(1, len(ids)):
                ctx = ids[max(0, p - size):p][None]
                out -= float(torch.log_softmax(model(ctx)[0, -1].double(), -1)[ids[p]])
        return out

    want = nll_with_context(7)
    assert total == pytest.approx(want, rel=1e-6)
    assert abs(nll_with_context(6) - want) > 1e-3 * want  # one token less context is visible
    assert perplexity(fn, ids, 8, 1) == pytest.approx(math.exp(want / 29), rel=1e-6)


def test_corpus_precision_sums_each_sentence_against_its_own_references():
    refs = ["the cat is on the mat".split(), "there is a cat on the mat".split()]
    hyps = [["the"] * 7, ["mat", "mat"]]
    assert tm.corpus_precision(hyps, [refs, [["a", "b"]]], 1) == (2, 9)
    rng = random.Random(4)
    for _ in range(50):
        hyps, refs = random_corpus(rng, rng.randint(1, 5))
        n = rng.randint(1, 4)
        parts = [tm.modified_precision(h, r, n) for h, r in zip(hyps, refs, strict=True)]
        assert tm.corpus_precision(hyps, refs, n) == (sum(p[0] for p in parts),
                                                      sum(p[1] for p in parts))
