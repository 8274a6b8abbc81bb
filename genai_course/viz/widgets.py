"""Interactive demos (ipywidgets) used by the chapter notebooks."""

from __future__ import annotations

import html
from collections.abc import Sequence

import ipywidgets as widgets
import numpy as np
import torch

from genai_course.classic.ngram import NGramLanguageModel, apply_temperature
from genai_course.llm.decoding import next_token_distribution


def top_tokens(
    model: NGramLanguageModel, context: Sequence[str], temperature: float, k: int = 8
) -> list[tuple[str, float]]:
    """The ``k`` most probable next tokens after ``context`` at ``temperature``
    (the distribution ``generate`` samples from at its first step)."""
    dist = model.sampling_distribution(context)
    probs = apply_temperature(np.fromiter(dist.values(), dtype=np.float64), temperature)
    order = np.argsort(-probs, kind="stable")[:k]
    tokens = list(dist)
    return [(tokens[i], float(probs[i])) for i in order]


def ngram_generator(
    model: NGramLanguageModel,
    context: Sequence[str] = (),
    num_tokens: int = 40,
) -> widgets.VBox:
    """Sliders for temperature and seed; shows the next-token distribution after
    ``context`` and a sample generated from it."""
    temperature = widgets.FloatLogSlider(
        value=1.0, base=10, min=-1.3, max=0.7, step=0.05, description="temperature"
    )
    seed = widgets.IntSlider(value=0, min=0, max=99, description="seed")
    length = widgets.IntSlider(value=num_tokens, min=5, max=200, step=5, description="tokens")
    table = widgets.HTML()
    text = widgets.HTML()

    def update(_: object = None) -> None:
        rows = "".join(
            f"<tr><td><code>{html.escape(tok)}</code></td><td>{p:.3f}</td>"
            f"<td><div style='background:#4c72b0;height:10px;width:{200 * p:.0f}px'></div></td>"
            "</tr>"
            for tok, p in top_tokens(model, context, temperature.value)
        )
        shown = " ".join(context[-(model.n - 1) :]) if model.n > 1 and context else "(start)"
        table.value = (
            f"<b>next token after</b> <code>{html.escape(shown)}</code><table>{rows}</table>"
        )
        words = model.generate(length.value, seed=seed.value, temperature=temperature.value,
                               context=context)
        text.value = (
            f"<p style='max-width:60em'><b>sample:</b> {html.escape(' '.join(words))}</p>"
        )

    for w in (temperature, seed, length):
        w.observe(update, names="value")
    update()
    return widgets.VBox([widgets.HBox([temperature, seed, length]), table, text])


def next_token_explorer(model: torch.nn.Module, prompt: str, k: int = 12) -> widgets.VBox:
    """Sliders for temperature, top-k and top-p; shows how the next-token distribution of
    a GPT with a ``tokenizer`` after ``prompt`` changes (grey: temperature 1, unfiltered;
    blue: what the sampler would draw from). ``top_k = 0`` and ``top_p = 1`` switch the
    filters off."""
    device = next(model.parameters()).device
    ids = torch.tensor([model.tokenizer.encode(prompt)[-model.config.block_size:]], device=device)
    with torch.no_grad():
        logits = model(ids)[0, -1].cpu()
    base = logits.softmax(-1)
    shown = base.argsort(descending=True)[:k].tolist()
    temperature = widgets.FloatSlider(value=1.0, min=0.1, max=3.0, step=0.05,
                                      description="temperature")
    top_k = widgets.IntSlider(value=0, min=0, max=len(base), description="top_k")
    top_p = widgets.FloatSlider(value=1.0, min=0.05, max=1.0, step=0.05, description="top_p")
    table = widgets.HTML()

    def update(_: object = None) -> None:
        probs = next_token_distribution(logits, temperature.value, top_k.value or None,
                                        top_p.value if top_p.value < 1 else None)
        rows = "".join(
            f"<tr><td><code>{html.escape(repr(model.tokenizer.decode([i])))}</code></td>"
            f"<td>{base[i]:.3f}</td><td>{probs[i]:.3f}</td><td>"
            f"<div style='background:#bbb;height:6px;width:{200 * base[i]:.0f}px'></div>"
            f"<div style='background:#4c72b0;height:6px;width:{200 * probs[i]:.0f}px'></div>"
            "</td></tr>" for i in shown)
        kept = int((probs > 0).sum())
        table.value = (f"<b>next token after</b> <code>{html.escape(prompt[-60:])}</code> "
                       f"({kept} of {len(probs)} tokens can be drawn)<table><tr><th>token</th>"
                       f"<th>p</th><th>sampled p</th><th></th></tr>{rows}</table>")

    for w in (temperature, top_k, top_p):
        w.observe(update, names="value")
    update()
    return widgets.VBox([widgets.HBox([temperature, top_k, top_p]), table])


def _png(images: torch.Tensor, nrow: int, labels: Sequence[object] | None = None,
         scale: float = 0.6) -> bytes:
    """Images (N, 1, H, W) in [-1, 1] tiled by :func:`~genai_course.viz.plotting.plot_image_grid`,
    as PNG bytes for an ``ipywidgets.Image``."""
    import io

    from matplotlib.figure import Figure

    from genai_course.viz.plotting import plot_image_grid

    rows = -(-len(images) // nrow)
    ax = Figure(figsize=(nrow * scale + 0.2, rows * scale + 0.2)).subplots()
    plot_image_grid(images, nrow=nrow, ax=ax, labels=labels)
    buffer = io.BytesIO()
    ax.figure.savefig(buffer, format="png", dpi=80)
    return buffer.getvalue()


def diffusion_explorer(model: torch.nn.Module, images: torch.Tensor,
                       labels: torch.Tensor | None = None, seed: int = 0) -> widgets.VBox:
    """A slider over the step t of a diffusion ``model`` (with its ``model.schedule``): shows
    the clean ``images`` x_0 (a few digits, (N, 1, H, W)), the noisy x_t = q_sample(x_0, t,
    eps) with one fixed noise draw, and the model's prediction of x_0 from x_t alone."""
    schedule = model.schedule
    noise = torch.randn(images.shape, generator=torch.Generator().manual_seed(seed))
    step = widgets.IntSlider(value=schedule.T // 4, min=0, max=schedule.T - 1,
                             step=max(1, schedule.T // 100), description="t",
                             continuous_update=False)
    picture = widgets.Image(format="png")
    caption = widgets.HTML()
    device = next(model.parameters()).device

    def update(_: object = None) -> None:
        t = step.value
        x_t = schedule.q_sample(images, t, noise)
        with torch.no_grad():
            steps = torch.full((len(images),), t, dtype=torch.long, device=device)
            y = None if labels is None else labels.to(device)
            eps = model(x_t.to(device), steps, y).cpu()
        x0_hat = schedule.predict_x0(eps, t, x_t).clamp(-1, 1)
        n = len(images)
        picture.value = _png(torch.cat([images, x_t.clamp(-1, 1), x0_hat]), nrow=n)
        abar = schedule.alphas_cumprod[t].item()
        caption.value = (f"<b>t = {t}</b>: abar = {abar:.4f}, SNR = {schedule.snr(t).item():.3g}"
                         f" (signal weight {abar ** 0.5:.3f}, noise weight "
                         f"{(1 - abar) ** 0.5:.3f}). Rows: x_0, x_t, the model's x_0 from x_t.")

    step.observe(update, names="value")
    update()
    return widgets.VBox([step, caption, picture])


def guidance_explorer(model: torch.nn.Module, per_digit: int = 4, steps: int = 20,
                      seed: int = 0) -> widgets.VBox:
    """A slider over the classifier-free guidance scale w of a class-conditional digit
    ``model``: ``per_digit`` DDIM samples (``steps`` steps, the same starting noise for every
    w) of each digit 0-9, one column per digit."""
    from genai_course.diffusion import DDIM, sample

    scale = widgets.FloatSlider(value=1.0, min=0.0, max=8.0, step=0.5, description="w",
                                continuous_update=False)
    picture = widgets.Image(format="png")
    caption = widgets.HTML()
    labels = torch.arange(10).repeat(per_digit)
    cache: dict[float, torch.Tensor] = {}

    def update(_: object = None) -> None:
        w = float(scale.value)
        if w not in cache:
            cache[w] = sample(model, DDIM(model.schedule, clip_x0=1.0), len(labels),
                              steps=steps, labels=labels, guidance_scale=w, seed=seed,
                              progress=False).cpu()
        picture.value = _png(cache[w], nrow=10, scale=0.45)
        caption.value = (f"<b>w = {w:g}</b>: eps = eps_uncond + w (eps_cond - eps_uncond); "
                         "w = 0 ignores the label, w = 1 is the plain conditional model; "
                         "one column per digit, 0 to 9.")

    scale.observe(update, names="value")
    update()
    return widgets.VBox([scale, caption, picture])
