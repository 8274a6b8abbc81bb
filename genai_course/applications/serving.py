"""Serving speed measured in-process: throughput and latency of batched decoding.

:func:`decode_throughput` times a GPT generating ``new_tokens`` tokens for ``batch``
requests at once (with its key/value cache): the latency of each request is the time of
the whole batch, the throughput is ``batch * new_tokens / seconds``. Batching requests is
how servers (vLLM, TGI, llama.cpp's server) trade latency for throughput; the chapter's
cost table takes its tokens per second from here.

Used in: chapter 9.
"""

from __future__ import annotations

import time

import torch

from genai_course.core.checks import check_int
from genai_course.llm.transformer import GPT


@torch.no_grad()
def decode_throughput(model: GPT, batch: int, new_tokens: int, prompt_len: int = 8,
                      repeats: int = 3, seed: int = 0) -> dict[str, float]:
    """Median over ``repeats`` runs of: ``seconds`` for the batch, ``latency`` (the same:
    every request waits for the batch), ``tokens_per_second`` over the whole batch, and
    ``per_request_tokens_per_second``."""
    batch, new_tokens = check_int(batch, "batch", 1), check_int(new_tokens, "new_tokens", 1)
    if prompt_len + new_tokens > model.config.block_size:
        raise ValueError("prompt_len + new_tokens must fit in the model's block_size")
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(seed)
    prompt = torch.randint(0, model.config.vocab_size, (batch, prompt_len), device=device,
                           generator=generator)
    times = []
    for _ in range(check_int(repeats, "repeats", 1)):
        start = time.perf_counter()
        model.generate(prompt, new_tokens, temperature=1.0, generator=generator)
        times.append(time.perf_counter() - start)
    seconds = sorted(times)[len(times) // 2]
    return {"batch": float(batch), "seconds": seconds, "latency": seconds,
            "tokens_per_second": batch * new_tokens / seconds,
            "per_request_tokens_per_second": new_tokens / seconds}
