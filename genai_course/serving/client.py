"""One chat client for the notebooks, whatever answers: the in-process TinyChat, any
OpenAI-compatible endpoint, or a local Hugging Face ``transformers`` model.

The same calls work on every backend::

    client = ChatClient.local()                    # the shipped TinyChat, in this process
    client = ChatClient.openai("http://127.0.0.1:8000/v1")   # genai-course serve, vLLM,
                                                   # llama.cpp's server, Ollama, a hosted API
    client = ChatClient.transformers("path/to/local/model")  # needs `transformers`
    client = ChatClient.from_env()                 # OPENAI_BASE_URL set? that endpoint

    client.ask("What is 23 + 45?")                 # -> "68" (greedy)
    result = client.chat(messages, temperature=0.7, n=5, seed=0, max_tokens=50)
    for piece in client.stream(messages): print(piece, end="")

``chat`` returns a :class:`~genai_course.llm.chat.ChatResult` (``.choices[i].text``,
``.finish_reason``, ``.usage()``) on every backend. The HTTP backend speaks the OpenAI
chat-completions wire format with ``httpx``; base URL, key and model come from the arguments
or from ``OPENAI_BASE_URL``, ``OPENAI_API_KEY`` and ``OPENAI_MODEL``. Nothing here needs a
network unless you point it at one.

Used in: chapters 6, 8, 9.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from genai_course.llm.chat import ChatModel, ChatResult, Choice, check_messages

Messages = Sequence[dict[str, str]]


class ChatClientError(RuntimeError):
    """A backend refused a request; ``status`` is the HTTP status where there is one."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message if status is None else f"{status}: {message}")
        self.status = status


class Backend(Protocol):
    name: str

    def chat(self, messages: Messages, **options: Any) -> ChatResult: ...

    def stream(self, messages: Messages, **options: Any) -> Iterator[str]: ...


class LocalBackend:
    """A :class:`~genai_course.llm.chat.ChatModel` in this process."""

    def __init__(self, model: ChatModel) -> None:
        self.model, self.name = model, model.name

    def chat(self, messages: Messages, **options: Any) -> ChatResult:
        return self.model.chat(messages, **options)

    def stream(self, messages: Messages, **options: Any) -> Iterator[str]:
        for delta in self.model.stream(messages, **options):
            if delta.index == 0 and delta.text:
                yield delta.text


class OpenAIBackend:
    """An OpenAI-compatible ``/v1/chat/completions`` endpoint, over HTTP with ``httpx``."""

    def __init__(self, base_url: str, api_key: str | None, model: str,
                 timeout: float = 120.0) -> None:
        import httpx

        self.base_url, self.name = base_url.rstrip("/"), model
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout)

    def _body(self, messages: Messages, options: dict[str, Any], stream: bool
              ) -> dict[str, Any]:
        # roles are the endpoint's business (others know "developer", "tool", ...)
        body = {"model": self.name, "messages": [dict(m) for m in messages],
                **{k: v for k, v in options.items() if v is not None}}
        if stream:
            body["stream"] = True
        return body

    @staticmethod
    def _raise(status: int, text: str) -> None:
        try:
            message = json.loads(text)["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = text[:500]
        raise ChatClientError(message, status)

    def models(self) -> list[str]:
        response = self.http.get("/models")
        if response.status_code >= 400:
            self._raise(response.status_code, response.text)
        return [m["id"] for m in response.json()["data"]]

    def chat(self, messages: Messages, **options: Any) -> ChatResult:
        response = self.http.post("/chat/completions", json=self._body(messages, options,
                                                                        False))
        if response.status_code >= 400:
            self._raise(response.status_code, response.text)
        data = response.json()
        choices = [Choice(c["index"], c["message"].get("content") or "",
                          c.get("finish_reason") or "stop", 0) for c in data["choices"]]
        usage = data.get("usage") or {}
        if choices and usage.get("completion_tokens") is not None:
            # the API gives one total; keep it on the first choice so the sum is right
            choices[0].completion_tokens = usage["completion_tokens"]
        return ChatResult(choices, usage.get("prompt_tokens", 0), data.get("model", self.name))

    def stream(self, messages: Messages, **options: Any) -> Iterator[str]:
        body = self._body(messages, options, True)
        with self.http.stream("POST", "/chat/completions", json=body) as response:
            if response.status_code >= 400:
                self._raise(response.status_code, response.read().decode())
            for line in response.iter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[len("data:"):].strip()
                if data == "[DONE]":
                    return
                for choice in json.loads(data).get("choices", []):
                    text = choice.get("delta", {}).get("content")
                    if choice.get("index", 0) == 0 and text:
                        yield text


class TransformersBackend:
    """A local Hugging Face causal language model with a chat template (its folder must
    hold the weights and the tokenizer; nothing is downloaded: ``local_files_only``)."""

    def __init__(self, path: str | Path, device: str = "cpu") -> None:
        try:
            import transformers
        except ImportError:
            raise ChatClientError("the transformers backend needs `pip install "
                                  "transformers`") from None
        path = Path(path)
        if not path.is_dir():
            raise ChatClientError(f"{path} is not a local model folder")
        self.tokenizer = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
        self.model = transformers.AutoModelForCausalLM.from_pretrained(
            path, local_files_only=True).to(device).eval()
        self.name, self.device = path.name, device
        self._lock = threading.Lock()  # generate() seeds torch's global generator

    def chat(self, messages: Messages, temperature: float = 1.0, top_p: float = 1.0,
             max_tokens: int | None = None, stop: str | Sequence[str] | None = None,
             seed: int | None = None, n: int = 1) -> ChatResult:
        import torch

        ids = self.tokenizer.apply_chat_template(
            check_messages(list(messages)), add_generation_prompt=True, return_tensors="pt",
            return_dict=True)["input_ids"].to(self.device)
        sample = temperature > 0
        options: dict[str, Any] = dict(max_new_tokens=max_tokens or 256, do_sample=sample,
                                       num_return_sequences=n,
                                       pad_token_id=self.tokenizer.eos_token_id)
        if sample:
            options.update(temperature=temperature, top_p=top_p)
        with self._lock, torch.no_grad():
            if seed is not None:
                torch.manual_seed(seed)
            out = self.model.generate(ids, attention_mask=torch.ones_like(ids), **options)
        stops = [stop] if isinstance(stop, str) else list(stop or [])
        choices = []
        for i, row in enumerate(out[:, ids.shape[1]:]):
            tokens = row.tolist()
            eos = self.tokenizer.eos_token_id
            finished = eos in tokens
            tokens = tokens[:tokens.index(eos)] if finished else tokens
            text = self.tokenizer.decode(tokens, skip_special_tokens=True)
            cuts = [text.find(s) for s in stops if s in text]
            if cuts:
                text, finished = text[:min(cuts)], True
            choices.append(Choice(i, text, "stop" if finished else "length",
                                  len(tokens) + finished))
        return ChatResult(choices, ids.shape[1], self.name)

    def stream(self, messages: Messages, **options: Any) -> Iterator[str]:
        yield self.chat(messages, **{**options, "n": 1}).text


class ChatClient:
    """The notebooks' chat client; build it with :meth:`local`, :meth:`openai`,
    :meth:`transformers` or :meth:`from_env`."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    @classmethod
    def local(cls, model: ChatModel | None = None) -> ChatClient:
        """The in-process chat model (default: the shipped TinyChat)."""
        if model is None:
            from genai_course.pretrained.tinychat import load_chat

            model = load_chat()
        return cls(LocalBackend(model))

    @classmethod
    def openai(cls, base_url: str | None = None, api_key: str | None = None,
               model: str | None = None, timeout: float = 120.0) -> ChatClient:
        """An OpenAI-compatible endpoint; missing arguments come from ``OPENAI_BASE_URL``,
        ``OPENAI_API_KEY`` and ``OPENAI_MODEL`` (model default ``tinychat``)."""
        base_url = base_url or os.environ.get("OPENAI_BASE_URL")
        if not base_url:
            raise ChatClientError("give base_url or set OPENAI_BASE_URL (for `genai-course "
                                  "serve`: http://127.0.0.1:8000/v1)")
        return cls(OpenAIBackend(base_url, api_key or os.environ.get("OPENAI_API_KEY"),
                                 model or os.environ.get("OPENAI_MODEL", "tinychat"), timeout))

    @classmethod
    def transformers(cls, path: str | Path, device: str = "cpu") -> ChatClient:
        """A local ``transformers`` model folder (optional dependency)."""
        return cls(TransformersBackend(path, device))

    @classmethod
    def from_env(cls) -> ChatClient:
        """The endpoint of ``OPENAI_BASE_URL`` when it is set, else the local TinyChat."""
        return cls.openai() if os.environ.get("OPENAI_BASE_URL") else cls.local()

    @property
    def model(self) -> str:
        return self.backend.name

    def chat(self, messages: Messages, temperature: float = 1.0, top_p: float = 1.0,
             max_tokens: int | None = None, stop: str | Sequence[str] | None = None,
             seed: int | None = None, n: int = 1) -> ChatResult:
        """``n`` replies to ``messages`` (OpenAI semantics and defaults)."""
        return self.backend.chat(messages, temperature=temperature, top_p=top_p,
                                 max_tokens=max_tokens, stop=stop, seed=seed, n=n)

    def stream(self, messages: Messages, temperature: float = 1.0, top_p: float = 1.0,
               max_tokens: int | None = None, stop: str | Sequence[str] | None = None,
               seed: int | None = None) -> Iterator[str]:
        """The reply's text piece by piece, as it is generated."""
        return self.backend.stream(messages, temperature=temperature, top_p=top_p,
                                   max_tokens=max_tokens, stop=stop, seed=seed)

    def ask(self, prompt: str, system: str | None = None, **options: Any) -> str:
        """The reply to one user message; greedy (``temperature=0``) unless given."""
        messages = [{"role": "system", "content": system}] if system else []
        options.setdefault("temperature", 0.0)
        return self.chat([*messages, {"role": "user", "content": prompt}], **options).text
