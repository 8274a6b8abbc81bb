"""Latent diffusion in miniature: scaling, encode/decode, and the two-stage trainer."""

from __future__ import annotations

import pytest
import torch

from genai_course.data.digits import load_digits
from genai_course.diffusion import MLPDenoiser, NoiseSchedule
from genai_course.diffusion.latent import (
    LatentDiffusion,
    encode_means,
    latent_scale,
    train_latent_diffusion,
)
from genai_course.generative.vae import VAE


def test_latent_scale_gives_unit_variance() -> None:
    z = 0.2 * torch.randn(5000, 4, generator=torch.Generator().manual_seed(0)) + 3.0
    scale = latent_scale(z)
    assert (scale * z).std().item() == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ValueError, match="zero spread"):
        latent_scale(torch.ones(10, 2))


def test_encode_decode_use_the_scaled_encoder_means() -> None:
    torch.manual_seed(0)
    vae = VAE(data_shape=(1, 8, 8), latent_dim=3, conv=True)
    model = LatentDiffusion(vae, MLPDenoiser(dim=3, hidden=8, n_blocks=1), NoiseSchedule.linear(10),
                            scale=2.0)
    x, _ = load_digits("test")
    mu = encode_means(vae, x[:7], batch_size=3)
    torch.testing.assert_close(mu, vae.encode(x[:7])[0])
    torch.testing.assert_close(model.encode(x[:7]), 2.0 * mu)
    torch.testing.assert_close(model.decode(model.encode(x[:7])), vae.decode(mu))
    assert model.data_shape == (1, 8, 8)
    with pytest.raises(ValueError, match="the denoiser works on"):
        LatentDiffusion(vae, MLPDenoiser(dim=2), NoiseSchedule.linear(10), 1.0)
    with pytest.raises(ValueError, match="scale must be"):
        LatentDiffusion(vae, MLPDenoiser(dim=3), NoiseSchedule.linear(10), 0.0)


def test_two_stage_training_produces_class_conditional_images(one_thread) -> None:
    x, y = load_digits("train")
    model, histories = train_latent_diffusion(x, y, latent_dim=2, ae_steps=30, diffusion_steps=30,
                                              T=50, hidden=16, progress=False)
    assert set(histories) == {"autoencoder", "diffusion"}
    assert histories["diffusion"].steps == 30 and model.denoiser.num_classes == 10
    assert model.encode(x).std().item() == pytest.approx(1.0, abs=1e-4)
    images = model.sample(4, labels=[0, 1, 2, 3], guidance_scale=2.0, steps=5, seed=0,
                          progress=False)
    assert images.shape == (4, 1, 8, 8) and torch.isfinite(images).all()
    again = model.sample(4, labels=[0, 1, 2, 3], guidance_scale=2.0, steps=5, seed=0,
                         progress=False)
    assert torch.equal(images, again)
