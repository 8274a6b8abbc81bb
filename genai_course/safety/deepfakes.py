"""Telling generated images from real ones, by their pixels and by their spectrum.

Generators leave traces in the frequency domain: up-sampling layers and denoisers reproduce
the high frequencies of real images badly (Durall et al. 2020, "Watch your Up-Convolution";
Dzanic et al. 2020, "Fourier spectrum discrepancies in deep network generated images").
:func:`radial_power_spectrum` summarises an image's spectrum by the azimuthal average of its
power, ring by ring around the zero frequency; :func:`image_features` gives the detector
(:class:`~genai_course.safety.detectors.Detector`) pixels, the spectrum, or both.

Used in: chapter 10.
"""

from __future__ import annotations

import torch

FEATURES = ("pixels", "spectrum", "both")


def _images(images: torch.Tensor) -> torch.Tensor:
    if not isinstance(images, torch.Tensor) or not images.is_floating_point():
        raise TypeError("images must be a floating-point torch.Tensor")
    if images.ndim == 4 and images.shape[1] == 1:
        images = images[:, 0]
    if images.ndim != 3:
        raise ValueError(f"images must have shape (N, H, W) or (N, 1, H, W), got "
                         f"{tuple(images.shape)}")
    return images


def radial_power_spectrum(images: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """``log(mean power + eps)`` on each ring of integer radius around the zero frequency:
    the 2-D discrete Fourier transform of each image, shifted so that frequency 0 sits at
    ``(H // 2, W // 2)``, its squared magnitude averaged over the pixels whose distance from
    there rounds to ``r = 0, 1, ...``. Shape ``(N, n_rings)``."""
    x = _images(images).double()
    H, W = x.shape[-2:]
    power = torch.fft.fftshift(torch.fft.fft2(x), dim=(-2, -1)).abs().pow(2)
    yy, xx = torch.meshgrid(torch.arange(H) - H // 2, torch.arange(W) - W // 2, indexing="ij")
    ring = torch.sqrt((yy ** 2 + xx ** 2).double()).round().long().reshape(-1)
    n_rings = int(ring.max()) + 1
    sums = torch.zeros(len(x), n_rings, dtype=torch.float64)
    sums.index_add_(1, ring, power.reshape(len(x), -1))
    counts = torch.bincount(ring, minlength=n_rings).double()
    return torch.log(sums / counts + eps).float()


def image_features(images: torch.Tensor, kind: str = "both") -> torch.Tensor:
    """The detector's input: ``"pixels"`` (flattened), ``"spectrum"``
    (:func:`radial_power_spectrum`) or ``"both"`` side by side, shape ``(N, d)``."""
    x = _images(images)
    if kind not in FEATURES:
        raise ValueError(f"kind must be one of {FEATURES}, got {kind!r}")
    parts = []
    if kind in ("pixels", "both"):
        parts.append(x.reshape(len(x), -1).float())
    if kind in ("spectrum", "both"):
        parts.append(radial_power_spectrum(x))
    return torch.cat(parts, dim=1)
