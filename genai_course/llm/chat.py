"""Chatting with a GPT: the tokenizer, the chat template, and the generation API.

* :class:`ChatTokenizer`: one id per character (printable ASCII and newline) plus five
  special tokens, ``<|system|>``, ``<|user|>``, ``<|assistant|>``, ``<|end|>``, ``<|unk|>``.
  Characters keep digits and letters visible to the model one by one (column arithmetic,
  ciphers). Text inside a message is always encoded as plain characters, so a message that
  *spells* ``<|assistant|>`` cannot forge a turn (Hugging Face's ``split_special_tokens``).
* The chat template: each message is ``<|role|>content<|end|>``; with
  ``add_generation_prompt`` the prompt ends with ``<|assistant|>`` and the model writes the
  reply and closes it with ``<|end|>``. :data:`CHAT_TEMPLATE` is the same template in Jinja,
  the language of Hugging Face's ``tokenizer.chat_template``, and
  :func:`apply_chat_template` mirrors ``tokenizer.apply_chat_template(messages,
  tokenize=..., add_generation_prompt=...)``; :func:`parse_chat` reads a rendering back.
* :class:`ChatModel`: ``chat(messages, temperature, top_p, max_tokens, stop, seed, n)`` and
  ``stream(...)`` with the OpenAI chat-completions semantics, plus what the chapters need
  inside the model: ``logprob`` of a reply, the ``next_token_probs``, a batched greedy
  ``answer_many`` for evaluation, and a ``logits_processor`` hook (constrained decoding in
  chapter 6, watermarking in chapter 10). The server and the client both call it.

Used in: chapters 6, 7, 8, 9, 10.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from genai_course.core.checks import check_int, check_number
from genai_course.llm.attention import KVCache
from genai_course.llm.decoding import sample_next
from genai_course.llm.transformer import GPT

ROLES = ("system", "user", "assistant")
SPECIAL_TOKENS = ("<|system|>", "<|user|>", "<|assistant|>", "<|end|>", "<|unk|>")
END, UNK = "<|end|>", "<|unk|>"
#: The characters the tokenizer knows: printable ASCII without tab and the rare controls.
ALPHABET = "\n" + "".join(c for c in string.printable if c.isprintable())

#: The template in Jinja (what ``tokenizer.chat_template`` holds in Hugging Face).
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>' + message['content'] + '<|end|>' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}"
)

_SPECIAL_RE = re.compile("(" + "|".join(re.escape(t) for t in SPECIAL_TOKENS) + ")")


class ChatError(ValueError):
    """A malformed conversation or generation request (the message says what is wrong)."""


class ChatTokenizer:
    """Special tokens get ids ``0..4``, then one id per character of :data:`ALPHABET`.
    Characters outside the alphabet encode as ``<|unk|>``."""

    def __init__(self) -> None:
        self.tokens: list[str] = [*SPECIAL_TOKENS, *ALPHABET]
        self.index = {t: i for i, t in enumerate(self.tokens)}
        self.special_ids = {t: self.index[t] for t in SPECIAL_TOKENS}
        self.end_id, self.unk_id = self.index[END], self.index[UNK]
        self.role_ids = {role: self.index[f"<|{role}|>"] for role in ROLES}
        #: Tokens that end an assistant's turn: ``<|end|>``, or the start of another turn.
        self.stop_ids = frozenset([self.end_id, *self.role_ids.values()])

    @property
    def vocab_size(self) -> int:
        return len(self.tokens)

    def encode(self, text: str, allow_special: bool = False) -> list[int]:
        """Ids of ``text``, one per character; with ``allow_special`` the spellings of the
        special tokens become their ids (for rendered templates, never for user content)."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        parts = _SPECIAL_RE.split(text) if allow_special else [text]
        ids: list[int] = []
        for part in parts:
            if allow_special and part in self.special_ids:
                ids.append(self.special_ids[part])
            else:
                ids.extend(self.index.get(c, self.unk_id) for c in part)
        return ids

    def decode(self, ids: Sequence[int] | torch.Tensor, skip_special: bool = False) -> str:
        """The text of ``ids`` (special tokens spelled out unless ``skip_special``)."""
        values = ids.tolist() if isinstance(ids, torch.Tensor) else ids
        return "".join(self.tokens[int(i)] for i in values
                       if not (skip_special and int(i) < len(SPECIAL_TOKENS)))

    def token_strings(self, ids: Sequence[int]) -> list[str]:
        """Each token as text (for display)."""
        return [self.tokens[int(i)] for i in ids]


def check_messages(messages: object) -> list[dict[str, str]]:
    """The messages as ``[{"role", "content"}]``; ``ChatError`` names the first problem
    (not a list, a role outside ``system``/``user``/``assistant``, content not a string)."""
    if not isinstance(messages, (list, tuple)) or not messages:
        raise ChatError("messages must be a non-empty list of {'role', 'content'} objects")
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            raise ChatError(f"messages[{i}] must be an object with 'role' and 'content'")
        role, content = m.get("role"), m.get("content")
        if role not in ROLES:
            raise ChatError(f"messages[{i}].role must be one of {', '.join(ROLES)}; "
                            f"got {role!r}")
        if not isinstance(content, str):
            raise ChatError(f"messages[{i}].content must be a string, got "
                            f"{type(content).__name__}")
        out.append({"role": role, "content": content})
    return out


def render(messages: Sequence[dict[str, str]], add_generation_prompt: bool = False) -> str:
    """The template's text (what :data:`CHAT_TEMPLATE` renders)."""
    text = "".join(f"<|{m['role']}|>{m['content']}{END}" for m in check_messages(messages))
    return text + ("<|assistant|>" if add_generation_prompt else "")


def encode_chat(tokenizer: ChatTokenizer, messages: Sequence[dict[str, str]],
                add_generation_prompt: bool = False) -> tuple[list[int], list[bool]]:
    """Token ids of the rendered conversation and a mask that is True on the tokens an
    assistant wrote (its content and its ``<|end|>``): the tokens instruction tuning
    trains on (Ouyang et al. 2022; "loss on the answer tokens only")."""
    ids: list[int] = []
    mask: list[bool] = []
    for m in check_messages(messages):
        body = [*tokenizer.encode(m["content"]), tokenizer.end_id]
        ids += [tokenizer.role_ids[m["role"]], *body]
        mask += [False] + [m["role"] == "assistant"] * len(body)
    if add_generation_prompt:
        ids.append(tokenizer.role_ids["assistant"])
        mask.append(False)
    return ids, mask


def apply_chat_template(tokenizer: ChatTokenizer, messages: Sequence[dict[str, str]],
                        tokenize: bool = True, add_generation_prompt: bool = False
                        ) -> list[int] | str:
    """Like Hugging Face's ``tokenizer.apply_chat_template``: the token ids (or, with
    ``tokenize=False``, the text) of the conversation, ending with the assistant's opening
    token when ``add_generation_prompt``."""
    if not tokenize:
        return render(messages, add_generation_prompt)
    return encode_chat(tokenizer, messages, add_generation_prompt)[0]


def parse_chat(rendered: str | Sequence[int], tokenizer: ChatTokenizer | None = None
               ) -> list[dict[str, str]]:
    """The messages of a rendered conversation (text, or ids with their ``tokenizer``).
    An open last turn (no ``<|end|>`` yet) is returned as it stands, so a generation prompt
    parses to a trailing empty assistant message."""
    if isinstance(rendered, str):
        pieces = _SPECIAL_RE.split(rendered)
    else:
        if tokenizer is None:
            raise TypeError("parsing token ids needs their tokenizer")
        pieces = []
        for i in rendered:
            token = tokenizer.tokens[int(i)]
            if token in tokenizer.special_ids and token != UNK:
                pieces += [token, ""]
            elif pieces:
                pieces[-1] += token
            else:
                pieces.append(token)
    messages: list[dict[str, str]] = []
    role: str | None = None
    for piece in pieces:
        if piece in (f"<|{r}|>" for r in ROLES):
            if role is not None:
                raise ChatError(f"a {piece} turn starts before the {role} turn ended")
            role = piece[2:-2]
            messages.append({"role": role, "content": ""})
        elif piece == END:
            if role is None:
                raise ChatError("<|end|> outside a turn")
            role = None
        elif piece:
            if role is None:
                raise ChatError(f"text outside a turn: {piece[:30]!r}")
            messages[-1]["content"] += piece
    return messages


# --------------------------------------------------------------------------- generation

LogitsProcessor = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class Choice:
    """One generated reply: its text, why it ended (``"stop"``: the model closed its turn
    or a stop string was reached; ``"length"``: ``max_tokens``), and its token count (the
    tokens sampled, the closing token included)."""

    index: int
    text: str
    finish_reason: str
    completion_tokens: int


@dataclass
class ChatResult:
    """A chat completion: the choices and the token counts (OpenAI's ``usage``)."""

    choices: list[Choice]
    prompt_tokens: int
    model: str = "tinychat"

    @property
    def completion_tokens(self) -> int:
        return sum(c.completion_tokens for c in self.choices)

    @property
    def text(self) -> str:
        """The first choice's text."""
        return self.choices[0].text

    def usage(self) -> dict[str, int]:
        return {"prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "total_tokens": self.prompt_tokens + self.completion_tokens}


@dataclass
class Delta:
    """A streamed piece of choice ``index``: new ``text``, and ``finish_reason`` on the
    choice's last event."""

    index: int
    text: str
    finish_reason: str | None = None
    completion_tokens: int = 0


@dataclass
class _Row:
    ids: list[int] = field(default_factory=list)
    sent: int = 0  # characters of the text already streamed
    done: str | None = None


def _stop_cut(text: str, stops: Sequence[str]) -> int | None:
    cuts = [text.find(s) for s in stops if s in text]
    return min(cuts) if cuts else None


def _held_back(text: str, stops: Sequence[str]) -> int:
    """Characters at the end of ``text`` that could start a stop string (not sent yet)."""
    hold = 0
    for s in stops:
        for k in range(min(len(s) - 1, len(text)), 0, -1):
            if text.endswith(s[:k]):
                hold = max(hold, k)
                break
    return hold


class ChatModel:
    """A :class:`~genai_course.llm.transformer.GPT` trained on :func:`encode_chat`
    conversations, with the generation API. Each call draws from its own
    ``torch.Generator`` (seeded by ``seed``), so concurrent calls never share random state;
    the model is used in eval mode under ``torch.no_grad`` only, so calls from several
    threads do not interfere."""

    def __init__(self, model: GPT, tokenizer: ChatTokenizer | None = None,
                 name: str = "tinychat") -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer or ChatTokenizer()
        if self.tokenizer.vocab_size != model.config.vocab_size:
            raise ValueError(f"the tokenizer has {self.tokenizer.vocab_size} tokens, the "
                             f"model {model.config.vocab_size}")
        self.name = name

    @property
    def context_length(self) -> int:
        return self.model.config.block_size

    def prompt_ids(self, messages: Sequence[dict[str, str]]) -> list[int]:
        """The token ids the model sees: the conversation and ``<|assistant|>``."""
        return encode_chat(self.tokenizer, messages, add_generation_prompt=True)[0]

    def _check(self, prompt: list[int], max_tokens: int | None, temperature: float,
               top_p: float, n: int, stop: str | Sequence[str] | None
               ) -> tuple[int, list[str]]:
        check_number(temperature, "temperature")
        if temperature > 2:
            raise ChatError(f"temperature must be in [0, 2], got {temperature}")
        if not 0 < check_number(top_p, "top_p") <= 1:
            raise ChatError(f"top_p must be in (0, 1], got {top_p}")
        check_int(n, "n", 1)
        room = self.context_length - len(prompt)
        if room < 1:
            raise ChatError(f"the prompt has {len(prompt)} tokens; this model's context is "
                            f"{self.context_length} tokens")
        if max_tokens is None:
            max_tokens = room
        elif check_int(max_tokens, "max_tokens", 1) > room:
            raise ChatError(f"the prompt ({len(prompt)} tokens) plus max_tokens "
                            f"({max_tokens}) exceeds this model's context of "
                            f"{self.context_length} tokens")
        stops = [stop] if isinstance(stop, str) else list(stop or [])
        if len(stops) > 4 or not all(isinstance(s, str) and s for s in stops):
            raise ChatError("stop must be a non-empty string or a list of up to 4 of them")
        return max_tokens, stops

    @torch.no_grad()
    def _steps(self, prompt: list[int], n: int, max_tokens: int, temperature: float,
               top_p: float, seed: int | None, logits_processor: LogitsProcessor | None
               ) -> Iterator[list[int]]:
        """Sample ``n`` continuations of ``prompt`` in one batch with a key/value cache;
        yield each step's ``n`` new token ids. The caller stops when it has enough."""
        device = next(self.model.parameters()).device
        generator = torch.Generator(device=device)
        if seed is None:
            generator.seed()
        else:
            generator.manual_seed(seed)
        cache = KVCache(self.model.config.n_layer)
        idx = torch.tensor([prompt], device=device).expand(n, -1)
        history = idx
        for _ in range(max_tokens):
            logits = self.model(idx, cache)[:, -1, :].float()
            if logits_processor is not None:
                logits = logits_processor(history, logits)
            nxt = sample_next(logits, temperature, None, top_p if top_p < 1 else None,
                              generator)
            history = torch.cat([history, nxt], dim=1)
            idx = nxt
            yield nxt[:, 0].tolist()

    def stream(self, messages: Sequence[dict[str, str]], temperature: float = 1.0,
               top_p: float = 1.0, max_tokens: int | None = None,
               stop: str | Sequence[str] | None = None, seed: int | None = None, n: int = 1,
               logits_processor: LogitsProcessor | None = None) -> Iterator[Delta]:
        """Generate ``n`` replies, yielding :class:`Delta` pieces as text becomes final
        (text that might begin a stop string is held back until it cannot). Each choice
        ends with a delta carrying its ``finish_reason``. ``temperature=0`` is greedy;
        ``top_p`` is nucleus sampling; ``max_tokens`` defaults to the rest of the context;
        a reply ends at ``<|end|>`` (or a token opening another turn) or before the first
        ``stop`` string; ``<|unk|>`` tokens are dropped from the text."""
        prompt = self.prompt_ids(messages)
        max_tokens, stops = self._check(prompt, max_tokens, temperature, top_p, n, stop)
        return self._stream(prompt, n, max_tokens, temperature, top_p, stops, seed,
                            logits_processor)

    def _stream(self, prompt: list[int], n: int, max_tokens: int, temperature: float,
                top_p: float, stops: list[str], seed: int | None,
                logits_processor: LogitsProcessor | None) -> Iterator[Delta]:
        rows = [_Row() for _ in range(n)]
        ends = self.tokenizer.stop_ids
        steps = self._steps(prompt, n, max_tokens, temperature, top_p, seed, logits_processor)
        for step, tokens in enumerate(steps, start=1):
            for i, (row, token) in enumerate(zip(rows, tokens, strict=True)):
                if row.done:
                    continue
                closed = token in ends
                if not closed:
                    row.ids.append(token)
                text = self.tokenizer.decode(row.ids, skip_special=True)
                cut = _stop_cut(text, stops)
                if closed or cut is not None:
                    row.done = "stop"
                elif step == max_tokens:
                    row.done = "length"
                final = text[:cut] if cut is not None else text
                upto = len(final) if row.done else len(final) - _held_back(final, stops)
                if upto > row.sent or row.done:
                    yield Delta(i, final[row.sent:upto], row.done,
                                len(row.ids) + closed if row.done else 0)
                    row.sent = upto
            if all(r.done for r in rows):
                steps.close()
                return

    def chat(self, messages: Sequence[dict[str, str]], temperature: float = 1.0,
             top_p: float = 1.0, max_tokens: int | None = None,
             stop: str | Sequence[str] | None = None, seed: int | None = None, n: int = 1,
             logits_processor: LogitsProcessor | None = None) -> ChatResult:
        """``n`` complete replies (see :meth:`stream` for the arguments)."""
        prompt = self.prompt_ids(messages)
        texts = [""] * n
        choices: list[Choice | None] = [None] * n
        for d in self.stream(messages, temperature, top_p, max_tokens, stop, seed, n,
                             logits_processor):
            texts[d.index] += d.text
            if d.finish_reason:
                choices[d.index] = Choice(d.index, texts[d.index], d.finish_reason,
                                          d.completion_tokens)
        return ChatResult([c for c in choices if c is not None], len(prompt), self.name)

    @torch.no_grad()
    def answer_many(self, conversations: Sequence[Sequence[dict[str, str]]],
                    max_tokens: int = 200, batch_size: int = 64) -> list[str]:
        """Greedy replies to many conversations, batched: prompts of equal length share a
        batch (no padding needed), each row stops at ``<|end|>``. Same replies as
        ``chat(..., temperature=0)``, many times faster for evaluation."""
        prompts = [self.prompt_ids(c) for c in conversations]
        out = [""] * len(prompts)
        by_length: dict[int, list[int]] = {}
        for i, p in enumerate(prompts):
            by_length.setdefault(len(p), []).append(i)
        device = next(self.model.parameters()).device
        ends = torch.tensor(sorted(self.tokenizer.stop_ids), device=device)
        for length, members in by_length.items():
            steps = min(max_tokens, self.context_length - length)
            if steps < 1:
                raise ChatError(f"a prompt of {length} tokens leaves no room to answer")
            for s in range(0, len(members), batch_size):
                chunk = members[s:s + batch_size]
                idx = torch.tensor([prompts[i] for i in chunk], device=device)
                cache = KVCache(self.model.config.n_layer)
                done = torch.zeros(len(chunk), dtype=torch.bool, device=device)
                generated = []
                for _ in range(steps):
                    nxt = self.model(idx, cache)[:, -1, :].argmax(-1, keepdim=True)
                    generated.append(nxt)
                    done |= torch.isin(nxt[:, 0], ends)
                    if done.all():
                        break
                    idx = nxt
                rows = torch.cat(generated, dim=1).tolist()
                for i, row in zip(chunk, rows, strict=True):
                    closing = [k for k, t in enumerate(row) if t in self.tokenizer.stop_ids]
                    row = row[:closing[0]] if closing else row
                    out[i] = self.tokenizer.decode(row, skip_special=True)
        return out

    @torch.no_grad()
    def logprob(self, messages: Sequence[dict[str, str]], reply: str,
                close: bool = True) -> float:
        """``log p(reply | messages)`` in nats (summed over the reply's tokens, and the
        closing ``<|end|>`` when ``close``): the score of multiple-choice harnesses."""
        prompt = self.prompt_ids(messages)
        target = self.tokenizer.encode(reply) + ([self.tokenizer.end_id] if close else [])
        ids = prompt + target
        if len(ids) > self.context_length:
            raise ChatError(f"{len(ids)} tokens exceed the context of {self.context_length}")
        device = next(self.model.parameters()).device
        x = torch.tensor([ids[:-1]], device=device)
        logp = F.log_softmax(self.model(x)[0].float(), dim=-1)
        positions = torch.arange(len(prompt) - 1, len(ids) - 1, device=device)
        return logp[positions, torch.tensor(target, device=device)].sum().item()

    @torch.no_grad()
    def next_token_probs(self, messages: Sequence[dict[str, str]], prefix: str = "",
                         top: int = 10) -> list[tuple[str, float]]:
        """The ``top`` most probable next tokens after the prompt and an optional start of
        the reply ``prefix``, with their probabilities."""
        ids = self.prompt_ids(messages) + self.tokenizer.encode(prefix)
        device = next(self.model.parameters()).device
        probs = self.model(torch.tensor([ids[-self.context_length:]], device=device))[0, -1]
        probs = probs.float().softmax(-1)
        values, indices = probs.topk(min(top, len(probs)))
        return [(self.tokenizer.tokens[i], v) for i, v in zip(indices.tolist(),
                                                               values.tolist(), strict=True)]
