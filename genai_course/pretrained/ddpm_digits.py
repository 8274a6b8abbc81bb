"""Recipe of the shipped ``ddpm-digits`` checkpoint: a class-conditional U-Net noise predictor
for the 8x8 digits (cosine schedule, T = 1000, label dropout 0.1 for classifier-free
guidance). The loaded model carries its schedule as ``model.schedule``.

``genai-course retrain ddpm-digits`` calls :func:`train`; ``load_pretrained("ddpm-digits")``
calls :func:`load`.

Used in: chapters 4, 8, 9, 10.
"""

from __future__ import annotations

from typing import Any

import torch

from genai_course.data.digits import load_digits
from genai_course.diffusion.denoisers import UNet
from genai_course.diffusion.schedule import NoiseSchedule
from genai_course.diffusion.training import evaluate_loss, train_diffusion

#: How ``ddpm-digits`` is built and trained.
CONFIG: dict[str, Any] = {"schedule": "cosine", "T": 1000, "channels": (32, 64), "emb_dim": 64,
                          "num_classes": 10, "steps": 5000, "batch_size": 128, "lr": 2e-3,
                          "p_uncond": 0.1}


def _unet(cfg: dict[str, Any], seed: int | None = None) -> UNet:
    return UNet((1, 8, 8), channels=tuple(cfg["channels"]), emb_dim=cfg["emb_dim"],
                num_classes=cfg["num_classes"], seed=seed)


def train(seed: int = 0, config: dict[str, Any] | None = None,
          device: str | torch.device = "cpu") -> dict[str, Any]:
    """Train the U-Net on the training digits and return the checkpoint's payload
    (``config`` overrides entries of :data:`CONFIG`, ``device`` is where it trains)."""
    cfg = {**CONFIG, **(config or {})}
    torch.manual_seed(seed)
    x, y = load_digits("train")
    x_test, y_test = load_digits("test")
    schedule = NoiseSchedule.named(cfg["schedule"], cfg["T"])
    model = _unet(cfg, seed).to(device)
    history = train_diffusion(model, schedule, x, y, steps=cfg["steps"],
                              batch_size=cfg["batch_size"], lr=cfg["lr"], seed=seed,
                              p_uncond=cfg["p_uncond"], desc="ddpm-digits")
    state = {k: v.cpu().to(torch.float16) if v.is_floating_point() else v.cpu()
             for k, v in model.state_dict().items()}
    return {"config": {**cfg, "channels": list(cfg["channels"])}, "state_dict": state,
            "extra": {},
            "metrics": {"train_loss_last_500": history.smoothed("loss", 500),
                        "test_loss": evaluate_loss(model, schedule, x_test, y_test)}}


def load(payload: dict[str, Any]) -> UNet:
    """Rebuild the U-Net from a payload (weights cast back to float32); its schedule is
    ``model.schedule``."""
    cfg = payload["config"]
    model = _unet(cfg)
    model.load_state_dict({k: v.float() if v.is_floating_point() else v
                           for k, v in payload["state_dict"].items()})
    model.schedule = NoiseSchedule.named(cfg["schedule"], cfg["T"])
    return model
