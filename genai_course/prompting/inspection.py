"""Looking inside the model while it reads a prompt: the tokens it sees, its next-token
distribution (and how a prompt edit shifts it), and where the answer's position attends.

Attention weights are one window on a model's computation, not an explanation of it (Jain &
Wallace 2019, "Attention is not Explanation"); the chapter shows them as a picture of what
the answer position reads, beside measured effects of changing the prompt.

Used in: chapter 6.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import torch

from genai_course.llm.chat import ChatModel

Messages = Sequence[dict[str, str]]


def show_token(token: str) -> str:
    """A token as printable text (newline as ``⏎``, space as ``␣``)."""
    return token.replace("\n", "⏎").replace(" ", "␣")


@torch.no_grad()
def answer_attention(chat: ChatModel, messages: Messages, reply_prefix: str = ""
                     ) -> tuple[list[str], torch.Tensor]:
    """The prompt's tokens and a ``(layers, tokens)`` tensor: how much the last position
    (the one that predicts the next reply token) attends to each token, averaged over
    heads. ``reply_prefix`` is reply text already written (so one can look at the answer
    token after a scratchpad, say)."""
    ids = chat.prompt_ids(messages) + chat.tokenizer.encode(reply_prefix)
    blocks = list(chat.model.blocks)
    device = next(chat.model.parameters()).device
    for block in blocks:
        block.attn.keep_weights = True
    try:
        chat.model(torch.tensor([ids], device=device))
        maps = torch.stack([b.attn.last_weights[0, :, -1, :].mean(0) for b in blocks])
    finally:
        for block in blocks:
            block.attn.keep_weights = False
            block.attn.last_weights = None
    return chat.tokenizer.token_strings(ids), maps.cpu()


def plot_attention(tokens: Sequence[str], maps: torch.Tensor, title: str = "",
                   ax: plt.Axes | None = None) -> plt.Axes:
    """A heat map of :func:`answer_attention` (layers down, prompt tokens across)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(min(18, 0.14 * len(tokens) + 2), 2.2))
    ax.imshow(maps.numpy(), aspect="auto", cmap="Blues")
    ax.set_xticks(range(len(tokens)), [show_token(t) for t in tokens], fontsize=6,
                  rotation=90)
    ax.set_yticks(range(maps.shape[0]), [f"layer {i + 1}" for i in range(maps.shape[0])])
    ax.set_title(title)
    return ax


def plot_next_tokens(chat: ChatModel, prompts: dict[str, Messages], top: int = 8,
                     reply_prefix: str = "") -> plt.Figure:
    """One bar chart per prompt: the ``top`` next tokens of the reply and their
    probabilities."""
    fig, axes = plt.subplots(1, len(prompts), figsize=(3.4 * len(prompts), 2.6),
                             squeeze=False)
    for ax, (name, messages) in zip(axes[0], prompts.items(), strict=True):
        pairs = chat.next_token_probs(messages, prefix=reply_prefix, top=top)
        ax.barh([show_token(t) for t, _ in pairs][::-1], [p for _, p in pairs][::-1])
        ax.set(xlim=(0, 1), xlabel="probability", title=name)
        ax.title.set_fontsize(9)
    fig.tight_layout()
    return fig


def prompt_explorer(chat: ChatModel, prompt: str = "What is 23 + 45?", system: str = "",
                    top: int = 8):  # noqa: ANN201 (an ipywidgets box)
    """Edit a user message (and a system prompt) and watch the tokens the model sees and
    its next-token candidates change (an ipywidgets box)."""
    import html

    import ipywidgets as widgets

    user_box = widgets.Textarea(value=prompt, description="user", layout={"width": "40em"})
    system_box = widgets.Text(value=system, description="system", layout={"width": "40em"})
    prefix_box = widgets.Text(value="", description="reply so far", layout={"width": "40em"})
    out = widgets.HTML()

    def update(_: object = None) -> None:
        messages = ([{"role": "system", "content": system_box.value}] if system_box.value
                    else []) + [{"role": "user", "content": user_box.value}]
        ids = chat.prompt_ids(messages) + chat.tokenizer.encode(prefix_box.value)
        if len(ids) >= chat.context_length:
            out.value = f"<b>{len(ids)} tokens: longer than the context.</b>"
            return
        shown = "".join(f"<span style='border:1px solid #ccc;margin:1px;padding:0 2px'>"
                        f"{html.escape(show_token(t))}</span>"
                        for t in chat.tokenizer.token_strings(ids))
        rows = "".join(f"<tr><td><code>{html.escape(show_token(t))}</code></td>"
                       f"<td>{p:.3f}</td><td><div style='background:#4c72b0;height:10px;"
                       f"width:{200 * p:.0f}px'></div></td></tr>"
                       for t, p in chat.next_token_probs(messages, prefix_box.value, top))
        out.value = (f"<p><b>{len(ids)} tokens</b></p><p style='max-width:60em;"
                     f"line-height:1.8'>{shown}</p><b>next token</b><table>{rows}</table>")

    for box in (user_box, system_box, prefix_box):
        box.observe(update, names="value")
    update()
    return widgets.VBox([system_box, user_box, prefix_box, out])
