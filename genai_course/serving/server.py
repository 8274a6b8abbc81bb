"""An OpenAI-compatible chat-completions server for the course's chat models (FastAPI on
uvicorn).

The wire format follows OpenAI's chat completions API:

* ``GET /v1/models`` and ``GET /v1/models/{id}``: the served model ids;
* ``POST /v1/chat/completions`` with ``model``, ``messages``, ``temperature`` (0-2, default
  1), ``top_p`` (default 1), ``max_tokens`` (or ``max_completion_tokens``; default: the rest
  of the context), ``stop`` (a string or up to 4), ``seed``, ``n`` (1-16) and ``stream``.
  The reply is a ``chat.completion`` with ``choices`` (``message``, ``finish_reason``
  ``"stop"``/``"length"``) and ``usage``; with ``"stream": true`` it is a stream of
  server-sent events, one ``chat.completion.chunk`` per piece of text, closed by
  ``data: [DONE]`` (``"stream_options": {"include_usage": true}`` adds a usage chunk).
* Errors are JSON ``{"error": {"message", "type", "param", "code"}}`` with status 400
  (malformed JSON, a bad field, a bad role, too many tokens: code
  ``context_length_exceeded``), 404 (unknown model: ``model_not_found``; unknown path) or
  405.

Requests run in worker threads; each generation has its own key/value cache and its own
seeded random generator, so concurrent requests cannot corrupt each other.

Start it with ``genai-course serve`` or, from Python (a notebook, a test), with
:func:`serve_in_thread`, which picks a free loopback port and stops the server on exit.

Used in: chapters 6, 8, 9.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from genai_course.llm.chat import ChatError, ChatModel, check_messages

MAX_N = 16


class RequestError(Exception):
    """A request the server refuses, with OpenAI's error fields."""

    def __init__(self, message: str, param: str | None = None, code: str | None = None,
                 status: int = 400, kind: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.message, self.param, self.code, self.status, self.kind = (
            message, param, code, status, kind)

    def response(self) -> JSONResponse:
        return error_response(self.status, self.message, self.param, self.code, self.kind)


def error_response(status: int, message: str, param: str | None = None,
                   code: str | None = None, kind: str = "invalid_request_error"
                   ) -> JSONResponse:
    """The OpenAI error body ``{"error": {"message", "type", "param", "code"}}``."""
    return JSONResponse(status_code=status, content={
        "error": {"message": message, "type": kind, "param": param, "code": code}})


def _number(body: Mapping[str, Any], name: str, default: float, low: float, high: float,
            low_open: bool = False) -> float:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RequestError(f"'{name}' must be a number, got {json.dumps(value)}", name)
    if not ((low < value) if low_open else (low <= value)) or value > high:
        interval = f"({low}, {high}]" if low_open else f"[{low}, {high}]"
        raise RequestError(f"'{name}' must be in {interval}, got {value}", name)
    return float(value)


def _integer(body: Mapping[str, Any], name: str, low: int, high: int | None = None
             ) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise RequestError(f"'{name}' must be an integer, got {json.dumps(value)}", name)
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise RequestError(f"'{name}' must be {bound}, got {value}", name)
    return value


def parse_request(body: object, models: Mapping[str, ChatModel]) -> dict[str, Any]:
    """Validate a chat-completions request body; raise :class:`RequestError` with the
    OpenAI error fields for the first problem found."""
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object")
    name = body.get("model")
    if not isinstance(name, str) or not name:
        raise RequestError("'model' is required (a string naming a served model)", "model")
    if name not in models:
        raise RequestError(f"The model '{name}' does not exist; this server has: "
                           f"{', '.join(models)}", "model", "model_not_found", status=404)
    if "messages" not in body:
        raise RequestError("'messages' is required", "messages")
    try:
        messages = check_messages(body["messages"])
    except ChatError as exc:
        raise RequestError(str(exc), "messages") from None
    stop = body.get("stop")
    if stop is not None and not (isinstance(stop, str) or (
            isinstance(stop, list) and all(isinstance(s, str) for s in stop))):
        raise RequestError("'stop' must be a string or a list of strings", "stop")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise RequestError("'stream' must be a boolean", "stream")
    options = body.get("stream_options") or {}
    if not isinstance(options, dict):
        raise RequestError("'stream_options' must be an object", "stream_options")
    max_tokens = _integer(body, "max_tokens", 1)
    if max_tokens is None:
        max_tokens = _integer(body, "max_completion_tokens", 1)
    return {
        "model": name, "messages": messages,
        "temperature": _number(body, "temperature", 1.0, 0.0, 2.0),
        "top_p": _number(body, "top_p", 1.0, 0.0, 1.0, low_open=True),
        "max_tokens": max_tokens, "stop": stop,
        "seed": _integer(body, "seed", -(2 ** 63), 2 ** 63 - 1),
        "n": _integer(body, "n", 1, MAX_N) or 1,
        "stream": stream, "include_usage": bool(options.get("include_usage", False)),
    }


def _sse(payload: dict[str, Any] | str) -> str:
    data = payload if isinstance(payload, str) else json.dumps(payload)
    return f"data: {data}\n\n"


def create_app(models: Mapping[str, ChatModel]) -> FastAPI:
    """The FastAPI application serving ``models`` (model id -> :class:`ChatModel`)."""
    if not models:
        raise ValueError("serve at least one model")
    app = FastAPI(title="genai-course chat server", docs_url=None, redoc_url=None)
    started = int(time.time())

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = ("Unknown path: " + request.url.path if exc.status_code == 404
                   else str(exc.detail))
        return error_response(exc.status_code, message)

    def model_card(name: str) -> dict[str, Any]:
        return {"id": name, "object": "model", "created": started, "owned_by": "genai-course"}

    @app.get("/v1/models")
    def list_models() -> dict[str, Any]:
        return {"object": "list", "data": [model_card(name) for name in models]}

    @app.get("/v1/models/{name}", response_model=None)
    def get_model(name: str) -> dict[str, Any] | JSONResponse:
        if name not in models:
            return error_response(404, f"The model '{name}' does not exist", "model",
                                  "model_not_found")
        return model_card(name)

    @app.post("/v1/chat/completions", response_model=None)
    async def chat_completions(request: Request) -> Any:
        raw = await request.body()
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return error_response(400, f"We could not parse the JSON body of your request "
                                       f"({exc}).")
        try:
            req = parse_request(body, models)
            chat = models[req["model"]]
            kwargs = {k: req[k] for k in ("temperature", "top_p", "max_tokens", "stop",
                                          "seed", "n")}
            # validate (prompt length, max_tokens, stop) before answering 200
            stream = chat.stream(req["messages"], **kwargs)
        except RequestError as exc:
            return exc.response()
        except (ChatError, ValueError, TypeError) as exc:
            code = "context_length_exceeded" if "context" in str(exc) else None
            return error_response(400, str(exc), None, code)
        ident = f"chatcmpl-{uuid.uuid4().hex}"
        created = int(time.time())
        prompt_tokens = len(chat.prompt_ids(req["messages"]))
        if req["stream"]:
            return StreamingResponse(
                _event_stream(stream, ident, created, req, prompt_tokens),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        choices = await run_in_threadpool(_collect, stream, req["n"])
        completion = sum(c["tokens"] for c in choices)
        return {
            "id": ident, "object": "chat.completion", "created": created,
            "model": req["model"], "system_fingerprint": None,
            "choices": [{"index": c["index"], "logprobs": None,
                         "message": {"role": "assistant", "content": c["text"]},
                         "finish_reason": c["finish_reason"]} for c in choices],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion,
                      "total_tokens": prompt_tokens + completion},
        }

    return app


def _collect(stream: Iterator[Any], n: int) -> list[dict[str, Any]]:
    choices = [{"index": i, "text": "", "finish_reason": None, "tokens": 0} for i in range(n)]
    for delta in stream:
        choice = choices[delta.index]
        choice["text"] += delta.text
        if delta.finish_reason:
            choice["finish_reason"] = delta.finish_reason
            choice["tokens"] = delta.completion_tokens
    return choices


def _event_stream(stream: Iterator[Any], ident: str, created: int, req: dict[str, Any],
                  prompt_tokens: int) -> Iterator[str]:
    """Server-sent events of a streamed completion (a sync generator: Starlette iterates it
    in a worker thread)."""
    def chunk(choices: list[dict[str, Any]], usage: dict[str, int] | None = None
              ) -> dict[str, Any]:
        body = {"id": ident, "object": "chat.completion.chunk", "created": created,
                "model": req["model"], "system_fingerprint": None, "choices": choices}
        if req["include_usage"]:
            body["usage"] = usage
        return body

    for i in range(req["n"]):
        yield _sse(chunk([{"index": i, "delta": {"role": "assistant", "content": ""},
                           "logprobs": None, "finish_reason": None}]))
    completion = 0
    for delta in stream:
        if delta.text:
            yield _sse(chunk([{"index": delta.index, "delta": {"content": delta.text},
                               "logprobs": None, "finish_reason": None}]))
        if delta.finish_reason:
            completion += delta.completion_tokens
            yield _sse(chunk([{"index": delta.index, "delta": {}, "logprobs": None,
                               "finish_reason": delta.finish_reason}]))
    if req["include_usage"]:
        yield _sse(chunk([], {"prompt_tokens": prompt_tokens, "completion_tokens": completion,
                              "total_tokens": prompt_tokens + completion}))
    yield _sse("[DONE]")


def load_models(names: list[str]) -> dict[str, ChatModel]:
    """Shipped chat models by registry name (their recipes attach ``model.chat``)."""
    from genai_course.pretrained import load_pretrained

    models = {}
    for name in names:
        chat = getattr(load_pretrained(name), "chat", None)
        if not isinstance(chat, ChatModel):
            raise ValueError(f"{name!r} is not a chat model (its recipe attaches no "
                             f"ChatModel); serve a chat model such as 'tinychat'")
        models[name] = chat
    return models


class RunningServer:
    """A server running in a background thread; ``base_url`` ends in ``/v1``."""

    def __init__(self, server: Any, thread: threading.Thread, host: str, port: int) -> None:
        self.server, self.thread, self.host, self.port = server, thread, host, port
        self.base_url = f"http://{host}:{port}/v1"

    def stop(self, timeout: float = 10.0) -> None:
        """Ask uvicorn to exit and wait for the thread."""
        self.server.should_exit = True
        self.thread.join(timeout)


@contextmanager
def serve_in_thread(models: Mapping[str, ChatModel] | ChatModel, host: str = "127.0.0.1",
                    port: int = 0, timeout: float = 30.0) -> Iterator[RunningServer]:
    """Run the server in a background thread for the duration of a ``with`` block (port 0
    picks a free port); stopped on exit, also when the block raises."""
    import uvicorn

    if isinstance(models, ChatModel):
        models = {models.name: models}
    config = uvicorn.Config(create_app(models), host=host, port=port, log_level="warning",
                            lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="genai-course-serve", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the server did not start on {host}:{port}")
        time.sleep(0.02)
    bound = server.servers[0].sockets[0].getsockname()[1]
    running = RunningServer(server, thread, host, bound)
    try:
        yield running
    finally:
        running.stop()


def serve(names: list[str], host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve shipped chat models in the foreground until interrupted (``genai-course
    serve``)."""
    import uvicorn

    app = create_app(load_models(names))
    print(f"Serving {', '.join(names)} at http://{host}:{port}/v1 (OpenAI chat completions); "
          f"press Ctrl+C to stop.")
    uvicorn.run(app, host=host, port=port, log_level="info")
