"""Figures and widgets of the multimodal chapter: colour picture grids, cross-attention maps,
a retrieval explorer and a caption -> picture box.

Figures follow :mod:`genai_course.viz.plotting`: they draw into ``ax`` when given, else
into a new Figure that pyplot does not track, and return the Figure.

Used in: chapter 5.
"""

from __future__ import annotations

import html
import io
from collections.abc import Sequence
from typing import Any

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure


def _axes(ax: Axes | None, size: tuple[float, float]) -> Axes:
    return ax if ax is not None else Figure(figsize=size, layout="constrained").subplots()


def rgb_grid(images: torch.Tensor, nrow: int) -> np.ndarray:
    """Colour pictures (N, 3, H, W) in [-1, 1] tiled ``nrow`` to a row, one white pixel
    between them: an (rows * (H + 1) + 1, nrow * (W + 1) + 1, 3) array in [0, 1]."""
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.shape[1] != 3:
        raise ValueError("images must be a tensor of shape (N, 3, H, W)")
    n, _, h, w = images.shape
    rows = -(-n // nrow)
    canvas = np.ones((rows * (h + 1) + 1, nrow * (w + 1) + 1, 3), dtype=np.float32)
    pictures = ((images.detach().cpu().float().clamp(-1, 1) + 1) / 2).permute(0, 2, 3, 1).numpy()
    for i, picture in enumerate(pictures):
        r, c = divmod(i, nrow)
        canvas[1 + r * (h + 1):1 + r * (h + 1) + h, 1 + c * (w + 1):1 + c * (w + 1) + w] = picture
    return canvas


def plot_rgb_grid(images: torch.Tensor, nrow: int | None = None, ax: Axes | None = None,
                  title: str | None = None, labels: Sequence[Any] | None = None) -> Figure:
    """Colour pictures (N, 3, H, W) in [-1, 1] in a grid of ``nrow`` columns (default about
    sqrt(N)); ``labels`` are written under each picture's top-left corner."""
    n = len(images)
    nrow = nrow or int(np.ceil(np.sqrt(n)))
    rows = -(-n // nrow)
    ax = _axes(ax, (nrow * 0.8 + 0.4, rows * 0.8 + 0.6))
    ax.imshow(rgb_grid(images, nrow), interpolation="nearest")
    h, w = images.shape[2:]
    for i, label in enumerate(labels or []):
        r, c = divmod(i, nrow)
        ax.text(1 + c * (w + 1), 1 + r * (h + 1), str(label), fontsize=6, color="white",
                va="top", ha="left")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
    return ax.figure


def plot_captioned(images: torch.Tensor, captions: Sequence[str], ncol: int = 6,
                   fig: Figure | None = None, title: str | None = None,
                   marks: Sequence[bool] | None = None) -> Figure:
    """Colour pictures with their captions underneath (wrapped); ``marks`` (one bool per
    picture) draws a red frame around the pictures marked False (e.g. a wrong caption)."""
    import textwrap

    n = len(images)
    rows = -(-n // ncol)
    fig = fig or Figure(figsize=(1.9 * ncol, 2.3 * rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, ncol)).reshape(-1)
    for i, ax in enumerate(axes):
        ax.set_axis_off()
        if i >= n:
            continue
        ax.imshow(((images[i].detach().cpu().clamp(-1, 1) + 1) / 2).permute(1, 2, 0).numpy(),
                  interpolation="nearest")
        ax.set_title("\n".join(textwrap.wrap(captions[i], 22)), fontsize=7)
        if marks is not None and not marks[i]:
            ax.set_axis_on()
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_color("#d62728")
                spine.set_linewidth(2.5)
    if title:
        fig.suptitle(title, fontsize=9)
    return fig


def plot_attention_maps(image: torch.Tensor, tokens: Sequence[str], maps: torch.Tensor,
                        fig: Figure | None = None, title: str | None = None) -> Figure:
    """The picture, then one panel per token: its attention map (h, w) upsampled over the
    picture (brighter = more attention from the picture's pixels to that word)."""
    panels = len(tokens) + 1
    fig = fig or Figure(figsize=(1.25 * panels, 1.6), layout="constrained")
    axes = fig.subplots(1, panels)
    picture = ((image.detach().cpu().clamp(-1, 1) + 1) / 2).permute(1, 2, 0).numpy()
    axes[0].imshow(picture, interpolation="nearest")
    axes[0].set_title("picture", fontsize=8)
    size = picture.shape[0]
    top = float(maps.max())
    for ax, token, heat in zip(axes[1:], tokens, maps, strict=True):
        ax.imshow(picture, interpolation="nearest", alpha=0.35)
        ax.imshow(heat.numpy(), cmap="magma", alpha=0.75, vmin=0, vmax=top,
                  extent=(-0.5, size - 0.5, size - 0.5, -0.5), interpolation="nearest")
        ax.set_title(token, fontsize=8)
    for ax in axes:
        ax.set_axis_off()
    if title:
        fig.suptitle(title, fontsize=9)
    return fig


def _png(images: torch.Tensor, nrow: int, scale: float = 1.0) -> bytes:
    rows = -(-len(images) // nrow)
    ax = Figure(figsize=(nrow * scale + 0.1, rows * scale + 0.1)).subplots()
    ax.imshow(rgb_grid(images, nrow), interpolation="nearest")
    ax.set_axis_off()
    buffer = io.BytesIO()
    ax.figure.savefig(buffer, format="png", dpi=80, bbox_inches="tight", pad_inches=0.02)
    return buffer.getvalue()


def retrieval_explorer(clip: Any, images: torch.Tensor, captions: Sequence[str],
                       image_features: torch.Tensor | None = None, k: int = 8) -> widgets.VBox:
    """Type a caption: the ``k`` pictures of the gallery ``images`` that ``clip`` finds most
    similar (with their cosine similarity). Or pick a picture: its ``k`` best captions
    among ``captions``."""
    from genai_course.multimodal.retrieval import embed_images, embed_texts

    feats = embed_images(clip, images) if image_features is None else image_features
    caption_feats = embed_texts(clip, list(captions))
    query = widgets.Text(value="a small blue circle in the top left", description="caption",
                         layout=widgets.Layout(width="30em"), continuous_update=False)
    index = widgets.IntSlider(value=0, min=0, max=len(images) - 1, description="picture #",
                              continuous_update=False)
    picture, found = widgets.Image(format="png"), widgets.Image(format="png")
    text_out, caption_out = widgets.HTML(), widgets.HTML()

    def by_text(_: object = None) -> None:
        unknown = clip.tokenizer.unknown_words(query.value)
        q = embed_texts(clip, [query.value])[0]
        scores = feats @ q
        top = scores.argsort(descending=True)[:k]
        found.value = _png(images[top], nrow=k)
        warn = (f" <span style='color:#d62728'>unknown words (read as &lt;unk&gt;): "
                f"{html.escape(', '.join(unknown))}</span>") if unknown else ""
        text_out.value = ("<b>most similar pictures</b> (cosine): "
                          + ", ".join(f"{scores[i]:.2f}" for i in top) + warn)

    def by_image(_: object = None) -> None:
        i = index.value
        picture.value = _png(images[i:i + 1], nrow=1, scale=1.2)
        scores = caption_feats @ feats[i]
        top = scores.argsort(descending=True)[:5]
        caption_out.value = "<b>best captions</b><ol>" + "".join(
            f"<li>{html.escape(captions[int(j)])} ({scores[j]:.2f})</li>" for j in top) + "</ol>"

    query.observe(by_text, names="value")
    index.observe(by_image, names="value")
    by_text()
    by_image()
    return widgets.VBox([widgets.HTML("<b>text -> pictures</b>"), query, text_out, found,
                         widgets.HTML("<b>picture -> text</b>"), index,
                         widgets.HBox([picture, caption_out])])


def caption_to_image(t2i: Any, caption: str = "a large red triangle in the bottom right",
                     n: int = 8, steps: int = 20) -> widgets.VBox:
    """Type a caption, choose the guidance scale and a seed: ``n`` pictures from the
    text-to-image model ``t2i`` (DDIM, ``steps`` steps). Words outside the vocabulary are
    flagged (the model reads them as ``<unk>``)."""
    text = widgets.Text(value=caption, description="caption", continuous_update=False,
                        layout=widgets.Layout(width="30em"))
    scale = widgets.FloatSlider(value=3.0, min=0.0, max=8.0, step=0.5, description="w",
                                continuous_update=False)
    seed = widgets.IntSlider(value=0, min=0, max=99, description="seed", continuous_update=False)
    picture, note = widgets.Image(format="png"), widgets.HTML()

    def update(_: object = None) -> None:
        tokenizer = t2i.denoiser.tokenizer
        unknown = tokenizer.unknown_words(text.value)
        if len(tokenizer.encode(text.value)) > t2i.denoiser.context_length:
            note.value = "<span style='color:#d62728'>caption too long</span>"
            return
        images = t2i.generate(text.value, n, guidance_scale=scale.value, steps=steps,
                              seed=seed.value, progress=False)
        picture.value = _png(images, nrow=n)
        note.value = (f"<b>w = {scale.value:g}</b>, seed {seed.value}"
                      + (f"; <span style='color:#d62728'>unknown words: "
                         f"{html.escape(', '.join(unknown))}</span>" if unknown else ""))

    for w in (text, scale, seed):
        w.observe(update, names="value")
    update()
    return widgets.VBox([text, widgets.HBox([scale, seed]), note, picture])
