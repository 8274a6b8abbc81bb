"""Recipe of the shipped ``captioner-shapes`` checkpoint: Flamingo in miniature
(:mod:`genai_course.multimodal.captioner`).

1. A GPT (Chapter 3's, 2 layers, 64 wide) is pretrained on full captions of the seen
   combinations *alone*: a language model of captions that has never seen a picture.
2. It is frozen, together with a copy of ``clip-shapes``' image encoder (retrain that
   checkpoint first), and gated cross-attention blocks (gates at 0) are trained between them
   on picture-caption pairs; precomputed patch tokens keep this cheap.
3. The frozen language model cannot say *left* or *right* with confidence: on captions alone
   the two words are interchangeable, and it learned embeddings for them whose difference is
   almost orthogonal to every state its output layer can see (the largest logit gap any input
   could produce is about 0.15). So, unlike Flamingo, whose language model learned distinct
   words from trillions of varied tokens, the language model is then unfrozen and tuned
   together with the gated blocks for a few hundred steps at a small learning rate.

The metrics hold the attribute accuracy and BLEU of greedy captions of fresh pictures (seen
and held-out combinations) after stage 2 (``frozen_lm_*``) and after stage 3 (``greedy_*``),
and those of the language model alone (the captioner at initialisation), sampled at
temperature 1.

Used in: chapter 5.
"""

from __future__ import annotations

from typing import Any

import torch

from genai_course.data import shapes
from genai_course.llm.transformer import GPT, GPTConfig
from genai_course.multimodal.captioner import (
    Captioner,
    score_captions,
    train_caption_lm,
    train_captioner,
)
from genai_course.multimodal.clip import CLIPConfig, ImageEncoder
from genai_course.multimodal.tokens import WordTokenizer
from genai_course.pretrained.clip_shapes import full, half

#: How ``captioner-shapes`` is built and trained.
CONFIG: dict[str, Any] = {"n_layer": 2, "n_head": 4, "n_embd": 64, "n_train": 12000,
                          "lm_steps": 1500, "steps": 1500, "batch_size": 128, "lm_lr": 3e-3,
                          "lr": 2e-3, "tune_steps": 300, "tune_lr": 5e-4, "n_test": 1000}


def parts(cfg: dict[str, Any], vision_config: CLIPConfig, seed: int | None = None
          ) -> tuple[GPT, ImageEncoder, WordTokenizer]:
    """The untrained language model, image encoder and tokenizer of a captioner."""
    tokenizer = WordTokenizer(vision_config.vocabulary)
    lm = GPT(GPTConfig(vocab_size=tokenizer.vocab_size, block_size=vision_config.context,
                       n_layer=cfg["n_layer"], n_head=cfg["n_head"], n_embd=cfg["n_embd"]),
             seed=seed)
    vision = ImageEncoder(vision_config.image_size, vision_config.channels,
                          vision_config.image_width, vision_config.heads)
    return lm, vision, tokenizer


def caption_metrics(model: Captioner, test: shapes.ShapesData, prefix: str,
                    temperature: float = 0.0) -> dict[str, float]:
    """Scores of generated captions of ``test`` on its seen and held-out pictures."""
    held = shapes.heldout_mask(test.attributes)
    out = {}
    generator = torch.Generator().manual_seed(0)
    captions = model.generate(test.images, temperature=temperature, generator=generator)
    for split, mask in (("seen", ~held), ("heldout", held)):
        chosen = [c for c, m in zip(captions, mask.tolist(), strict=True) if m]
        for key, value in score_captions(chosen, test.attributes[mask]).items():
            out[f"{prefix}_{key}_{split}"] = value
    return out


def tune(model: Captioner, visual: torch.Tensor, ids: torch.Tensor, test: shapes.ShapesData,
         cfg: dict[str, Any], seed: int) -> dict[str, float]:
    """Stage 3: unfreeze the language model and train it with the gated blocks (the vision
    encoder stays frozen); returns the metrics after it."""
    model.lm.requires_grad_(True)
    history = train_captioner(model, visual, ids, steps=cfg["tune_steps"],
                              batch_size=cfg["batch_size"], lr=cfg["tune_lr"], seed=seed + 1)
    model.lm.requires_grad_(False)
    return {"loss_last_100": history.smoothed("loss", 100), **model.gates(),
            **caption_metrics(model, test, "greedy")}


def train(seed: int = 0, config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Pretrain the caption LM, then the gated cross-attention; return the payload."""
    from genai_course.pretrained import load_pretrained

    cfg = {**CONFIG, **(config or {})}
    clip = load_pretrained("clip-shapes")
    torch.manual_seed(seed)
    data = shapes.make_shapes(cfg["n_train"], seed=7000 + seed)
    test = shapes.make_shapes(cfg["n_test"], seed=8000 + seed, combos="all")
    lm, vision, tokenizer = parts(cfg, clip.config, seed=seed)
    vision.load_state_dict(clip.visual.state_dict())
    ids = clip.tokenize(data.captions)
    lm_history = train_caption_lm(lm, ids, steps=cfg["lm_steps"], batch_size=cfg["batch_size"],
                                  lr=cfg["lm_lr"], seed=seed)
    model = Captioner(lm, vision, tokenizer, n_head=cfg["n_head"], seed=seed)
    metrics = {"lm_loss_last_100": lm_history.smoothed("loss", 100),
               **caption_metrics(model, test, "lm_alone", temperature=1.0)}
    with torch.no_grad():
        visual = torch.cat([model.visual_tokens(x) for x in data.images.split(500)])
    history = train_captioner(model, visual, ids, steps=cfg["steps"],
                              batch_size=cfg["batch_size"], lr=cfg["lr"], seed=seed)
    metrics.update({"frozen_lm_loss_last_100": history.smoothed("loss", 100),
                    **caption_metrics(model, test, "frozen_lm_greedy")})
    metrics.update(tune(model, visual, ids, test, cfg, seed))
    return {"config": {"train": cfg, "vision": clip.config.to_dict()},
            "state_dict": half(model.state_dict()), "extra": {}, "metrics": metrics}


def load(payload: dict[str, Any]) -> Captioner:
    """Rebuild the captioner (float32) from a payload."""
    cfg = payload["config"]["train"]
    lm, vision, tokenizer = parts(cfg, CLIPConfig.from_dict(payload["config"]["vision"]))
    model = Captioner(lm, vision, tokenizer, cfg["n_head"])
    model.load_state_dict(full(payload["state_dict"]))
    return model.requires_grad_(False)
