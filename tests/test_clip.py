"""CLIP: the loss against a float64 transcription of the paper's pseudo-code, the temperature,
the encoders, zero-shot classification with prompt ensembling, and recall@k."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from genai_course.data import shapes
from genai_course.multimodal import retrieval
from genai_course.multimodal.clip import CLIP, MAX_LOGIT_SCALE, clip_loss, train_clip
from genai_course.multimodal.tokens import BOS, EOS, PAD, UNK, WordTokenizer

# tiny models: one thread is fastest, and immune to a loaded machine
pytestmark = pytest.mark.usefixtures("one_thread")


def paper_loss(image_features: np.ndarray, text_features: np.ndarray, t: float) -> float:
    """Figure 3 of Radford et al. (2021) in float64 NumPy, with the features already
    normalised (``I_e``, ``T_e``) and ``t`` the learned log-temperature:
    ``logits = I_e T_e^T exp(t)``; ``loss = (CE(logits, axis=0) + CE(logits, axis=1)) / 2``."""
    logits = image_features @ text_features.T * np.exp(t)
    n = len(logits)

    def cross_entropy(axis: int) -> float:
        log_norm = np.log(np.exp(logits - logits.max(axis, keepdims=True)).sum(axis)) \
            + logits.max(axis)
        return float(np.mean(log_norm - logits[np.arange(n), np.arange(n)]))

    return (cross_entropy(0) + cross_entropy(1)) / 2


def test_clip_loss_equals_the_papers_pseudocode_in_float64() -> None:
    rng = np.random.default_rng(0)
    for n, d, t in [(8, 16, math.log(1 / 0.07)), (32, 4, 0.0), (5, 64, math.log(100))]:
        i = rng.normal(size=(n, d))
        i /= np.linalg.norm(i, axis=1, keepdims=True)
        txt = rng.normal(size=(n, d)) + 0.5 * i
        txt /= np.linalg.norm(txt, axis=1, keepdims=True)
        got = clip_loss(torch.from_numpy(i), torch.from_numpy(txt), math.exp(t))
        assert got.dtype == torch.float64
        assert got.item() == pytest.approx(paper_loss(i, txt, t), abs=1e-12)
        # float32 features with a tensor scale agree to float32 precision
        got32 = clip_loss(torch.from_numpy(i).float(), torch.from_numpy(txt).float(),
                          torch.tensor(math.exp(t)))
        assert got32.item() == pytest.approx(paper_loss(i, txt, t), rel=1e-5)


def test_clip_loss_known_values_and_symmetry() -> None:
    n = 6
    same = F.normalize(torch.ones(n, 3, dtype=torch.float64), dim=1)
    # identical embeddings for every pair: nothing tells the pairs apart, loss = ln n exactly
    assert clip_loss(same, same, 50.0).item() == pytest.approx(math.log(n), abs=1e-12)
    eye = torch.eye(n, dtype=torch.float64)
    # orthogonal, perfectly matched pairs: each CE is log(1 + (n - 1) e^{-s})
    s = 10.0
    assert clip_loss(eye, eye, s).item() == pytest.approx(math.log1p((n - 1) * math.exp(-s)))
    g = torch.Generator().manual_seed(1)
    a = F.normalize(torch.randn(n, 4, generator=g, dtype=torch.float64), dim=1)
    b = F.normalize(torch.randn(n, 4, generator=g, dtype=torch.float64), dim=1)
    assert clip_loss(a, b, 3.0).item() == pytest.approx(clip_loss(b, a, 3.0).item(), abs=1e-12)
    with pytest.raises(ValueError, match="shape"):
        clip_loss(a, b[:3], 1.0)


def test_temperature_starts_at_one_over_0_07_and_is_clamped_at_100() -> None:
    model = CLIP(seed=0)
    assert model.logit_scale().item() == pytest.approx(1 / 0.07, rel=1e-6)
    with torch.no_grad():
        model.log_logit_scale.fill_(10.0)
    assert model.logit_scale().item() == MAX_LOGIT_SCALE


def test_loss_at_initialisation_is_close_to_ln_n() -> None:
    data = shapes.make_shapes(128, seed=0, mention_p=0.7)
    model = CLIP(seed=0)
    with torch.no_grad():
        image_features, text_features, scale = model(data.images, model.tokenize(data.captions))
        loss = clip_loss(image_features, text_features, scale).item()
        uniform = clip_loss(image_features, text_features, 1.0).item()
    # untrained embeddings say nothing about the pairing: chance level is ln N, and the
    # initial scale 1/0.07 only spreads the random similarities a little
    assert abs(loss - math.log(128)) < 0.1 * math.log(128), loss
    assert uniform == pytest.approx(math.log(128), abs=0.02)


def test_encoders_normalise_and_read_the_eos_token() -> None:
    model = CLIP(seed=0).eval()
    data = shapes.make_shapes(4, seed=0)
    with torch.no_grad():
        img = model.encode_image(data.images)
        txt = model.encode_text(data.captions)
        ids = model.tokenize(data.captions)
        assert torch.equal(txt, model.encode_text(ids))
        assert torch.allclose(img.norm(dim=1), torch.ones(4)) and txt.shape == (4, 64)
        # causal text blocks: what follows <eos> (padding here) cannot change the feature
        noisy = ids.clone()
        after = torch.cumsum(ids == EOS, dim=1).bool() & (ids != EOS)
        noisy[after] = 7
        assert torch.equal(model.text.pooled(ids), model.text.pooled(noisy))
    with pytest.raises(ValueError, match="<eos>"):
        model.text.pooled(torch.full((1, 4), 5))


def test_tokenizer_round_trip_unknowns_and_length() -> None:
    tok = WordTokenizer(shapes.VOCABULARY)
    ids = tok.encode("A small, red circle!")
    assert ids[0] == BOS and ids[-1] == EOS and UNK not in ids
    assert tok.decode(ids) == "a small red circle"
    assert tok.unknown_words("a purple circle") == ["purple"]
    assert tok.encode("a purple circle")[2] == UNK
    batch = tok.batch(["a circle", "there is a red square"], 8)
    assert batch.shape == (2, 8) and batch[0, 4:].eq(PAD).all()
    with pytest.raises(ValueError, match="more than"):
        tok.batch(["a picture of a small red circle in the top left corner"], 8)
    with pytest.raises(TypeError):
        tok.batch("a circle", 8)


def test_a_short_training_run_learns_colours() -> None:
    data = shapes.make_shapes(1024, seed=0, mention_p=0.7)
    test = shapes.make_shapes(200, seed=1, combos="all")
    model = CLIP(seed=0)
    history = train_clip(model, data.images, model.tokenize(data.captions), steps=60,
                         batch_size=64, progress=False)
    assert history.smoothed("loss", 10) < history["loss"][0] - 0.5
    pred = retrieval.zero_shot_classify(model, test.images, shapes.class_prompts("colour"))
    assert (pred == test.attribute("colour")).double().mean() > 0.6  # chance: 0.25


def test_prompt_ensembling_averages_normalised_prompts_then_renormalises() -> None:
    g = torch.Generator().manual_seed(0)
    prompts = F.normalize(torch.randn(3, 5, 8, generator=g), dim=-1)
    images = F.normalize(torch.randn(20, 8, generator=g), dim=-1)
    classes = retrieval.class_embeddings(prompts)
    for k in range(3):
        mean = prompts[k].mean(0)
        assert torch.allclose(classes[k], mean / mean.norm(), atol=1e-6)
    want = torch.tensor([int(np.argmax([float(x @ c) for c in classes])) for x in images])
    assert torch.equal(retrieval.zero_shot_predict(images, prompts), want)


def brute_recall(sim: torch.Tensor, k: int) -> float:
    hits = 0
    for q in range(sim.shape[0]):
        better = sum(1 for j in range(sim.shape[1]) if sim[q, j] > sim[q, q])
        hits += better < k
    return hits / sim.shape[0]


def test_recall_at_k_against_a_loop_and_ties() -> None:
    g = torch.Generator().manual_seed(0)
    sim = torch.randn(30, 40, generator=g)
    for k in (1, 5, 40):
        assert retrieval.recall_at_k(sim, k) == pytest.approx(brute_recall(sim, k))
    assert retrieval.recall_at_k(sim, 40) == 1.0
    ties = torch.ones(3, 3)
    assert retrieval.recall_at_k(ties, 1) == 1.0  # a tie does not push the match down
    perfect = torch.eye(4) * 2 - 1
    assert retrieval.recall_at_k(perfect, 1) == 1.0
    assert retrieval.recall_at_k(-perfect, 1) == 0.0 and retrieval.recall_at_k(-perfect, 4) == 1
    with pytest.raises(ValueError, match="k must be"):
        retrieval.recall_at_k(sim, 0)
    with pytest.raises(ValueError, match="n_queries <= n_items"):
        retrieval.recall_at_k(sim.T, 1)


def test_linear_probe_separates_separable_features() -> None:
    g = torch.Generator().manual_seed(0)
    y = torch.arange(200) % 4
    x = F.one_hot(y, 4).float() * 3 + 0.3 * torch.randn(200, 4, generator=g)
    assert retrieval.linear_probe_accuracy(x[:100], y[:100], x[100:], y[100:]) == 1.0
