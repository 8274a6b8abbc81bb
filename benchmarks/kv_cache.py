"""Speed-up of generation with a key/value cache, measured (not a timed test).

    python benchmarks/kv_cache.py [--threads 1] [--repeats 3]

Generates 64, 256 and ``block_size`` new tokens after a one-token prompt with
``GPT.generate(use_cache=True)`` and ``use_cache=False`` and prints the best-of-``repeats``
times and their ratio, all measured in this one run (machines are noisy; compare ratios,
not seconds). Two models: the shipped ``tinygpt-tinylang`` checkpoint (block_size 128, so
256 tokens run past its window, where the cache must be rebuilt at every step) and a GPT of
the same width with a 512-token window and random weights (speed does not depend on the
weights). Each pair of runs is also checked to produce the same tokens.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from genai_course.llm.transformer import GPT, GPTConfig  # noqa: E402
from genai_course.pretrained import load_pretrained  # noqa: E402


def best_time(fn, repeats: int) -> tuple[float, torch.Tensor]:
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def measure(name: str, model: GPT, repeats: int) -> None:
    block = model.config.block_size
    prompt = torch.zeros(1, 1, dtype=torch.long)
    print(f"\n{name}: {model.num_parameters():,} parameters, block_size {block}")
    print(f"{'new tokens':>10} {'no cache (s)':>13} {'cache (s)':>10} {'speed-up':>9}  same tokens")
    for n in sorted({64, 256, block}):
        def run(use_cache: bool, n: int = n) -> torch.Tensor:
            return model.generate(prompt, n, temperature=1.0, use_cache=use_cache,
                                  generator=torch.Generator().manual_seed(0))
        slow, a = best_time(lambda: run(False), repeats)
        fast, b = best_time(lambda: run(True), repeats)
        note = " (past block_size)" if n > block else ""
        print(f"{n:>10} {slow:>13.3f} {fast:>10.3f} {slow / fast:>8.1f}x  "
              f"{torch.equal(a, b)}{note}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s), best of {args.repeats}")
    measure("tinygpt-tinylang (shipped)", load_pretrained("tinygpt-tinylang"), args.repeats)
    config = GPTConfig(vocab_size=28, block_size=512, n_layer=4, n_head=4, n_embd=128)
    measure("GPT with a 512-token window (random weights)", GPT(config, seed=0).eval(),
            args.repeats)


if __name__ == "__main__":
    main()
