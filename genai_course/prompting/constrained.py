"""Structured output: validating replies against a JSON Schema, validate-and-retry, and
constrained decoding that makes every reply valid by construction.

Constrained decoding masks, at every step, the tokens that cannot continue a valid output
(Willard & Louf 2023, "Efficient Guided Generation for LLMs"; llama.cpp's grammars; OpenAI's
structured outputs). For a schema whose properties are all required and each an ``enum`` (or
``const``), the valid texts in ``json.dumps``'s layout form a *sequence of segments*, each a
finite set of alternatives::

    {"agent": | "cat" / "dog" / ... | , "colour": | "red" / null / ... | ... | }

A reply is a valid prefix when it is a run of complete segments followed by a prefix of one
alternative of the next. The mask for the next token is then one question per token:
does ``prefix + token`` still start an alternative of the current segment
(:func:`allowed_tokens`)? When the last segment is complete only ``<|end|>`` is allowed, so
the reply stops there. Alternatives within a segment must be prefix-free (JSON strings and
``null`` are; numbers are not), so the segment reached is never ambiguous.

Validation uses the ``jsonschema`` library (draft 2020-12), as a practitioner would.

Used in: chapter 6.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import jsonschema
import torch

from genai_course.core.checks import check_int
from genai_course.llm.chat import ChatModel, ChatResult

MaskFn = Callable[[str, Sequence[str], Sequence[str]], list[bool]]


def schema_segments(schema: dict[str, Any]) -> list[tuple[str, ...]]:
    """The segments of the texts that match ``schema`` in ``json.dumps`` layout (``", "``
    between members, ``": "`` after keys, properties in the schema's order). Supports an
    object whose properties are all required, ``additionalProperties: false``, each with an
    ``enum`` or ``const`` of strings, booleans or ``null``."""
    if schema.get("type") != "object" or "properties" not in schema:
        raise ValueError("constrained decoding here supports a JSON Schema of type 'object' "
                         "with 'properties'")
    props = schema["properties"]
    if set(schema.get("required", ())) != set(props) or schema.get(
            "additionalProperties", True) is not False:
        raise ValueError("every property must be required and additionalProperties false "
                         "(so the layout of a valid reply is fixed)")
    segments: list[tuple[str, ...]] = []
    literal = "{"
    for i, (name, spec) in enumerate(props.items()):
        values = spec.get("enum", [spec["const"]] if "const" in spec else None)
        if not values:
            raise ValueError(f"property {name!r} needs an 'enum' or 'const' (no free text or "
                             f"numbers in this grammar)")
        texts = tuple(json.dumps(v) for v in values)
        for v in values:
            if not (v is None or isinstance(v, (str, bool))):
                raise ValueError(f"property {name!r}: only strings, booleans and null, got "
                                 f"{v!r}")
        literal += ("" if i == 0 else ", ") + json.dumps(name) + ": "
        segments += [(literal,), texts]
        literal = ""
    segments.append(("}",))
    return segments


def allowed_tokens(prefix: str, alternatives: Sequence[str], vocab: Sequence[str]
                   ) -> list[bool]:
    """For each token of ``vocab``: whether ``prefix + token`` is the start of (or equal
    to) one of ``alternatives``. The empty token is never allowed. ``ValueError`` when
    ``prefix`` itself starts no alternative (the reply already left the grammar)."""
    if not any(a.startswith(prefix) for a in alternatives):
        raise ValueError(f"no alternative starts with {prefix!r}")
    return [bool(t) and any(a.startswith(prefix + t) for a in alternatives) for t in vocab]


def segment_state(segments: Sequence[tuple[str, ...]], text: str) -> tuple[int, str]:
    """``(i, rest)``: ``text`` completes segments ``0..i-1`` and ``rest`` starts an
    alternative of segment ``i`` (``i == len(segments)``, ``rest == ""`` when complete)."""
    i = 0
    while i < len(segments):
        done = next((a for a in segments[i] if text.startswith(a)), None)
        if done is None:
            break
        text, i = text[len(done):], i + 1
    if i == len(segments) and text:
        raise ValueError(f"text continues after a complete value: {text!r}")
    return i, text


class SchemaConstraint:
    """A logits processor for :meth:`ChatModel.chat`: tokens that cannot continue a valid
    reply get ``-inf``. ``prompt_length`` is where the reply starts in the history;
    ``mask_fn`` decides one segment's tokens (default :func:`allowed_tokens`)."""

    def __init__(self, schema: dict[str, Any], chat: ChatModel, prompt_length: int,
                 mask_fn: MaskFn = allowed_tokens) -> None:
        self.segments = schema_segments(schema)
        self.tokenizer, self.prompt_length, self.mask_fn = chat.tokenizer, prompt_length, mask_fn
        self.vocab = self.tokenizer.tokens
        self.max_length = sum(max(len(a) for a in seg) for seg in self.segments)

    def mask(self, text: str) -> torch.Tensor:
        """The allowed next tokens (a bool tensor over the vocabulary) after ``text``."""
        i, rest = segment_state(self.segments, text)
        if i == len(self.segments):
            allowed = torch.zeros(len(self.vocab), dtype=torch.bool)
            allowed[self.tokenizer.end_id] = True
            return allowed
        allowed = torch.tensor(self.mask_fn(rest, self.segments[i], self.vocab),
                               dtype=torch.bool)
        if allowed.shape != (len(self.vocab),) or not allowed.any():
            raise ValueError(f"the mask must allow at least one of {len(self.vocab)} tokens")
        return allowed

    def __call__(self, history: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        out = logits.clone()
        for r in range(history.shape[0]):
            text = self.tokenizer.decode(history[r, self.prompt_length:].tolist(),
                                         skip_special=True)
            out[r, ~self.mask(text).to(logits.device)] = float("-inf")
        return out


def constrained_chat(chat: ChatModel, messages: Sequence[dict[str, str]],
                     schema: dict[str, Any], mask_fn: MaskFn = allowed_tokens,
                     **options: Any) -> ChatResult:
    """``chat.chat`` with a :class:`SchemaConstraint`: every finished reply matches
    ``schema`` (``temperature`` and the other options as usual; greedy by default)."""
    constraint = SchemaConstraint(schema, chat, len(chat.prompt_ids(messages)), mask_fn)
    options.setdefault("temperature", 0.0)
    options.setdefault("max_tokens", constraint.max_length + 1)
    return chat.chat(messages, logits_processor=constraint, **options)


def schema_errors(reply: str, schema: dict[str, Any]) -> list[str]:
    """Why ``reply`` is not a JSON document valid under ``schema`` (empty: it is). The
    whole reply must be the JSON value (surrounding spaces allowed)."""
    try:
        value = json.loads(reply)
    except json.JSONDecodeError as exc:
        return [f"not JSON: {exc.msg} at character {exc.pos}"]
    validator = jsonschema.Draft202012Validator(schema)
    return [e.message for e in validator.iter_errors(value)]


def validate_and_retry(chat: ChatModel, messages: Sequence[dict[str, str]],
                       schema: dict[str, Any], retries: int = 3, temperature: float = 0.8,
                       seed: int = 0, max_tokens: int = 200, first_temperature: float = 0.0
                       ) -> tuple[str, int, int]:
    """Ask (greedily unless ``first_temperature``); while the reply fails
    :func:`schema_errors`, ask again by sampling at ``temperature``, up to ``retries`` more
    times. Returns ``(last reply, attempts, completion tokens spent)``: the loop of
    "instructor"-style libraries."""
    check_int(retries, "retries")
    tokens = 0
    for attempt in range(retries + 1):
        result = chat.chat(messages, temperature=first_temperature if attempt == 0
                           else temperature, seed=seed + attempt, max_tokens=max_tokens)
        tokens += result.completion_tokens
        if not schema_errors(result.text, schema):
            break
    return result.text, attempt + 1, tokens
