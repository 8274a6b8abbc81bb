"""Chapter 5's shipped checkpoints load (their sha256 is checked by ``load_pretrained``) and
meet their stated accuracy on fresh pictures that none of them was trained on."""

from __future__ import annotations

import pytest
import torch

from genai_course.data import shapes
from genai_course.diffusion.denoisers import UNet
from genai_course.evaluation.shapes_classifier import attribute_accuracy, predict_attributes
from genai_course.multimodal.captioner import score_captions
from genai_course.multimodal.retrieval import (
    embed_images,
    embed_texts,
    recall_at_k,
    zero_shot_classify,
)
from genai_course.pretrained import load_pretrained

FRESH_SEED = 424242  # no recipe draws its data with this seed

# tiny models: one thread is fastest, and immune to a loaded machine
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def fresh() -> shapes.ShapesData:
    return shapes.make_shapes(300, seed=FRESH_SEED, combos="all")


@pytest.fixture(scope="module")
def classifier() -> torch.nn.Module:
    return load_pretrained("shapes-classifier")


def test_classifier_reads_every_attribute_of_fresh_pictures(classifier, fresh) -> None:
    accuracy = attribute_accuracy(predict_attributes(classifier, fresh.images), fresh.attributes)
    assert accuracy["all"] >= 0.98, accuracy


def test_clip_zero_shot_and_retrieval_on_fresh_pictures_of_seen_combinations(fresh) -> None:
    clip = load_pretrained("clip-shapes")
    assert clip.logit_scale().item() <= 100
    seen = ~shapes.heldout_mask(fresh.attributes)
    for name in shapes.NAMES:
        pred = zero_shot_classify(clip, fresh.images[seen], shapes.class_prompts(name))
        accuracy = (pred == fresh.attribute(name)[seen]).double().mean().item()
        assert accuracy >= 0.95, (name, accuracy)  # chance: 25% (size: 50%)
    gallery = shapes.make_gallery(seed=FRESH_SEED, combos="seen")
    sim = embed_images(clip, gallery.images) @ embed_texts(clip, gallery.captions).T
    assert recall_at_k(sim, 1) >= 0.9 and recall_at_k(sim.T, 1) >= 0.9  # chance 1/96


def test_captioner_describes_fresh_pictures_of_seen_combinations(fresh) -> None:
    captioner = load_pretrained("captioner-shapes")
    seen = ~shapes.heldout_mask(fresh.attributes)
    captions = captioner.generate(fresh.images[seen][:120])
    scores = score_captions(captions, fresh.attributes[seen][:120])
    assert scores["all"] >= 0.8 and scores["bleu"] >= 0.5, scores


def test_text_to_image_draws_what_seen_captions_ask_for(classifier) -> None:
    t2i = load_pretrained("text2image-shapes")
    rows = torch.from_numpy(shapes.combinations("seen")[::4])  # 24 combinations
    captions = [shapes.caption(r.tolist()) for r in rows]
    pictures = t2i.generate(captions, guidance_scale=3.0, steps=20, seed=0)
    accuracy = attribute_accuracy(predict_attributes(classifier, pictures), rows)
    assert accuracy["colour"] >= 0.9 and accuracy["position"] >= 0.9, accuracy
    assert accuracy["all"] >= 0.6, accuracy  # chance: 1/128


def test_the_chapter_4_checkpoint_still_loads_into_the_extended_unet() -> None:
    model = load_pretrained("ddpm-digits")
    assert isinstance(model, UNet) and model.context_dim == 0
