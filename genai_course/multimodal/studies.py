"""The chapter's measurements: text-to-image fidelity per guidance scale, cross-attention
maps, CLIP score, and the compute cost of each modality.

Used in: chapter 5.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from genai_course.data import shapes
from genai_course.diffusion.samplers import DDIM, sample
from genai_course.evaluation.shapes_classifier import attribute_accuracy, predict_attributes
from genai_course.multimodal.attention import keep_attention_maps
from genai_course.multimodal.retrieval import embed_images, embed_texts


def clip_score(clip: torch.nn.Module, images: torch.Tensor, captions: Sequence[str]) -> float:
    """Mean ``100 * max(cos(image, caption), 0)`` under ``clip`` (the CLIPScore of Hessel et
    al. 2021 up to its constant, as torchmetrics reports it)."""
    cos = (embed_images(clip, images) * embed_texts(clip, captions)).sum(1)
    return float(100 * cos.clamp(min=0).mean())


def requests(n: int, combos: str, seed: int) -> tuple[torch.Tensor, list[str]]:
    """``n`` attribute rows of ``combos`` (drawn with ``seed``) and their full captions in
    the first template ("a small red circle in the top left")."""
    rows = torch.from_numpy(shapes.sample_attributes(n, np.random.default_rng(seed), combos))
    return rows, [shapes.caption(r.tolist()) for r in rows]


def guidance_study(t2i: Any, classifier: torch.nn.Module, scales: Sequence[float] = (0, 1, 3),
                   n: int = 64, steps: int = 20, seed: int = 0, clip: Any = None,
                   splits: Sequence[str] = ("seen", "heldout")) -> list[dict[str, Any]]:
    """For each split (seen / held-out colour-shape combinations) and guidance scale ``w``:
    generate one picture for each of ``n`` full captions and report the classifier's
    accuracy on each requested attribute, ``all`` four, the CLIP score (with ``clip``), the
    seconds it took, and the pictures. The same captions and starting noise for every ``w``."""
    rows_out = []
    for split_index, split in enumerate(splits):
        rows, captions = requests(n, split, seed + split_index)
        for w in scales:
            start = time.perf_counter()
            images = t2i.generate(captions, guidance_scale=float(w), steps=steps,
                                  seed=seed, progress=False)
            seconds = time.perf_counter() - start
            row = {"split": split, "w": float(w), "seconds": seconds, "images": images,
                   "captions": captions, "attributes": rows,
                   **attribute_accuracy(predict_attributes(classifier, images), rows)}
            if clip is not None:
                row["clip_score"] = clip_score(clip, images, captions)
            rows_out.append(row)
    return rows_out


@torch.no_grad()
def text_to_image_attention(t2i: Any, caption: str, guidance_scale: float = 3.0,
                            steps: int = 20, seed: int = 0
                            ) -> tuple[torch.Tensor, list[str], torch.Tensor]:
    """Generate one picture for ``caption`` and record where each caption token looked: the
    cross-attention weights of every U-Net layer (conditional branch), averaged over heads
    and sampling steps, upsampled to the finest latent grid and averaged over layers.

    Returns the picture (3, S, S), the tokens (``<bos>``, the words, ``<eos>``) and their
    maps (tokens, h, w), each summing to the share of attention the token received."""
    denoiser = t2i.denoiser
    layers = keep_attention_maps(denoiser)
    grid = denoiser.data_shape[1:]
    total: list[torch.Tensor] = []

    def record(t: int, x: torch.Tensor, x0: torch.Tensor) -> None:
        maps = []
        for layer in layers:
            w = layer.last_weights[-1:]  # the conditional half of the guided batch
            side = int(round(w.shape[2] ** 0.5))
            per_token = w.mean(1)[0].T.reshape(-1, 1, side, side)  # (L, 1, side, side)
            maps.append(F.interpolate(per_token, size=grid, mode="nearest")[:, 0])
        total.append(torch.stack(maps).mean(0))

    try:
        z = sample(denoiser, DDIM(t2i.schedule), 1, steps=steps, labels=caption,
                   guidance_scale=guidance_scale, seed=seed, progress=False, callback=record)
    finally:
        keep_attention_maps(denoiser, keep=False)
    ids = denoiser.tokenizer.encode(caption)
    tokens = [denoiser.tokenizer.words[i] for i in ids]
    maps = torch.stack(total).mean(0)[:len(ids)].cpu()
    return t2i.decode(z)[0].cpu(), tokens, maps


def measure_cost(fn: Callable[[], Any], repeats: int = 3) -> tuple[float, float]:
    """FLOPs of one call of ``fn`` (PyTorch's FlopCounterMode: matrix products and
    convolutions) and its mean wall-clock seconds over ``repeats`` calls after a warm-up."""
    counter = FlopCounterMode(display=False)
    with counter:
        fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return float(counter.get_total_flops()), (time.perf_counter() - start) / repeats


def parameters(*modules: torch.nn.Module) -> int:
    """Distinct parameters of the modules together (a shared submodule counts once)."""
    seen = {id(p): p.numel() for m in modules for p in m.parameters()}
    return sum(seen.values())
