"""A GPT exported to ONNX and run with ONNX Runtime: the seed's deployment example, measured.

ONNX is a file format for computation graphs; ONNX Runtime executes such a file without
PyTorch (in C++, on servers, phones or browsers), applying graph optimisations (fused
operators, constant folding) of its own. :func:`export_onnx` writes a
:class:`~genai_course.llm.transformer.GPT`'s forward pass (token ids in, logits out) with a
dynamic batch size and sequence length through ``torch.onnx.export`` (the ``torch.export``
based exporter); :func:`onnx_session` loads it; :func:`compare_runtimes` generates the same
greedy tokens with ONNX Runtime and PyTorch and times both.

The exported graph has no key/value cache, so each generated token reprocesses the whole
context (:func:`greedy_tokens`); PyTorch is timed both that way (the like-for-like
comparison) and with its cache (how the course's server generates).

Used in: chapter 9.
"""

from __future__ import annotations

import contextlib
import io
import logging
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genai_course.llm.transformer import GPT


def export_onnx(model: GPT, path: str | Path, opset: int = 18) -> Path:
    """Write ``model``'s forward pass ``ids (B, T) -> logits (B, T, vocab)`` to ``path``
    (float32, any batch size and any length up to the model's context). The model is put
    in float32 and eval mode, in place."""
    path = Path(path)
    model = model.float().eval()
    example = torch.zeros(2, 8, dtype=torch.long)
    batch = torch.export.Dim("batch", min=1, max=1024)
    length = torch.export.Dim("length", min=2, max=model.config.block_size)
    # the exporter reports its progress on stdout and logs and warns about its internals:
    # keep them out of the notebook (a failed export still raises)
    onnx_log = logging.getLogger("torch.onnx")
    level = onnx_log.level
    onnx_log.setLevel(logging.ERROR)
    try:
        with (torch.no_grad(), contextlib.redirect_stdout(io.StringIO()),
              warnings.catch_warnings()):
            warnings.simplefilter("ignore")
            torch.onnx.export(model, (example,), str(path), dynamo=True, opset_version=opset,
                              input_names=["ids"], output_names=["logits"],
                              dynamic_shapes=({0: batch, 1: length},), external_data=False,
                              verbose=False)
    finally:
        onnx_log.setLevel(level)
    return path


def onnx_session(path: str | Path, threads: int = 1) -> Any:
    """An ONNX Runtime inference session on the CPU with ``threads`` threads per operator."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def onnx_logits(session: Any, ids: np.ndarray) -> np.ndarray:
    """Logits ``(B, T, vocab)`` of the exported model for integer ``ids`` ``(B, T)``."""
    return session.run(["logits"], {"ids": np.asarray(ids, dtype=np.int64)})[0]


def greedy_tokens(logits_fn: Callable[[np.ndarray], np.ndarray], prompt: Sequence[int],
                  n_new: int, block_size: int) -> list[int]:
    """``n_new`` greedy tokens after ``prompt``, recomputing the last ``block_size`` tokens'
    logits at every step (no cache) with ``logits_fn`` (ids ``(1, T)`` -> ``(1, T, V)``)."""
    ids = list(prompt)
    for _ in range(n_new):
        window = np.asarray([ids[-block_size:]], dtype=np.int64)
        ids.append(int(np.argmax(logits_fn(window)[0, -1])))
    return ids[len(prompt):]


def compare_runtimes(model: GPT, session: Any, prompt: Sequence[int], n_new: int = 64,
                     repeats: int = 3) -> dict[str, dict[str, Any]]:
    """Generate ``n_new`` greedy tokens after ``prompt`` with ONNX Runtime and with PyTorch
    (without and with the key/value cache); for each: the tokens, the best of ``repeats``
    seconds and tokens per second."""
    model = model.float().eval()
    block = model.config.block_size

    @torch.no_grad()
    def torch_logits(ids: np.ndarray) -> np.ndarray:
        return model(torch.from_numpy(ids)).numpy()

    @torch.no_grad()
    def torch_cached() -> list[int]:
        out = model.generate(torch.tensor([list(prompt)]), n_new, temperature=0.0)
        return out[0, len(prompt):].tolist()

    runs: dict[str, Callable[[], list[int]]] = {
        "ONNX Runtime (no cache)": lambda: greedy_tokens(
            lambda ids: onnx_logits(session, ids), prompt, n_new, block),
        "PyTorch (no cache)": lambda: greedy_tokens(torch_logits, prompt, n_new, block),
        "PyTorch (KV cache)": torch_cached,
    }
    results = {}
    for name, run in runs.items():
        best, tokens = float("inf"), []
        for _ in range(repeats):
            start = time.perf_counter()
            tokens = run()
            best = min(best, time.perf_counter() - start)
        results[name] = {"tokens": tokens, "seconds": best, "tokens_per_second": n_new / best}
    return results
