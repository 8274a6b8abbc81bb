"""Model cards (Mitchell et al. 2019) for the shipped checkpoints, rendered from the registry.

Everything in a card comes from the checkpoint's registry entry, its recipe module and its
verified payload: what it is (the recipe's docstring and the entry's description), how it
was trained (the payload's config and training settings), how good it is (the payload's
metrics), what training cost (6ND where the token count is known; energy from the recorded
training time over :data:`~genai_course.safety.energy.CPU_WATTS`), where it is used, and how
to reproduce it. A card written by hand, ``genai_course/pretrained/cards/<name>.md``, is
appended when it exists.

Used in: chapter 10.
"""

from __future__ import annotations

import re
from typing import Any

from genai_course.llm.transformer import training_flops
from genai_course.pretrained import HERE, get, load_payload
from genai_course.safety.energy import co2_kg, energy_from_seconds


def _first_paragraph(doc: str | None) -> str:
    return " ".join((doc or "").strip().split("\n\n")[0].split())


def _value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, dict):
        return ", ".join(f"{k}={_value(x)}" for k, x in v.items())
    return str(v)


def training_tokens(payload: dict[str, Any]) -> int | None:
    """Tokens a language model saw in training (steps x batch size x window), or None
    when the payload does not say (models that are not trained on token windows)."""
    training, config = payload.get("extra", {}).get("training"), payload.get("config", {})
    if not training or "block_size" not in config:
        return None
    return int(training["steps"] * training["batch_size"] * config["block_size"])


def model_card(name: str) -> str:
    """The model card of shipped checkpoint ``name``, in Markdown."""
    entry = get(name)
    payload = load_payload(name)
    recipe = entry.module()
    used_in = re.search(r"Used in:\s*(.+)", recipe.__doc__ or "")
    params = sum(p.numel() for p in recipe.load(payload).parameters())  # tied weights once
    tokens = training_tokens(payload)
    seconds = payload.get("metrics", {}).get("train_seconds")
    lines = [f"### Model card: `{name}`", "", _first_paragraph(recipe.__doc__), "",
             "| | |", "|---|---|",
             f"| description | {entry.description} |",
             f"| file | `{entry.filename}`, sha256 `{entry.sha256[:16]}...` |",
             f"| parameters | {params:,} |",
             f"| architecture and training | {_value(payload.get('config', {}))} |"]
    if payload.get("extra", {}).get("training"):
        lines.append(f"| optimisation | {_value(payload['extra']['training'])} |")
    for key, value in payload.get("metrics", {}).items():
        lines.append(f"| metric: {key} | {_value(value)} |")
    lines.append("| training compute | " + (f"6ND = {training_flops(params, tokens):.3g} FLOPs "
                                            f"({tokens:,} tokens)" if tokens else
                                            "not estimated: no token count for this model")
                 + " |")
    if seconds is None:
        lines.append("| training energy | not measured: the training time was not recorded |")
    else:
        kwh = energy_from_seconds(float(seconds))
        lines.append(f"| training energy | {seconds:.0f} s on a CPU: {kwh.central * 1000:.2g} Wh "
                     f"({kwh.low * 1000:.2g} to {kwh.high * 1000:.2g}), "
                     f"{co2_kg(kwh).central * 1000:.2g} g CO2e |")
    chapters = used_in.group(1).strip().rstrip(".") if used_in else "the course"
    lines += [f"| intended use | teaching: {chapters} of this course |",
              "| out of scope | anything real: trained on small generated or toy data, "
              "never evaluated outside it |",
              f"| reproduce | `{entry.command}` |"]
    card = HERE / "cards" / f"{name}.md"
    if card.is_file():
        lines += ["", card.read_text().strip()]
    return "\n".join(lines)
