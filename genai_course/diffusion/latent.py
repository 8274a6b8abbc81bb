"""Latent diffusion in miniature: diffusion in an autoencoder's latent space.

Rombach et al. ("High-Resolution Image Synthesis with Latent Diffusion Models", 2022) split
image generation in two: an autoencoder compresses images to a much smaller latent tensor
once, and the diffusion model (a U-Net in Stable Diffusion) learns the distribution of those
latents, where each denoising step is far cheaper; a decoder maps a sampled latent back to
pixels. Stable Diffusion's parts map onto this module's as follows:

=============================  ==============================================================
Stable Diffusion               here
=============================  ==============================================================
VAE, 512x512x3 -> 64x64x4      chapter 2's :class:`~genai_course.generative.vae.VAE` class
                               with ``conv=True`` (chapter 2 trains its MLP variant), 8x8 -> ``d``
KL weight ~1e-6, latents       KL weight ``beta`` = 0.1, five orders of magnitude larger; latents
scaled by 0.18215              scaled by :func:`latent_scale`
U-Net noise predictor          :class:`genai_course.diffusion.MLPDenoiser` (the latent is a
                               vector, not an image)
CLIP text encoder +            a class-label embedding (the "prompt" is a digit), with the
cross-attention                same classifier-free guidance
=============================  ==============================================================

The autoencoder here is Chapter 2's VAE, reused; the latent code of an image is the mean of
its encoder distribution, as in Stable Diffusion (whose encoder's variance is tiny).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from genai_course.core.train import History
from genai_course.diffusion.denoisers import MLPDenoiser
from genai_course.diffusion.samplers import DDIM, sample
from genai_course.diffusion.schedule import NoiseSchedule
from genai_course.diffusion.training import train_diffusion
from genai_course.generative.vae import VAE, train_vae


@torch.no_grad()
def encode_means(autoencoder: VAE, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """The encoder means ``mu(x)`` (N, latent_dim) of images ``x``, in batches, eval mode."""
    autoencoder.eval()
    device = autoencoder.log_scale.device
    return torch.cat([autoencoder.encode(x[i : i + batch_size].to(device))[0]
                      for i in range(0, len(x), batch_size)])


def latent_scale(z: torch.Tensor) -> float:
    """``1 / std(z)`` over every entry: multiplying the latents by it gives them unit variance,
    the scale the noise schedule assumes (Rombach et al. 2022, section 4.3.2 and appendix G,
    the origin of Stable Diffusion's 0.18215)."""
    std = z.detach().double().std().item()
    if not std > 0:
        raise ValueError("the latents have zero spread; is the autoencoder trained?")
    return 1.0 / std


class LatentDiffusion(nn.Module):
    """An autoencoder, a denoiser of its scaled latents ``z = scale * mu(x)``, and the noise
    schedule the denoiser was trained with."""

    def __init__(self, autoencoder: VAE, denoiser: MLPDenoiser, schedule: NoiseSchedule,
                 scale: float) -> None:
        super().__init__()
        if denoiser.data_shape != (autoencoder.latent_dim,):
            raise ValueError(f"the denoiser works on {denoiser.data_shape}, the autoencoder's "
                             f"latents have shape ({autoencoder.latent_dim},)")
        if not scale > 0:
            raise ValueError(f"scale must be > 0, got {scale}")
        self.autoencoder, self.denoiser, self.schedule = autoencoder, denoiser, schedule
        self.scale = float(scale)

    @property
    def data_shape(self) -> tuple[int, ...]:
        """Shape of one image."""
        return self.autoencoder.data_shape

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Scaled latent codes (N, latent_dim) of images (N, *data_shape)."""
        return self.scale * encode_means(self.autoencoder, x)

    @torch.no_grad()
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Images (N, *data_shape) decoded from scaled latents (N, latent_dim)."""
        self.autoencoder.eval()
        return self.autoencoder.decode(z / self.scale)

    def sample(self, n: int, *, labels: Any = None, guidance_scale: float = 0.0,
               steps: int | None = 50, seed: int | None = None,
               generator: torch.Generator | None = None, progress: bool | None = None
               ) -> torch.Tensor:
        """Sample ``n`` latents with deterministic DDIM (``steps`` steps) and decode them;
        see :func:`genai_course.diffusion.sample` for ``labels``, ``guidance_scale``,
        ``seed`` and ``generator``."""
        z = sample(self.denoiser, DDIM(self.schedule), n, steps=steps, labels=labels,
                   guidance_scale=guidance_scale, seed=seed, generator=generator,
                   progress=progress)
        return self.decode(z)


def train_latent_diffusion(x: torch.Tensor, labels: torch.Tensor | None = None,
                           latent_dim: int = 4, beta: float = 0.1, ae_steps: int = 2000,
                           diffusion_steps: int = 4000, T: int = 1000, hidden: int = 128,
                           seed: int = 0, progress: bool | None = None
                           ) -> tuple[LatentDiffusion, dict[str, History]]:
    """Stage 1: train chapter 2's VAE class with ``conv=True`` (``beta``-weighted KL) on
    ``x``. Stage 2: encode the data once, scale the latents to unit variance, and train a
    (class-conditional when ``labels`` are given) :class:`MLPDenoiser` on them with a cosine
    schedule of ``T`` steps. Returns the model and the two training histories
    (``"autoencoder"``, ``"diffusion"``)."""
    torch.manual_seed(seed)
    autoencoder = VAE(data_shape=tuple(x.shape[1:]), latent_dim=latent_dim, conv=True)
    ae_history = train_vae(autoencoder, x, steps=ae_steps, batch_size=128, lr=2e-3, seed=seed,
                           beta=beta, progress=progress)
    mu = encode_means(autoencoder, x)
    scale = latent_scale(mu)
    num_classes = 0 if labels is None else int(labels.max()) + 1
    denoiser = MLPDenoiser(dim=latent_dim, hidden=hidden, n_blocks=3, num_classes=num_classes,
                           seed=seed)
    schedule = NoiseSchedule.cosine(T)
    diff_history = train_diffusion(denoiser, schedule, (scale * mu).cpu(), labels,
                                   steps=diffusion_steps, batch_size=256, lr=3e-3, seed=seed,
                                   progress=progress, desc="latent diffusion")
    model = LatentDiffusion(autoencoder, denoiser, schedule, scale)
    return model, {"autoencoder": ae_history, "diffusion": diff_history}
