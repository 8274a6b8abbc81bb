"""The OpenAI-compatible server and the chat client.

Each test module starts its own server on a free loopback port and stops it afterwards. The
protocol is tested with a small untrained GPT (its greedy replies are deterministic
gibberish, which is all the wire format needs): what comes over HTTP, streamed or not, must
equal what the in-process model gives for the same request and seed, also when eight
requests run at once. Accuracy through the server is tested with the shipped TinyChat in
tests/test_tinychat.py.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from genai_course.llm.chat import ChatModel, ChatTokenizer
from genai_course.llm.transformer import GPT, GPTConfig
from genai_course.serving.client import ChatClient, ChatClientError
from genai_course.serving.server import serve_in_thread

HELLO = [{"role": "user", "content": "What is 23 + 45?"}]


@pytest.fixture(scope="module")
def model() -> ChatModel:
    tok = ChatTokenizer()
    gpt = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=64, n_layer=1, n_head=2,
                        n_embd=32, positional="rope"), seed=0)
    return ChatModel(gpt, tok, name="tiny")


@pytest.fixture(scope="module")
def long_reply(model: ChatModel) -> dict:
    """Sampling options under which the untrained model writes at least 12 characters."""
    for seed in range(100):
        options = dict(temperature=1.0, max_tokens=20, seed=seed)
        if len(model.chat(HELLO, **options).text) >= 12:
            return options
    raise AssertionError("no seed gives a long reply")


@pytest.fixture(scope="module")
def server(model: ChatModel):
    with serve_in_thread({"tiny": model}) as running:
        yield running
    assert not running.thread.is_alive()  # stopped after the module


@pytest.fixture(scope="module")
def client(server) -> ChatClient:
    return ChatClient.openai(server.base_url, api_key="unused", model="tiny")


def post(server, body: object, raw: bytes | None = None) -> httpx.Response:
    content = raw if raw is not None else json.dumps(body).encode()
    return httpx.post(f"{server.base_url}/chat/completions", content=content,
                      headers={"Content-Type": "application/json"}, timeout=60)


def test_models_endpoint(server) -> None:
    reply = httpx.get(f"{server.base_url}/models", timeout=10).json()
    assert reply["object"] == "list" and [m["id"] for m in reply["data"]] == ["tiny"]
    assert reply["data"][0]["object"] == "model"
    one = httpx.get(f"{server.base_url}/models/tiny", timeout=10)
    assert one.status_code == 200 and one.json()["id"] == "tiny"
    missing = httpx.get(f"{server.base_url}/models/gpt-9", timeout=10)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "model_not_found"


def test_plain_http_reply_has_the_openai_shape_and_equals_the_local_model(server, model) -> None:
    body = {"model": "tiny", "messages": HELLO, "temperature": 0, "max_tokens": 12}
    response = post(server, body)
    assert response.status_code == 200
    data = response.json()
    assert data["object"] == "chat.completion" and data["id"].startswith("chatcmpl-")
    assert data["model"] == "tiny" and isinstance(data["created"], int)
    (choice,) = data["choices"]
    assert choice["index"] == 0 and choice["message"]["role"] == "assistant"
    local = model.chat(HELLO, temperature=0, max_tokens=12)
    assert choice["message"]["content"] == local.text
    assert choice["finish_reason"] == local.choices[0].finish_reason
    prompt = len(model.prompt_ids(HELLO))
    usage = data["usage"]
    assert usage == {"prompt_tokens": prompt, "completion_tokens": usage["completion_tokens"],
                     "total_tokens": prompt + usage["completion_tokens"]}
    assert 1 <= usage["completion_tokens"] <= 12


def test_client_equals_local_model_for_sampling_with_a_seed(client, model) -> None:
    options = dict(temperature=1.3, top_p=0.9, max_tokens=15, seed=7, n=3)
    remote = client.chat(HELLO, **options)
    local = model.chat(HELLO, **options)
    assert [c.text for c in remote.choices] == [c.text for c in local.choices]
    assert len({c.text for c in local.choices}) > 1  # the n samples differ
    assert remote.completion_tokens == local.completion_tokens
    again = client.chat(HELLO, **options)
    assert [c.text for c in again.choices] == [c.text for c in remote.choices]
    other = client.chat(HELLO, **{**options, "seed": 8})
    assert [c.text for c in other.choices] != [c.text for c in remote.choices]
    assert ChatClient.local(model).chat(HELLO, **options).choices[2].text == \
        local.choices[2].text


def test_max_tokens_and_stop_strings(client, model, long_reply) -> None:
    full = model.chat(HELLO, **long_reply)
    text = full.text
    if full.choices[0].finish_reason == "length":
        assert full.choices[0].completion_tokens == 20 and len(text) <= 20
    stop = text[5:7]
    cut = client.chat(HELLO, **long_reply, stop=[stop, "\x7f"])
    assert cut.text == text[:text.find(stop)] and len(cut.text) <= 5
    assert cut.choices[0].finish_reason == "stop"
    short = client.chat(HELLO, **{**long_reply, "max_tokens": 3})
    assert short.choices[0].finish_reason == "length" and short.text == text[:3]
    assert short.completion_tokens == 3


def test_streaming_over_http_equals_the_full_reply(server, client, model, long_reply) -> None:
    body = {"model": "tiny", "messages": HELLO, **long_reply,
            "stream": True, "stream_options": {"include_usage": True}}
    with httpx.stream("POST", f"{server.base_url}/chat/completions", json=body,
                      timeout=60) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    assert all(line.startswith("data: ") for line in lines) and lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[6:]) for line in lines[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    pieces = [c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]]
    finish = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
    assert finish[-1] in ("stop", "length") and all(f is None for f in finish[:-1])
    expected = model.chat(HELLO, **long_reply)
    assert "".join(pieces) == expected.text
    assert len([p for p in pieces if p]) > 1  # it really streamed, piece by piece
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == \
        expected.completion_tokens
    assert "".join(client.stream(HELLO, **long_reply)) == expected.text
    stop = expected.text[4:6]
    streamed = "".join(client.stream(HELLO, **long_reply, stop=stop))
    assert streamed == expected.text[:expected.text.find(stop)]


def test_concurrent_requests_do_not_corrupt_each_other(client, model) -> None:
    """Eight requests at once, each with its own seed, get exactly what each gets alone."""
    seeds = list(range(8))
    alone = [model.chat(HELLO, temperature=1.0, max_tokens=25, seed=s).text for s in seeds]
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(
            lambda s: client.chat(HELLO, temperature=1.0, max_tokens=25, seed=s).text, seeds))
    assert together == alone and len(set(alone)) > 4


@pytest.mark.parametrize("body, status, param, code", [
    ({"model": "gpt-9", "messages": HELLO}, 404, "model", "model_not_found"),
    ({"messages": HELLO}, 400, "model", None),
    ({"model": "tiny"}, 400, "messages", None),
    ({"model": "tiny", "messages": [{"role": "wizard", "content": "x"}]}, 400, "messages", None),
    ({"model": "tiny", "messages": [{"role": "user", "content": 3}]}, 400, "messages", None),
    ({"model": "tiny", "messages": []}, 400, "messages", None),
    ({"model": "tiny", "messages": HELLO, "max_tokens": 500}, 400, None,
     "context_length_exceeded"),
    ({"model": "tiny", "messages": [{"role": "user", "content": "x" * 80}]}, 400, None,
     "context_length_exceeded"),
    ({"model": "tiny", "messages": HELLO, "temperature": 3}, 400, "temperature", None),
    ({"model": "tiny", "messages": HELLO, "temperature": "hot"}, 400, "temperature", None),
    ({"model": "tiny", "messages": HELLO, "top_p": 0}, 400, "top_p", None),
    ({"model": "tiny", "messages": HELLO, "n": 0}, 400, "n", None),
    ({"model": "tiny", "messages": HELLO, "max_tokens": 0}, 400, "max_tokens", None),
    ({"model": "tiny", "messages": HELLO, "stop": 5}, 400, "stop", None),
    ({"model": "tiny", "messages": HELLO, "stream": "yes"}, 400, "stream", None),
    ([1, 2], 400, None, None),
])
def test_bad_requests_get_openai_shaped_errors(server, body, status, param, code) -> None:
    response = post(server, body)
    assert response.status_code == status
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error" and len(error["message"]) > 10
    assert error["param"] == param and error["code"] == code


def test_malformed_json_unknown_paths_and_methods(server) -> None:
    response = post(server, None, raw=b'{"model": "tiny", "messages": [')
    assert response.status_code == 400
    assert "could not parse the JSON" in response.json()["error"]["message"]
    missing = httpx.get(server.base_url.replace("/v1", "/v2/chat"), timeout=10)
    assert missing.status_code == 404 and "Unknown path" in missing.json()["error"]["message"]
    wrong = httpx.get(f"{server.base_url}/chat/completions", timeout=10)
    assert wrong.status_code == 405 and "error" in wrong.json()


def test_client_raises_the_server_s_message(client) -> None:
    with pytest.raises(ChatClientError, match="400: .*role must be one of"):
        client.chat([{"role": "user", "content": "x"}, {"role": "bot", "content": "y"}])
    with pytest.raises(ChatClientError, match="404: The model 'nope' does not exist"):
        ChatClient.openai(client.backend.base_url, model="nope").chat(HELLO)
    with pytest.raises(ChatClientError, match="400: .*context"):
        list(client.stream(HELLO, max_tokens=1000))
    assert client.backend.models() == ["tiny"]


def test_client_reads_the_usual_environment_variables(server, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-local")
    monkeypatch.setenv("OPENAI_MODEL", "tiny")
    client = ChatClient.from_env()
    assert client.model == "tiny" and client.backend.base_url == server.base_url
    assert client.backend.http.headers["Authorization"] == "Bearer sk-local"
    assert isinstance(client.ask("hi", max_tokens=5), str)
    monkeypatch.delenv("OPENAI_BASE_URL")
    with pytest.raises(ChatClientError, match="OPENAI_BASE_URL"):
        ChatClient.openai()


def test_server_in_thread_frees_its_port(model) -> None:
    with serve_in_thread(model) as running:
        assert running.base_url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{running.base_url}/models", timeout=10).json()["data"][0]["id"] \
            == "tiny"
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{running.base_url}/models", timeout=2)


def test_transformers_backend_with_a_local_folder(tmp_path, model) -> None:
    """A tiny random GPT-2 saved to a local folder with the course's chat template: the
    client's transformers backend answers with what transformers' own greedy decoding gives."""
    transformers = pytest.importorskip("transformers")
    from tests.test_chat_template import hf_tokenizer

    tok = hf_tokenizer(model.tokenizer)
    config = transformers.GPT2Config(vocab_size=model.tokenizer.vocab_size, n_positions=64,
                                     n_embd=32, n_layer=1, n_head=2,
                                     eos_token_id=model.tokenizer.end_id)
    gpt2 = transformers.GPT2LMHeadModel(config).eval()
    gpt2.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    client = ChatClient.transformers(tmp_path)
    reply = client.chat(HELLO, temperature=0, max_tokens=10)
    ids = tok.apply_chat_template(HELLO, add_generation_prompt=True, return_tensors="pt",
                                  return_dict=True)["input_ids"]
    out = gpt2.generate(ids, max_new_tokens=10, do_sample=False,
                        pad_token_id=model.tokenizer.end_id)[0, ids.shape[1]:].tolist()
    end = model.tokenizer.end_id
    expected = tok.decode(out[:out.index(end)] if end in out else out,
                          skip_special_tokens=True)
    assert reply.text == expected and reply.prompt_tokens == ids.shape[1]
    assert reply.choices[0].finish_reason == ("stop" if end in out else "length")
    assert len(client.chat(HELLO, temperature=1.0, seed=0, n=2, max_tokens=5).choices) == 2
    with pytest.raises(ChatClientError, match="not a local model folder"):
        ChatClient.transformers(tmp_path / "missing")


def test_cli_serve_refuses_unknown_and_non_chat_models(capsys) -> None:
    from genai_course.course.cli import main

    assert main(["serve", "--model", "nope"]) == 2
    assert "no checkpoint named 'nope'" in capsys.readouterr().err
    assert main(["serve", "--model", "tinygpt-tinylang"]) == 2
    assert "not a chat model" in capsys.readouterr().err


# --------------------------------------------------------------------------- generation API

def test_answer_many_equals_greedy_chat(model: ChatModel) -> None:
    conversations = [[{"role": "user", "content": text}] for text in
                     ("What is 1 + 2?", "What is 3 + 4?", "Say HELLO.", "Sort: 3 1 2")]
    batched = model.answer_many(conversations, max_tokens=12, batch_size=2)
    assert batched == [model.chat(c, temperature=0, max_tokens=12).text
                       for c in conversations]


def test_logprob_is_the_chain_rule_over_the_reply(model: ChatModel) -> None:
    """log p(reply) from one forward pass equals the sum of next-token log-probabilities
    computed prefix by prefix (one forward pass per token)."""
    import torch

    reply = "68"
    prompt = model.prompt_ids(HELLO)
    target = model.tokenizer.encode(reply) + [model.tokenizer.end_id]
    total = 0.0
    with torch.no_grad():
        for k, token in enumerate(target):
            prefix = torch.tensor([prompt + target[:k]])
            total += torch.log_softmax(model.model(prefix)[0, -1], -1)[token].item()
    assert model.logprob(HELLO, reply) == pytest.approx(total, abs=1e-4)
    top = model.next_token_probs(HELLO, top=5)
    assert len(top) == 5 and all(a[1] >= b[1] for a, b in zip(top, top[1:], strict=False))
    with torch.no_grad():
        probs = torch.softmax(model.model(torch.tensor([prompt]))[0, -1], -1)
    assert top[0][1] == pytest.approx(probs.max().item(), rel=1e-5)
    assert dict(model.next_token_probs(HELLO, prefix="6", top=101))["8"] == pytest.approx(
        torch.tensor(model.logprob(HELLO, "68", close=False)
                     - model.logprob(HELLO, "6", close=False)).exp().item(), rel=1e-4)


def test_logits_processor_constrains_every_token(model: ChatModel) -> None:
    import torch

    digits = torch.tensor(model.tokenizer.encode("0123456789"))

    def only_digits(history: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        assert history.shape[0] == logits.shape[0] == 2
        mask = torch.full_like(logits, float("-inf"))
        mask[:, digits] = 0.0
        return logits + mask

    result = model.chat(HELLO, temperature=1.0, seed=0, n=2, max_tokens=8,
                        logits_processor=only_digits)
    assert all(c.text.isdigit() and len(c.text) == 8 for c in result.choices)
    assert all(c.finish_reason == "length" for c in result.choices)
