"""Text-to-image: Stable Diffusion's recipe in miniature (Rombach et al. 2022).

Four parts, each small enough for a CPU:

=============================  ==============================================================
Stable Diffusion               here
=============================  ==============================================================
KL-regularised autoencoder,    :class:`ImageAutoencoder`: 32x32x3 pictures <-> 4x8x8 latents
512x512x3 <-> 4x64x64          (a factor of 4 per side), a tiny KL weight, latents scaled to
                               unit variance (:func:`genai_course.diffusion.latent.latent_scale`)
frozen CLIP text encoder       the frozen text encoder of this chapter's ``clip-shapes``
U-Net with cross-attention     Chapter 4's :class:`~genai_course.diffusion.UNet` with
                               ``context_dim``: every latent pixel attends to the caption's
                               token states (:class:`TextConditionedDenoiser`)
classifier-free guidance       captions dropped to the empty caption 10% of the time in
                               training; ``eps_u + w (eps_c - eps_u)`` when sampling
=============================  ==============================================================

:class:`TextConditionedDenoiser` speaks the samplers' condition protocol (``condition`` and
``null_condition``, see :mod:`genai_course.diffusion.samplers`), so Chapter 4's
:func:`~genai_course.diffusion.sample`, DDIM and guidance run it unchanged; its labels are
captions (strings) or their token ids.

Used in: chapter 5 (the ``text2image-shapes`` checkpoint).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from genai_course.core.checks import check_int, check_number
from genai_course.core.train import History, fit
from genai_course.diffusion.denoisers import UNet
from genai_course.diffusion.samplers import DDIM, sample
from genai_course.diffusion.schedule import NoiseSchedule
from genai_course.generative.vae import gaussian_kl, reparameterize
from genai_course.multimodal.clip import TextEncoder, conv_block
from genai_course.multimodal.tokens import PAD, WordTokenizer
from genai_course.runtime import seeded


class ImageAutoencoder(nn.Module):
    """Pictures (B, 3, S, S) in [-1, 1] <-> latents (B, latent_channels, S/4, S/4).

    The encoder gives the mean and log-variance of a diagonal Gaussian per latent entry (two
    stride-2 convolutions); the decoder mirrors it with nearest-neighbour upsampling. As in
    Stable Diffusion, the latent of a picture is the encoder's mean."""

    def __init__(self, image_size: int = 32, channels: tuple[int, int] = (32, 64),
                 latent_channels: int = 4, seed: int | None = None) -> None:
        super().__init__()
        image_size = check_int(image_size, "image_size", 4)
        if image_size % 4:
            raise ValueError(f"image_size must be divisible by 4, got {image_size}")
        c1, c2 = (check_int(c, "channels", 1) for c in channels)
        self.latent_channels = check_int(latent_channels, "latent_channels", 1)
        self.data_shape = (3, image_size, image_size)
        self.latent_shape = (latent_channels, image_size // 4, image_size // 4)
        with seeded(seed):
            self.encoder = nn.Sequential(
                *conv_block(3, c1), *conv_block(c1, c1, 2), *conv_block(c1, c2),
                *conv_block(c2, c2, 2), nn.Conv2d(c2, 2 * latent_channels, 1))
            self.decoder = nn.Sequential(
                nn.Conv2d(latent_channels, c2, 3, padding=1), nn.SiLU(), *conv_block(c2, c2),
                nn.Upsample(scale_factor=2), *conv_block(c2, c1), nn.Upsample(scale_factor=2),
                *conv_block(c1, c1), nn.Conv2d(c1, 3, 3, padding=1))

    def encode(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of the latent, each (B, *latent_shape)."""
        if images.ndim != 4 or tuple(images.shape[1:]) != self.data_shape:
            raise ValueError(f"images must have shape (B, {', '.join(map(str, self.data_shape))}),"
                             f" got {tuple(images.shape)}")
        mu, logvar = self.encoder(images).chunk(2, dim=1)
        return mu, logvar.clamp(-30, 20)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Pictures (B, 3, S, S) from latents (B, *latent_shape)."""
        return self.decoder(z)


def autoencoder_loss(model: ImageAutoencoder, images: torch.Tensor, beta: float,
                     generator: torch.Generator | None = None
                     ) -> tuple[torch.Tensor, dict[str, float]]:
    """Per-pixel squared error of the reconstruction from a sampled latent plus ``beta``
    times the KL divergence to N(0, I) per latent entry (a beta-VAE, Higgins et al. 2017,
    with the tiny beta of Stable Diffusion's "KL-reg" autoencoders)."""
    mu, logvar = model.encode(images)
    z = reparameterize(mu, logvar, generator)
    recon = F.mse_loss(model.decode(z), images)
    kl = gaussian_kl(mu.flatten(1), logvar.flatten(1)).mean() / mu[0].numel()
    return recon + beta * kl, {"loss": recon.item(), "kl": kl.item()}


def train_autoencoder(model: ImageAutoencoder, images: torch.Tensor, *, steps: int,
                      batch_size: int = 64, lr: float = 2e-3, beta: float = 1e-3, seed: int = 0,
                      progress: bool | None = None) -> History:
    """Fit the autoencoder by :func:`autoencoder_loss` (records the reconstruction error as
    ``loss`` and ``kl``); cosine learning-rate decay, gradients clipped to norm 1."""
    beta = check_number(beta, "beta")
    generator = torch.Generator().manual_seed(seed + 1)
    return fit(model, lambda xb: autoencoder_loss(model, xb, beta, generator), images,
               steps=steps, batch_size=batch_size, seed=seed, lr=lr, lr_schedule="cosine",
               clip_norm=1.0, desc="autoencoder", progress=progress)


class TextConditionedDenoiser(nn.Module):
    """``eps(z_t, t, caption)``: a frozen text encoder's token states feed the cross-attention
    of a :class:`~genai_course.diffusion.UNet`; padding tokens are masked out.

    Labels are token ids (n, context); :meth:`condition` also accepts one caption or a list of
    captions, and :meth:`null_condition` gives the empty caption (``<bos> <eos>``)."""

    num_classes = 0  # not a class-conditional model: it reads captions

    def __init__(self, text_encoder: TextEncoder, tokenizer: WordTokenizer,
                 latent_shape: Sequence[int] = (4, 8, 8), channels: Sequence[int] = (64, 128),
                 emb_dim: int = 64, seed: int | None = None) -> None:
        super().__init__()
        self.text = text_encoder.requires_grad_(False)
        self.tokenizer = tokenizer
        self.context_length = text_encoder.config.block_size
        self.unet = UNet(latent_shape, channels, emb_dim, seed=seed,
                         context_dim=text_encoder.width)

    @property
    def data_shape(self) -> tuple[int, ...]:
        return self.unet.data_shape

    def condition(self, labels: str | Sequence[str] | torch.Tensor, n: int) -> torch.Tensor:
        """Token ids (n, context) for one caption (repeated), ``n`` captions, or ids."""
        device = next(self.unet.parameters()).device
        if isinstance(labels, torch.Tensor):
            ids = labels.to(device)
            if ids.dtype != torch.long or ids.ndim != 2 or ids.shape[1] != self.context_length:
                raise ValueError(f"caption ids must be int64 of shape (n, {self.context_length})")
        else:
            captions = [labels] if isinstance(labels, str) else list(labels)
            if any(not isinstance(c, str) for c in captions):
                raise TypeError("captions must be strings (or token ids)")
            ids = self.tokenizer.batch(captions, self.context_length).to(device)
        if len(ids) == 1:
            ids = ids.expand(n, -1)
        if len(ids) != n:
            raise ValueError(f"give one caption or {n}, got {len(ids)}")
        return ids

    def null_condition(self, labels: torch.Tensor) -> torch.Tensor:
        """The empty caption's ids, shaped like ``labels``."""
        empty = self.tokenizer.batch([""], labels.shape[1]).to(labels.device)
        return empty.expand_as(labels)

    def forward(self, x: torch.Tensor, t: torch.Tensor,
                labels: torch.Tensor | None = None) -> torch.Tensor:
        ids = labels if labels is not None else self.null_condition(
            torch.zeros(len(x), self.context_length, dtype=torch.long, device=x.device))
        return self.unet(x, t, context=self.text(ids), context_mask=ids != PAD)


class TextToImage(nn.Module):
    """Autoencoder + text-conditioned latent denoiser + noise schedule: :meth:`generate`
    turns captions into pictures."""

    def __init__(self, autoencoder: ImageAutoencoder, denoiser: TextConditionedDenoiser,
                 schedule: NoiseSchedule, scale: float) -> None:
        super().__init__()
        if tuple(denoiser.data_shape) != autoencoder.latent_shape:
            raise ValueError(f"the denoiser works on {denoiser.data_shape}, the autoencoder's "
                             f"latents have shape {autoencoder.latent_shape}")
        self.autoencoder, self.denoiser, self.schedule = autoencoder, denoiser, schedule
        self.scale = check_number(scale, "scale", positive=True)

    @property
    def data_shape(self) -> tuple[int, ...]:
        return self.autoencoder.data_shape

    @torch.no_grad()
    def encode(self, images: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
        """Scaled latents ``scale * mu(x)`` of pictures, in batches."""
        self.autoencoder.eval()
        device = next(self.autoencoder.parameters()).device
        return torch.cat([self.scale * self.autoencoder.encode(images[i:i + batch_size]
                                                                  .to(device))[0]
                          for i in range(0, len(images), batch_size)])

    @torch.no_grad()
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Pictures in [-1, 1] from scaled latents."""
        self.autoencoder.eval()
        return self.autoencoder.decode(z / self.scale).clamp(-1, 1)

    def generate(self, captions: str | Sequence[str], n: int | None = None, *,
                 guidance_scale: float = 3.0, steps: int = 25, seed: int | None = 0,
                 progress: bool | None = None) -> torch.Tensor:
        """Pictures (n, 3, S, S) for ``captions`` (one caption repeated ``n`` times, or one
        picture per caption) by deterministic DDIM in the latent space with classifier-free
        guidance ``guidance_scale``, decoded by the autoencoder."""
        if n is None:
            n = 1 if isinstance(captions, str) else len(captions)
        z = sample(self.denoiser, DDIM(self.schedule), n, steps=steps, labels=captions,
                   guidance_scale=guidance_scale, seed=seed, progress=progress)
        return self.decode(z).cpu()
