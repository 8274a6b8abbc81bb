"""The load test counts what the endpoint generated: greedy requests sent from several
threads produce exactly the tokens of the same requests sent one by one."""

from __future__ import annotations

import pytest

from genai_course.data import tasks
from genai_course.serving.client import ChatClient
from genai_course.serving.loadtest import measure_throughput

pytestmark = pytest.mark.xdist_group("tinychat")


def test_concurrent_requests_generate_the_tokens_of_sequential_ones():
    client = ChatClient.local()
    prompts = [it.messages() for it in tasks.generate("add", 4, seed=2, split="test", digits=3,
                                                       scratchpad=True)]
    one_by_one = sum(client.chat(p, temperature=0, max_tokens=40).completion_tokens
                     for p in prompts)
    result = measure_throughput(client, prompts, clients=3, max_tokens=40)
    assert (result["requests"], result["clients"], result["tokens"]) == (4, 3, one_by_one)
    assert result["tokens_per_s"] == pytest.approx(result["tokens"] / result["seconds"])
    assert 0 < result["latency_p50"] <= result["latency_max"] <= result["seconds"]
    with pytest.raises(ValueError, match="empty"):
        measure_throughput(client, [], clients=1)
    with pytest.raises(ValueError, match="clients"):
        measure_throughput(client, prompts, clients=0)
