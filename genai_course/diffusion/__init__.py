"""Denoising diffusion (chapter 4; conditioned on text in chapter 5).

* :mod:`~genai_course.diffusion.schedule` -- the noise schedule and the forward process;
* :mod:`~genai_course.diffusion.samplers` -- DDPM and DDIM with one interface, guidance,
  :func:`sample` and :func:`img2img`, both running :func:`sample_loop`;
* :mod:`~genai_course.diffusion.denoisers` -- the U-Net and the MLP noise predictors;
* :mod:`~genai_course.diffusion.training` -- the epsilon-prediction loss and its trainer;
* :mod:`~genai_course.diffusion.functional` -- the formulas on plain tensors (chapter 4's
  exercises);
* :mod:`~genai_course.diffusion.latent` -- diffusion in an autoencoder's latent space;
* :mod:`~genai_course.diffusion.studies` -- the measured trade-offs of chapter 4.

The names below are importable from the package itself.
"""

from genai_course.diffusion.denoisers import MLPDenoiser, UNet
from genai_course.diffusion.samplers import (
    DDIM,
    DDPM,
    Sampler,
    ddim_timesteps,
    guided_eps,
    img2img,
    predict_eps,
    sample,
    sample_loop,
    sampling_moves,
)
from genai_course.diffusion.schedule import NoiseSchedule
from genai_course.diffusion.training import (
    diffusion_loss,
    evaluate_loss,
    train_diffusion,
    training_targets,
)

__all__ = ["DDIM", "DDPM", "MLPDenoiser", "NoiseSchedule", "Sampler", "UNet", "ddim_timesteps",
           "diffusion_loss", "evaluate_loss", "guided_eps", "img2img", "predict_eps", "sample",
           "sample_loop", "sampling_moves", "train_diffusion", "training_targets"]
