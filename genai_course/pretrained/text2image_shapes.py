"""Recipe of the shipped ``text2image-shapes`` checkpoint: latent diffusion with a frozen CLIP
text encoder and cross-attention (:mod:`genai_course.multimodal.text_to_image`), trained on
captioned shapes of the seen colour-shape combinations.

Stage 1 trains the autoencoder (pictures <-> 4x8x8 latents); stage 2 trains the
text-conditioned U-Net on the scaled latents, with captions replaced by the empty caption
10% of the time (for classifier-free guidance). The text encoder is a frozen copy of
``clip-shapes``' (so retrain that checkpoint first); the payload holds everything, and the
loaded :class:`~genai_course.multimodal.text_to_image.TextToImage` has ``generate(captions,
guidance_scale=..., steps=..., seed=...)``.

Used in: chapter 5 (and chapters 8 and 10).
"""

from __future__ import annotations

from typing import Any

import torch

from genai_course.data import shapes
from genai_course.diffusion.latent import latent_scale
from genai_course.diffusion.schedule import NoiseSchedule
from genai_course.diffusion.training import evaluate_loss, train_diffusion
from genai_course.multimodal.clip import CLIPConfig, TextEncoder
from genai_course.multimodal.text_to_image import (
    ImageAutoencoder,
    TextConditionedDenoiser,
    TextToImage,
    train_autoencoder,
)
from genai_course.multimodal.tokens import WordTokenizer
from genai_course.pretrained.clip_shapes import full, half

#: How ``text2image-shapes`` is built and trained.
CONFIG: dict[str, Any] = {"n_train": 20000, "mention_p": 0.7, "ae_channels": (16, 32),
                          "latent_channels": 4, "ae_steps": 1500, "ae_batch_size": 64,
                          "ae_lr": 2e-3, "ae_beta": 1e-4, "unet_channels": (64, 128),
                          "emb_dim": 64, "schedule": "cosine", "T": 1000, "steps": 2000,
                          "batch_size": 64, "lr": 1e-3, "p_uncond": 0.1, "n_test": 1000}


def training_data(cfg: dict[str, Any], seed: int) -> tuple[shapes.ShapesData, shapes.ShapesData]:
    """The training pictures (seen combinations, partial captions) and fresh test pictures."""
    return (shapes.make_shapes(cfg["n_train"], seed=5000 + seed, mention_p=cfg["mention_p"]),
            shapes.make_shapes(cfg["n_test"], seed=6000 + seed, combos="all"))


def train_stage1(seed: int = 0, config: dict[str, Any] | None = None) -> ImageAutoencoder:
    """Stage 1: the autoencoder."""
    cfg = {**CONFIG, **(config or {})}
    torch.manual_seed(seed)
    data, _ = training_data(cfg, seed)
    autoencoder = ImageAutoencoder(channels=tuple(cfg["ae_channels"]),
                                   latent_channels=cfg["latent_channels"], seed=seed)
    train_autoencoder(autoencoder, data.images, steps=cfg["ae_steps"],
                      batch_size=cfg["ae_batch_size"], lr=cfg["ae_lr"], beta=cfg["ae_beta"],
                      seed=seed)
    return autoencoder


def _build(cfg: dict[str, Any], text_config: CLIPConfig, autoencoder: ImageAutoencoder,
           scale: float, seed: int | None = None) -> TextToImage:
    tokenizer = WordTokenizer(text_config.vocabulary)
    text = TextEncoder(tokenizer.vocab_size, text_config.text_width, text_config.text_layers,
                       text_config.heads, text_config.context)
    denoiser = TextConditionedDenoiser(text, tokenizer,
                                       autoencoder.latent_shape, tuple(cfg["unet_channels"]),
                                       cfg["emb_dim"], seed=seed)
    return TextToImage(autoencoder, denoiser, NoiseSchedule.named(cfg["schedule"], cfg["T"]),
                       scale)


def train(seed: int = 0, config: dict[str, Any] | None = None,
          autoencoder: ImageAutoencoder | None = None) -> dict[str, Any]:
    """Train both stages (or only stage 2 when a trained ``autoencoder`` is given) and
    return the payload."""
    from genai_course.pretrained import load_pretrained

    cfg = {**CONFIG, **(config or {})}
    clip = load_pretrained("clip-shapes")
    if autoencoder is None:
        autoencoder = train_stage1(seed, cfg)
    torch.manual_seed(seed)
    data, test = training_data(cfg, seed)
    autoencoder.eval()
    with torch.no_grad():
        mu = torch.cat([autoencoder.encode(x)[0] for x in data.images.split(512)])
    model = _build(cfg, clip.config, autoencoder, latent_scale(mu), seed=seed)
    model.denoiser.text.load_state_dict(clip.text.state_dict())
    latents = model.encode(data.images)
    ids = model.denoiser.condition(data.captions, len(data))
    history = train_diffusion(model.denoiser, model.schedule, latents, ids, steps=cfg["steps"],
                              batch_size=cfg["batch_size"], lr=cfg["lr"], seed=seed,
                              p_uncond=cfg["p_uncond"], desc="text-to-image U-Net")
    test_ids = model.denoiser.condition(test.captions, len(test))
    with torch.no_grad():
        recon = model.decode(model.encode(test.images))
    metrics = {"autoencoder_test_mse": float((recon - test.images).square().mean()),
               "train_loss_last_500": history.smoothed("loss", 500),
               "test_loss": evaluate_loss(model.denoiser, model.schedule,
                                          model.encode(test.images), test_ids)}
    return {"config": {"train": {**cfg, "ae_channels": list(cfg["ae_channels"]),
                                 "unet_channels": list(cfg["unet_channels"])},
                       "text": clip.config.to_dict()},
            "state_dict": half(model.state_dict()), "extra": {"scale": model.scale},
            "metrics": metrics}


def load(payload: dict[str, Any]) -> TextToImage:
    """Rebuild the text-to-image model (float32) from a payload."""
    cfg = payload["config"]["train"]
    autoencoder = ImageAutoencoder(channels=tuple(cfg["ae_channels"]),
                                   latent_channels=cfg["latent_channels"])
    model = _build(cfg, CLIPConfig.from_dict(payload["config"]["text"]), autoencoder,
                   payload["extra"]["scale"])
    model.load_state_dict(full(payload["state_dict"]))
    model.denoiser.text.requires_grad_(False)
    return model
