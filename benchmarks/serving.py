"""Throughput and latency of `genai-course serve` (TinyChat) with 1 and 8 concurrent clients.

Starts the server on a free loopback port in this process, sends the same set of requests
(4-digit additions with "Think step by step.", about 100-150 generated tokens each, greedy)
from ``c`` client threads at once, and reports generated tokens per second and request
latency. Numbers on a shared machine are noisy: run it on an idle one and compare the rows
of one run (they share the conditions).

    python benchmarks/serving.py [--requests 16] [--clients 1 8] [--threads 2]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from genai_course.data import tasks  # noqa: E402
from genai_course.pretrained.tinychat import load_chat  # noqa: E402
from genai_course.serving.client import ChatClient  # noqa: E402
from genai_course.serving.loadtest import measure_throughput  # noqa: E402
from genai_course.serving.server import serve_in_thread  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=16)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(),
                        help="torch threads for the server (default: torch's default)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    items = tasks.generate("add", args.requests, seed=0, split="test", digits=4,
                           scratchpad=True)
    prompts = [it.messages() for it in items]
    with serve_in_thread(load_chat()) as server:
        client = ChatClient.openai(server.base_url, model="tinychat")
        client.chat(prompts[0], temperature=0, max_tokens=5)  # warm up
        print(f"torch threads: {args.threads}; {args.requests} requests per row\n")
        print("| concurrent clients | tokens | seconds | tokens/s | latency p50 (s) | "
              "latency max (s) |")
        print("|---|---|---|---|---|---|")
        for c in args.clients:
            r = measure_throughput(client, prompts, c)
            print(f"| {c} | {r['tokens']} | {r['seconds']:.1f} | {r['tokens_per_s']:.0f} | "
                  f"{r['latency_p50']:.2f} | {r['latency_max']:.2f} |")


if __name__ == "__main__":
    main()
