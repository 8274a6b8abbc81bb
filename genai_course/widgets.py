"""Interactive demos (ipywidgets) used by the chapter notebooks."""

from __future__ import annotations

import html
from collections.abc import Sequence

import ipywidgets as widgets
import numpy as np

from .ngram import NGramLanguageModel, apply_temperature


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
