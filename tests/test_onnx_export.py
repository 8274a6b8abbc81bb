"""TinyChat's architecture exported to ONNX and run by ONNX Runtime computes PyTorch's logits
(any batch size and length) and the same greedy tokens."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genai_course.llm.transformer import GPT, GPTConfig
from genai_course.serving import onnx_export as ox


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    torch.set_num_threads(1)
    model = GPT(GPTConfig(vocab_size=23, block_size=32, n_layer=2, n_head=2, n_embd=16,
                          positional="rope"), seed=0).eval()
    path = ox.export_onnx(model, tmp_path_factory.mktemp("onnx") / "gpt.onnx")
    return model, path, ox.onnx_session(path)


def test_onnx_runtime_computes_the_pytorch_logits(exported):
    model, path, session = exported
    assert path.stat().st_size > 4 * model.num_parameters()  # float32 weights inside
    rng = np.random.default_rng(0)
    for shape in [(1, 2), (3, 17), (2, 32)]:  # dynamic batch and length, up to the context
        ids = rng.integers(0, 23, size=shape)
        with torch.no_grad():
            want = model(torch.from_numpy(ids)).numpy()
        got = ox.onnx_logits(session, ids)
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4)


def test_the_runtimes_generate_the_same_greedy_tokens(exported):
    model, _, session = exported
    prompt = [1, 5, 7, 2]
    with torch.no_grad():
        want = model.generate(torch.tensor([prompt]), 40, temperature=0.0)[0, 4:].tolist()
    results = ox.compare_runtimes(model, session, prompt, n_new=40, repeats=1)
    assert set(results) == {"ONNX Runtime (no cache)", "PyTorch (no cache)", "PyTorch (KV cache)"}
    for r in results.values():
        assert r["tokens"] == want  # 40 new tokens slide past the 32-token window
        assert r["tokens_per_second"] == pytest.approx(40 / r["seconds"])
