"""Sound: a synthesiser, a pitch detector, and a small model that turns embeddings into sound.

* :func:`synthesize` -- additive synthesis (a sum of harmonics of ``f0``, Fourier's view of
  timbre; the harmonic oscillator of DDSP, Engel et al. 2020) shaped by a pulse envelope
  and panned between two channels.
* :func:`sonify` -- the chapter's *sonification* of a shapes picture (Kramer et al. 1997:
  data mapped to sound by fixed rules): colour -> note (C4, E4, G4, C5: a C-major chord),
  shape -> timbre (sine, square, triangle, sawtooth spectra), size -> loudness, vertical
  place -> one or two pulses, horizontal place -> stereo pan.
* :func:`detect_pitch` -- the fundamental frequency of a waveform from its normalised
  autocorrelation: the first lag whose correlation comes within ``threshold`` of the best
  one (which avoids octave errors), refined between samples by a parabola.
* :class:`SoundGenerator` -- a small network from a CLIP embedding to synthesiser controls;
  trained on *picture* embeddings, it can also be driven by *caption* embeddings because
  CLIP put both in one space (the decoder-on-a-shared-embedding idea of DALL-E 2's unCLIP,
  Ramesh et al. 2022), and :func:`fit_linear_prior` maps caption embeddings to picture
  embeddings as unCLIP's prior does.

Used in: chapter 5 (and chapter 9's music generation).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from genai_course.core.checks import check_int, check_number
from genai_course.core.train import History, fit
from genai_course.data import shapes
from genai_course.runtime import seeded

SAMPLE_RATE = 8000
DURATION = 0.5
#: The note of each colour (Hz, equal temperament, A4 = 440 Hz).
NOTES = {"red": 261.63, "green": 329.63, "blue": 392.00, "yellow": 523.25}
NOTE_NAMES = {"red": "C4", "green": "E4", "blue": "G4", "yellow": "C5"}
HARMONICS = 8
LOUDNESS = {"small": 0.35, "large": 0.8}


def timbre(shape: str, n: int = HARMONICS) -> torch.Tensor:
    """Harmonic amplitudes (n,) of each shape's sound, summing to 1: circle a pure sine,
    square the odd harmonics at 1/k (a square wave), triangle the odd harmonics at 1/k^2
    (a triangle wave, softer), cross every harmonic at 1/k (a sawtooth, brightest)."""
    k = torch.arange(1, n + 1, dtype=torch.float64)
    odd = (k % 2 == 1).double()
    amps = {"circle": (k == 1).double(), "square": odd / k, "triangle": odd / k ** 2,
            "cross": 1 / k}
    if shape not in amps:
        raise ValueError(f"unknown shape {shape!r}")
    return (amps[shape] / amps[shape].sum()).float()


def sonify(attributes: torch.Tensor) -> dict[str, torch.Tensor]:
    """Synthesiser controls of attribute rows (n, 4): ``f0`` (n,) Hz, ``harmonics`` (n, 8),
    ``loudness`` (n,), ``pulses`` (n,) int64 (2 at the top, 1 at the bottom) and ``pan``
    (n,) in [0, 1] (0.2 on the left, 0.8 on the right)."""
    rows = attributes.long()
    f0 = torch.tensor([NOTES[c] for c in shapes.COLOURS])[rows[:, 1]]
    harmonics = torch.stack([timbre(s) for s in shapes.SHAPES])[rows[:, 0]]
    loudness = torch.tensor([LOUDNESS[s] for s in shapes.SIZES])[rows[:, 2]]
    position = rows[:, 3]
    pulses = torch.where(position < 2, 2, 1)
    pan = torch.where(position % 2 == 0, 0.2, 0.8)
    return {"f0": f0, "harmonics": harmonics, "loudness": loudness, "pulses": pulses, "pan": pan}


def envelope(pulses: torch.Tensor, samples: int) -> torch.Tensor:
    """(n, samples) amplitude envelopes: ``pulses[i]`` equal notes, each a sine-shaped swell
    (``sin(pi u)^0.5`` over the note) separated by nothing: silence comes from the shape."""
    u = torch.arange(samples, dtype=torch.float64) / samples
    phase = (u[None] * pulses[:, None].double()) % 1.0
    return torch.sin(math.pi * phase).clamp(min=0).sqrt().float()


def synthesize(controls: dict[str, torch.Tensor], duration: float = DURATION,
               sample_rate: int = SAMPLE_RATE) -> torch.Tensor:
    """Stereo waveforms (n, 2, samples) in [-1, 1] from :func:`sonify`-style controls:
    ``loudness * envelope * sum_k a_k sin(2 pi k f0 t)``, split between the channels by
    ``pan`` (left gain ``1 - pan``, right gain ``pan``). Harmonics above the Nyquist
    frequency are dropped."""
    sample_rate = check_int(sample_rate, "sample_rate", 100)
    samples = int(check_number(duration, "duration", positive=True) * sample_rate)
    f0 = controls["f0"].double()[:, None, None]
    amps = controls["harmonics"].double()
    k = torch.arange(1, amps.shape[1] + 1, dtype=torch.float64)[None, :, None]
    amps = torch.where(k[..., 0] * f0[..., 0] < sample_rate / 2, amps, 0.0)
    t = torch.arange(samples, dtype=torch.float64)[None, None] / sample_rate
    wave = (amps[..., None] * torch.sin(2 * math.pi * k * f0 * t)).sum(1)
    wave = wave * envelope(controls["pulses"], samples) * controls["loudness"].double()[:, None]
    pan = controls["pan"].double()[:, None]
    return torch.stack([(1 - pan) * wave, pan * wave], dim=1).float()


def detect_pitch(wave: torch.Tensor, sample_rate: int = SAMPLE_RATE, fmin: float = 60.0,
                 fmax: float = 1200.0, threshold: float = 0.9) -> float:
    """The fundamental frequency (Hz) of a 1-D waveform.

    ``r(L) = sum_t x_t x_{t+L} / sqrt(sum x_t^2 sum x_{t+L}^2)`` over lags ``L`` between
    ``sample_rate / fmax`` and ``sample_rate / fmin``; the period is the first lag that is a
    local maximum with ``r`` at least ``threshold`` times the largest ``r`` (multiples of the
    period correlate as well as the period itself; taking the best one would report an
    octave too low), refined by the vertex of the parabola through it and its neighbours
    (the autocorrelation method; de Cheveigne & Kawahara 2002 discuss its pitfalls)."""
    if not isinstance(wave, torch.Tensor) or wave.ndim != 1:
        raise ValueError("wave must be a 1-D tensor")
    x = wave.double() - wave.double().mean()
    lo, hi = max(1, int(sample_rate / fmax)), int(math.ceil(sample_rate / fmin)) + 1
    if len(x) < 2 * hi:
        raise ValueError(f"need at least {2 * hi} samples to detect pitches down to {fmin} Hz")
    if not bool((x.abs() > 0).any()):
        raise ValueError("the waveform is silent: it has no pitch")
    lags = torch.arange(lo - 1, hi + 2)
    n = len(x) - hi - 1
    frames = torch.stack([x[lag:lag + n] for lag in lags.tolist()])
    r = (frames * x[:n]).sum(1) / (frames.norm(dim=1) * x[:n].norm()).clamp(min=1e-12)
    inner = r[1:-1]
    peaks = (inner >= r[:-2]) & (inner >= r[2:]) & (inner >= threshold * inner.max())
    i = int(peaks.nonzero()[0]) + 1
    a, b, c = r[i - 1].item(), r[i].item(), r[i + 1].item()
    shift = 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) != 0 else 0.0
    return float(sample_rate / (lags[i].item() + shift))


def cents(detected: float | torch.Tensor, requested: float | torch.Tensor) -> torch.Tensor:
    """Pitch error in cents (1/100 of a semitone): ``1200 log2(detected / requested)``."""
    return 1200 * torch.log2(torch.as_tensor(detected, dtype=torch.float64)
                             / torch.as_tensor(requested, dtype=torch.float64))


class SoundGenerator(nn.Module):
    """Embedding (n, d) -> synthesiser controls: an MLP predicting ``log2(f0 / 261.63)``,
    harmonic amplitudes (a softmax), loudness and pan (sigmoids) and the pulse count (two
    logits)."""

    def __init__(self, embed_dim: int = 64, hidden: int = 128, seed: int | None = None) -> None:
        super().__init__()
        with seeded(seed):
            self.net = nn.Sequential(nn.Linear(embed_dim, hidden), nn.GELU(),
                                     nn.Linear(hidden, hidden), nn.GELU(),
                                     nn.Linear(hidden, 1 + HARMONICS + 1 + 1 + 2))

    def forward(self, embeddings: torch.Tensor) -> dict[str, torch.Tensor]:
        """Raw outputs by name (``log_f0``, ``harmonic_logits``, ``loudness_logit``,
        ``pan_logit``, ``pulse_logits``)."""
        out = self.net(embeddings)
        parts = out.split([1, HARMONICS, 1, 1, 2], dim=1)
        names = ("log_f0", "harmonic_logits", "loudness_logit", "pan_logit", "pulse_logits")
        return {k: v[:, 0] if v.shape[1] == 1 else v for k, v in zip(names, parts, strict=True)}

    @torch.no_grad()
    def controls(self, embeddings: torch.Tensor) -> dict[str, torch.Tensor]:
        """Synthesiser controls (as :func:`sonify` gives) for embeddings."""
        self.eval()
        out = self(embeddings)
        return {"f0": NOTES["red"] * 2 ** out["log_f0"],
                "harmonics": out["harmonic_logits"].softmax(dim=1),
                "loudness": torch.sigmoid(out["loudness_logit"]),
                "pan": torch.sigmoid(out["pan_logit"]),
                "pulses": out["pulse_logits"].argmax(dim=1) + 1}

    def generate(self, embeddings: torch.Tensor, duration: float = DURATION) -> torch.Tensor:
        """Stereo waveforms (n, 2, samples) for embeddings."""
        return synthesize(self.controls(embeddings), duration)


def sound_loss(model: SoundGenerator, embeddings: torch.Tensor, attributes: torch.Tensor
               ) -> torch.Tensor:
    """Regression onto the sonification targets: squared error of ``log2 f0`` (in octaves),
    loudness and pan, cross-entropy of the harmonic mix and of the pulse count."""
    target = sonify(attributes)
    out = model(embeddings)
    log_f0 = torch.log2(target["f0"] / NOTES["red"]).to(embeddings.device)
    return (F.mse_loss(out["log_f0"], log_f0)
            + F.mse_loss(torch.sigmoid(out["loudness_logit"]), target["loudness"])
            + F.mse_loss(torch.sigmoid(out["pan_logit"]), target["pan"])
            - (target["harmonics"] * out["harmonic_logits"].log_softmax(1)).sum(1).mean()
            + F.cross_entropy(out["pulse_logits"], target["pulses"] - 1))


def train_sound_generator(model: SoundGenerator, embeddings: torch.Tensor,
                          attributes: torch.Tensor, *, steps: int = 400, batch_size: int = 128,
                          lr: float = 3e-3, seed: int = 0, progress: bool | None = None
                          ) -> History:
    """Fit :func:`sound_loss` on (embedding, attribute row) pairs."""
    return fit(model, lambda e, a: sound_loss(model, e, a), (embeddings, attributes),
               steps=steps, batch_size=batch_size, seed=seed, lr=lr, lr_schedule="cosine",
               desc="sound generator", progress=progress)


def fit_linear_prior(text_embeddings: torch.Tensor, image_embeddings: torch.Tensor,
                     ridge: float = 1e-3) -> torch.Tensor:
    """A linear "prior" ``W`` (d, d) with ``normalize(t @ W)`` close to the paired image
    embedding: ridge regression ``W = (T^T T + ridge I)^-1 T^T I`` (a linear stand-in for the
    diffusion prior of DALL-E 2, which maps CLIP text embeddings to image embeddings)."""
    t, i = text_embeddings.double(), image_embeddings.double()
    eye = torch.eye(t.shape[1], dtype=torch.float64)
    return torch.linalg.solve(t.T @ t + ridge * len(t) * eye, t.T @ i).float()
