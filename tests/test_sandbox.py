"""The grading sandbox: a safe wire format, and a child process whose failures and tricks
never reach the process that checks the results."""

from __future__ import annotations

import collections
import math
import struct

import numpy as np
import pytest
import torch

from genai_course.course import sandbox
from genai_course.course.sandbox import codec
from genai_course.generative import vae
from genai_course.grading import package_disabled

# -- codec ---------------------------------------------------------------------------------


def test_plain_data_round_trips_exactly():
    value = {
        "floats": (1.5, float("nan"), float("-inf"), -0.0),
        (1, "key"): [10**40, True, None, b"\x00raw", {3, 4}, frozenset({5})],
        "counter": collections.Counter("abca"),
        "tensors": [torch.randn(2, 3, dtype=torch.float64).requires_grad_(),
                    torch.arange(6).reshape(2, 3)[:, 1], torch.zeros(0, 4),
                    torch.tensor(2.5, dtype=torch.bfloat16), torch.tensor([True, False])],
        "numpy": [np.arange(5, dtype=np.int16), np.float32(0.25), np.zeros((2, 0))],
    }
    back = codec.decode(codec.encode(value))
    assert back.keys() == value.keys()
    assert type(back["floats"]) is tuple and math.isnan(back["floats"][1])
    assert math.copysign(1, back["floats"][3]) == -1
    assert back[(1, "key")] == value[(1, "key")]
    assert type(back["counter"]) is collections.Counter and back["counter"] == value["counter"]
    for got, want in zip(back["tensors"], value["tensors"], strict=True):
        assert type(got) is torch.Tensor and got.dtype == want.dtype
        assert got.shape == want.shape and torch.equal(got, want.detach())
        assert got.requires_grad == want.requires_grad
    for got, want in zip(back["numpy"], value["numpy"], strict=True):
        assert type(got) is type(want) and got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


class AlwaysEqual:
    def __eq__(self, other):
        return True


class MyFloat(float):
    pass


@pytest.mark.parametrize("value", [AlwaysEqual(), MyFloat(1.0), print, np.array(["a"]),
                                   torch.eye(2).to_sparse(), [object()],
                                   collections.namedtuple("P", "x")(1)])
def test_anything_but_plain_data_is_refused(value):
    with pytest.raises(codec.CodecError, match="cannot be graded"):
        codec.encode(value)


def test_malformed_messages_are_refused_without_running_anything():
    good = codec.encode([torch.ones(3)])
    n = struct.unpack_from("<Q", good)[0]
    for bad in [b"", b"not even a header", good[:-1], good + b"x",
                struct.pack("<Q", 9) + b'{"v": 1}}',
                good[:8] + good[8:8 + n].replace(b"float32", b"object_") + good[8 + n:]]:
        with pytest.raises(codec.CodecError):
            codec.decode(bad)
    evil = b'{"v": {"ndarray": ["|O", [1], 0]}, "sizes": [8]}'
    with pytest.raises(codec.CodecError):
        codec.decode(struct.pack("<Q", len(evil)) + evil + b"\0" * 8)


# -- the student process ---------------------------------------------------------------------

ANSWER = '''
import os
def double(x):
    return 2 * x
def loop():
    while True:
        pass
def crash():
    os._exit(7)
def hog():
    import numpy
    return numpy.ones(2**30).sum()
def chatty():
    print("spam " * 100_000)
    return 1.0
def fake():
    class E:
        def __eq__(self, other):
            return True
    return E()
def kl(mu, logvar):
    return vae.gaussian_kl(mu, logvar)
def check_tensor(*args, **kwargs):   # not an exported name: must not reach the tests
    return None
torch.allclose = lambda *a, **k: True
'''
EXPORTS = ["double", "loop", "crash", "hog", "chatty", "fake", "kl"]


@pytest.fixture
def student():
    printed: list[str] = []
    proc = sandbox.StudentProcess(setup="import torch\nfrom genai_course.generative import vae",
                                  call_timeout=3.0, memory_mb=600, on_output=printed.append)
    proc.printed = printed
    yield proc
    proc.close()


def test_answers_run_in_the_child_and_only_their_exported_names_come_back(student):
    names = student.run_cell(ANSWER, "ex1", EXPORTS + ["missing"])
    assert sorted(names) == sorted(EXPORTS)
    out = names["double"](torch.tensor([1.5, 2.0]))
    assert type(out) is torch.Tensor and torch.equal(out, torch.tensor([3.0, 4.0]))
    assert not torch.allclose(torch.zeros(1), torch.ones(1)), "the child's patch leaked"
    with pytest.raises(TypeError, match="fake.<locals>.E cannot be graded"):
        names["fake"]()


def test_a_loop_times_out_once_then_fails_at_once(student):
    names = student.run_cell(ANSWER, "ex1", EXPORTS)
    with pytest.raises(sandbox.GradingTimeout, match="did not finish within 3 s"):
        names["loop"]()
    with pytest.raises(sandbox.GradingTimeout, match="not run again"):
        names["loop"]()
    assert torch.equal(names["double"](torch.ones(1)), torch.full((1,), 2.0))  # replayed


def test_a_crash_is_reported_and_a_fresh_process_takes_over(student):
    names = student.run_cell(ANSWER, "ex1", EXPORTS)
    with pytest.raises(sandbox.StudentProcessDied, match="exit code 7"):
        names["crash"]()
    assert names["double"](3) == 6


def test_memory_is_limited(student):
    names = student.run_cell(ANSWER, "ex1", EXPORTS)
    with pytest.raises(sandbox.MemoryLimitExceeded, match="600 MB"):
        names["hog"]()
    assert names["double"](1.5) == 3.0


def test_output_is_capped(student):
    names = student.run_cell(ANSWER, "ex1", EXPORTS)
    assert names["chatty"]() == 1.0
    text = "".join(student.printed)
    assert len(text) < 25_000 and "more characters of output cut" in text


def test_student_exceptions_keep_their_builtin_type_and_traceback(student):
    names = student.run_cell("def bad(x):\n    return {}[x]\n", "ex2", ["bad"])
    with pytest.raises(KeyError, match="line 2, in bad"):
        names["bad"]("k")
    with pytest.raises(NameError):
        student.run_cell("undefined_name\n", "ex3", [])


def test_package_disabled_switches_the_package_off_in_the_child(student):
    names = student.run_cell(ANSWER, "ex1", EXPORTS)
    mu = torch.zeros(1, 2)
    sandbox.ACTIVE, saved = student, sandbox.ACTIVE
    try:
        with package_disabled(vae.gaussian_kl):
            with pytest.raises(Exception, match="switched off"):
                names["kl"](mu, mu)
        assert torch.equal(names["kl"](mu, mu), torch.zeros(1))
    finally:
        sandbox.ACTIVE = saved
    assert torch.equal(vae.gaussian_kl(mu, mu), torch.zeros(1)), "the grader's copy is intact"


def test_run_cell_binds_proxies_and_removes_stale_names():
    namespace = {"double": "stale", "keep": 1}
    proc = sandbox.start("import torch")
    try:
        sandbox.run_cell("def double(x):\n    return x + x\n", "ex1", ["double"], namespace)
        assert namespace["double"](2) == 4 and namespace["keep"] == 1
        namespace["triple"] = "stale"
        sandbox.run_cell("pass\n", "ex2", ["triple"], namespace)
        assert "triple" not in namespace
    finally:
        proc.close()
        sandbox.ACTIVE = None
