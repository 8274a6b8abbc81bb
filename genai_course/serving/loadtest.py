"""A load test for any chat endpoint: the same requests sent from ``c`` client threads at
once, reporting generated tokens per second and request latency, as serving benchmarks do
(throughput against latency as concurrency grows).

Used in: chapter 9 (and ``benchmarks/serving.py``).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from genai_course.core.checks import check_int
from genai_course.serving.client import ChatClient


def measure_throughput(client: ChatClient, prompts: Sequence[Sequence[dict[str, str]]],
                       clients: int, max_tokens: int = 200) -> dict[str, float]:
    """Send every conversation in ``prompts`` (greedy, at most ``max_tokens`` each) from
    ``clients`` threads; returns ``tokens`` generated, wall ``seconds``, ``tokens_per_s``
    and the median and maximum request latency in seconds."""
    check_int(clients, "clients", 1)
    if not prompts:
        raise ValueError("prompts is empty")

    def one(messages: Sequence[dict[str, str]]) -> tuple[float, int]:
        start = time.perf_counter()
        result = client.chat(messages, temperature=0, max_tokens=max_tokens)
        return time.perf_counter() - start, result.completion_tokens

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(one, prompts))
    wall = time.perf_counter() - start
    latencies = [seconds for seconds, _ in results]
    tokens = sum(n for _, n in results)
    return {"clients": clients, "requests": len(prompts), "tokens": tokens, "seconds": wall,
            "tokens_per_s": tokens / wall, "latency_p50": statistics.median(latencies),
            "latency_max": max(latencies)}
