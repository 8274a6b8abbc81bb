"""Recipe of the shipped ``clip-shapes`` checkpoint: CLIP (:mod:`genai_course.multimodal.clip`)
trained contrastively on captioned shapes of the *seen* colour-shape combinations, with
captions that mention each attribute with probability 0.7.

The loaded model has ``encode_image(images)`` and ``encode_text(list_of_str)`` (normalised
embeddings) and its tokenizer as ``model.tokenizer``; its metrics hold the zero-shot
accuracy per attribute on fresh pictures of seen and of held-out combinations.

Used in: chapter 5 (and chapter 8's CLIP score).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from genai_course.data import shapes
from genai_course.multimodal.clip import CLIP, CLIPConfig, clip_loss, train_clip
from genai_course.multimodal.retrieval import zero_shot_classify

#: How ``clip-shapes`` is built and trained.
CONFIG: dict[str, Any] = {"n_train": 20000, "mention_p": 0.7, "steps": 1500, "batch_size": 128,
                          "lr": 2e-3, "weight_decay": 0.05, "n_test": 2000}


def half(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A state dict with floating-point tensors stored as float16 (half the file size)."""
    return {k: v.detach().cpu().to(torch.float16) if v.is_floating_point() else v.cpu()
            for k, v in state.items()}


def full(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Back to float32 for computing."""
    return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}


def zero_shot_metrics(model: CLIP, test: shapes.ShapesData) -> dict[str, float]:
    """Zero-shot accuracy (prompt-ensembled) per attribute on seen and held-out pictures."""
    held = shapes.heldout_mask(test.attributes)
    out = {}
    for name in shapes.NAMES:
        right = zero_shot_classify(model, test.images, shapes.class_prompts(name)) \
            == test.attribute(name)
        out[f"zero_shot_{name}_seen"] = float(right[~held].double().mean())
        out[f"zero_shot_{name}_heldout"] = float(right[held].double().mean())
    return out


def train(seed: int = 0, config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train CLIP and return the payload (``config`` overrides entries of :data:`CONFIG`)."""
    cfg = {**CONFIG, **(config or {})}
    torch.manual_seed(seed)
    data = shapes.make_shapes(cfg["n_train"], seed=1000 + seed, mention_p=cfg["mention_p"])
    test = shapes.make_shapes(cfg["n_test"], seed=2000 + seed, combos="all")
    model = CLIP(CLIPConfig(), seed=seed)
    ids = model.tokenize(data.captions)
    with torch.no_grad():
        n = cfg["batch_size"]
        init_loss = clip_loss(*model(data.images[:n], ids[:n])).item()
    history = train_clip(model, data.images, ids, steps=cfg["steps"], batch_size=cfg["batch_size"],
                         lr=cfg["lr"], weight_decay=cfg["weight_decay"], seed=seed)
    metrics = {"init_loss": init_loss, "ln_batch": math.log(cfg["batch_size"]),
               "train_loss_last_100": history.smoothed("loss", 100),
               "logit_scale": model.logit_scale().item(), **zero_shot_metrics(model, test)}
    return {"config": {"model": model.config.to_dict(), "train": cfg},
            "state_dict": half(model.state_dict()), "extra": {}, "metrics": metrics}


def load(payload: dict[str, Any]) -> CLIP:
    """Rebuild CLIP from a payload (weights back in float32)."""
    model = CLIP(CLIPConfig.from_dict(payload["config"]["model"]))
    model.load_state_dict(full(payload["state_dict"]))
    return model
