"""The grading sandbox: a strict wire format, and isolated student processes whose failures,
tricks and attacks never reach the process that checks the results or anything else on the
machine. Runs where bubblewrap works (CI installs it); the comparison with isolation turned
off shows what the isolation is protecting."""

from __future__ import annotations

import collections
import json
import math
import os
import py_compile
import socket
import struct
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from genai_course.course import doctor, sandbox
from genai_course.course.sandbox import codec, isolation
from genai_course.course.sandbox.process import OUTPUT_LINES, template
from genai_course.generative import vae
from genai_course.grading import package_disabled, reference_answers

from .conftest import ROOT

requires_isolation = pytest.mark.skipif(not isolation.probe().available,
                                        reason=f"no OS isolation here: {isolation.probe().detail}")

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


def message(tree, blobs: list[bytes]) -> bytes:
    header = json.dumps({"v": tree, "sizes": [len(b) for b in blobs]}).encode()
    return struct.pack("<Q", len(header)) + header + b"".join(blobs)


def test_malformed_messages_are_refused_without_running_anything():
    good = codec.encode([torch.ones(3)])
    n = struct.unpack_from("<Q", good)[0]
    for bad in [b"", b"not even a header", good[:-1], good + b"x",
                struct.pack("<Q", 9) + b'{"v": 1}}', struct.pack("<Q", 2**40) + b"{}",
                good[:8] + good[8:8 + n].replace(b"float32", b"object_") + good[8 + n:],
                message({"ndarray": ["|O", [1], 0]}, [b"\0" * 8]),
                message({"int": "9" * 5000}, []), message([[[[[[]]]]]] * 2, [])]:
        with pytest.raises(codec.CodecError):
            codec.decode(bad)


def test_one_blob_cannot_become_many_arrays_or_a_bigger_one():
    blob = bytes(4 * 2**20)
    with pytest.raises(codec.CodecError, match="used twice"):
        codec.decode(message({"list": [{"bytes": 0}] * 150}, [blob]))
    with pytest.raises(codec.CodecError, match="no value uses"):
        codec.decode(message({"bytes": 0}, [blob, blob]))
    huge = [2**20, 2**20, 2**20]  # 2**60 float32s claimed, none sent: refused before allocating
    with pytest.raises(codec.CodecError, match="needs"):
        codec.decode(message({"tensor": ["float32", huge, 0, False]}, [b""]))
    with pytest.raises(codec.CodecError, match="needs"):
        codec.decode(message({"ndarray": ["<f8", [3], 0]}, [bytes(16)]))
    with pytest.raises(codec.CodecError, match="larger than"):
        codec.decode(bytes(codec.MAX_BYTES + 64))


# -- the student process -------------------------------------------------------------------

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
def helpers(n, mb):
    import numpy, time
    for _ in range(n):
        if os.fork() == 0:
            keep = numpy.ones(mb * 2**20 // 8)
            time.sleep(60)
            os._exit(0)
    time.sleep(60)
def chatty():
    for i in range(1000):
        print("spam", i, "x" * 500)
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
EXPORTS = ["double", "loop", "crash", "hog", "helpers", "chatty", "fake", "kl"]


def new_student(**limits) -> sandbox.StudentProcess:
    printed: list[str] = []
    proc = sandbox.StudentProcess(setup="import torch\nfrom genai_course.generative import vae",
                                  call_timeout=5.0, on_output=printed.append,
                                  limits=sandbox.Limits(**{"memory_mb": 700, **limits}))
    proc.printed = printed
    return proc


@pytest.fixture
def student():
    proc = new_student()
    yield proc
    proc.close()


@requires_isolation
def test_answers_run_in_the_child_and_only_their_exported_names_come_back(student):
    names = student.run_cell(ANSWER, "ex1", EXPORTS + ["missing"])
    assert sorted(names) == sorted(EXPORTS)
    out = names["double"](torch.tensor([1.5, 2.0]))
    assert type(out) is torch.Tensor and torch.equal(out, torch.tensor([3.0, 4.0]))
    assert not torch.allclose(torch.zeros(1), torch.ones(1)), "the child's patch leaked"
    with pytest.raises(TypeError, match="fake.<locals>.E cannot be graded"):
        names["fake"]()


MUTATORS = '''
def add_in_place(w, a, *, scale=None, arr=None):
    w += a
    if arr is not None:
        arr[0] = -1
    return w.sum()
def reshape_in_place(w):
    w.resize_(1)   # changes the shape: the grader's tensor is left as it was
    return 0
'''


@requires_isolation
def test_arguments_changed_in_place_come_back_as_in_process(student):
    names = student.run_cell(MUTATORS, "ex1", ["add_in_place", "reshape_in_place"])
    w, a, arr = torch.ones(3), torch.arange(3.0), np.zeros(2)
    total = names["add_in_place"](w, a, scale=2.0, arr=arr)
    # the same call in this process leaves the same values behind
    w2, a2, arr2 = torch.ones(3), torch.arange(3.0), np.zeros(2)
    w2 += a2
    arr2[0] = -1
    assert float(total) == float(w2.sum())
    assert torch.equal(w, w2) and torch.equal(a, a2) and np.array_equal(arr, arr2)
    leaf = torch.zeros(2, requires_grad=True)  # in place on a leaf that needs grad: refused
    with pytest.raises(RuntimeError, match="leaf Variable"):  # as torch refuses it here
        names["add_in_place"](leaf, torch.ones(2))
    assert torch.equal(leaf.detach(), torch.zeros(2))
    v = torch.ones(4)
    assert names["reshape_in_place"](v) == 0 and torch.equal(v, torch.ones(4))


@requires_isolation
def test_a_loop_times_out_once_then_fails_at_once(student):
    names = student.run_cell(ANSWER, "ex1", EXPORTS)
    with pytest.raises(sandbox.GradingTimeout, match="did not finish within 5 s"):
        names["loop"]()
    with pytest.raises(sandbox.GradingTimeout, match="not run again"):
        names["loop"]()
    assert torch.equal(names["double"](torch.ones(1)), torch.full((1,), 2.0))  # replayed


@requires_isolation
def test_a_crash_is_reported_and_a_fresh_process_takes_over(student):
    names = student.run_cell(ANSWER, "ex1", EXPORTS)
    with pytest.raises(sandbox.StudentProcessDied, match="exited"):
        names["crash"]()
    assert names["double"](3) == 6


@requires_isolation
def test_memory_counts_the_whole_process_tree(student):
    names = student.run_cell(ANSWER, "ex1", EXPORTS)
    student.call_timeout = 60  # room to allocate on a busy machine
    with pytest.raises(sandbox.MemoryLimitExceeded, match="700 MB"):
        names["hog"]()  # one 8 GB allocation: refused by the address-space limit
    with pytest.raises(sandbox.MemoryLimitExceeded, match="700 MB"):
        names["helpers"](3, 300)  # 900 MB spread over three helper processes
    assert names["double"](1.5) == 3.0


@requires_isolation
def test_processes_and_cpu_are_limited_and_nothing_outlives_the_student():
    proc = new_student(processes=8, cpus=0.05)  # low: this machine may be very busy
    try:
        names = proc.run_cell('''
import os, subprocess, threading, time
def spawn(n):
    started = 0
    for _ in range(n):
        try:
            subprocess.Popen(["sleep", "4243"], start_new_session=True)
            started += 1
        except OSError:
            pass
    return started
def spin():
    def busy():
        while True:
            pass
    for _ in range(4):
        threading.Thread(target=busy, daemon=True).start()
    time.sleep(10)
''', "ex1", ["spawn", "spin"])
        proc.call_timeout = 30
        with pytest.raises(sandbox.ResourceLimitExceeded, match="CPU cores"):
            names["spin"]()
        try:
            assert names["spawn"](50) < 8
        except sandbox.ResourceLimitExceeded:
            pass  # where the kernel cannot count a uid's processes, the supervisor does
    finally:
        proc.close()
    assert "sleep 4243" not in subprocess.run(["ps", "-eo", "args"], capture_output=True,
                                              text=True).stdout


@requires_isolation
def test_output_is_cut_to_a_few_lines(student):
    names = student.run_cell(ANSWER, "ex1", EXPORTS)
    assert names["chatty"]() == 1.0
    text = "\n".join(student.printed)
    assert len(text.splitlines()) <= OUTPUT_LINES + 1 and "not shown" in text
    assert all(len(line) < 200 for line in text.splitlines())


@requires_isolation
def test_student_exceptions_keep_their_builtin_type_and_traceback(student):
    names = student.run_cell("def bad(x):\n    return {}[x]\n", "ex2", ["bad"])
    with pytest.raises(KeyError, match="line 2, in bad"):
        names["bad"]("k")
    with pytest.raises(NameError):
        student.run_cell("undefined_name\n", "ex3", [])


PROBE = '''
import os, socket
def probe(paths, port, grader_pid):
    found = {"pid": os.getpid(), "uid": os.getuid(), "env": dict(os.environ)}
    found["readable"] = [p for p in paths if os.path.exists(p)]
    found["processes"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
    for line in open("/proc/self/status"):
        if line.startswith("CapEff"):
            found["caps"] = int(line.split()[1], 16)
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        found["network"] = True
    except OSError:
        found["network"] = False
    try:
        os.kill(grader_pid, 0)
        found["can_signal_grader"] = True
    except OSError:
        found["can_signal_grader"] = False
    writes = []
    import genai_course.grading
    for path in (genai_course.grading.__file__, "/usr/lib/os-release", "/opt/x"):
        try:
            open(path, "a").close()
            writes.append(path)
        except OSError:
            pass
    found["writable"] = writes
    try:
        with open("/tmp/big", "wb") as handle:
            handle.write(bytes(100 * 2**20))
        found["big_file"] = True
    except OSError:
        found["big_file"] = False
    return found
'''


def run_probe(tmp_path: Path, off: bool, monkeypatch) -> dict:
    secret = tmp_path / "secret.txt"
    secret.write_text("the answers")
    monkeypatch.setenv("GENAI_COURSE_TEST_SECRET", "hunter2")
    if off:
        monkeypatch.setenv("GENAI_COURSE_ISOLATION", "off")
    server = socket.create_server(("127.0.0.1", 0))
    proc = sandbox.StudentProcess(setup="import os", call_timeout=30,
                                  limits=sandbox.Limits(tmp_mb=16),
                                  isolation=isolation.require())
    try:
        names = proc.run_cell(PROBE, "ex1", ["probe"])
        home = [str(p) for p in Path.home().iterdir()  # (the interpreter may live there)
                if not str(Path(sys.prefix).resolve()).startswith(str(p.resolve()))][:5]
        paths = [str(secret), str(ROOT / "solutions"), str(ROOT / "nbgrader_config.py"), *home]
        return names["probe"](paths, server.getsockname()[1], os.getpid())
    finally:
        proc.close()
        server.close()


@requires_isolation
def test_the_student_sees_no_course_files_no_network_no_other_process(tmp_path, monkeypatch):
    found = run_probe(tmp_path, off=False, monkeypatch=monkeypatch)
    assert found["readable"] == [], "the course, $HOME and the host's /tmp are out of reach"
    assert found["network"] is False and found["can_signal_grader"] is False
    assert found["pid"] == 1 and len(found["processes"]) <= 2  # its own PID namespace
    assert found["uid"] != 0 and found["caps"] == 0
    assert "GENAI_COURSE_TEST_SECRET" not in found["env"] and found["env"]["HOME"] == "/tmp"
    assert found["writable"] == [] and found["big_file"] is False


@requires_isolation
def test_without_isolation_the_same_code_reaches_everything(tmp_path, monkeypatch):
    """What the isolation protects: turned off, the probe reads the course and more."""
    found = run_probe(tmp_path, off=True, monkeypatch=monkeypatch)
    assert str(tmp_path / "secret.txt") in found["readable"]
    assert found["network"] is True and found["can_signal_grader"] is True
    assert found["env"]["GENAI_COURSE_TEST_SECRET"] == "hunter2"


FORGER = '''
import json, os, stat, struct, sys, threading, time
def _request_id():
    frame = sys._getframe()
    while frame is not None:
        if "request_id" in frame.f_locals:
            return frame.f_locals["request_id"]
        frame = frame.f_back
def _send(tree, blobs):
    header = json.dumps({"v": tree, "sizes": [len(b) for b in blobs]}).encode()
    body = struct.pack("<Q", len(header)) + header + b"".join(blobs)
    for fd in range(3, 64):
        try:
            if stat.S_ISSOCK(os.fstat(fd).st_mode):
                os.write(fd, struct.pack("!i", len(body)) + body)
        except OSError:
            pass
def blob_bomb():
    blob = bytes(4 * 2**20)
    _send({"tuple": [{"int": str(_request_id())}, "ok", {"list": [{"bytes": 0}] * 150}, ""]},
          [blob])
def stale_reply():
    _send({"tuple": [{"int": str(_request_id() - 1)}, "ok", None, ""]}, [])
def double(x):
    return 2 * x
'''


def rss_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@requires_isolation
def test_a_forged_reply_kills_the_student_process_and_costs_the_grader_nothing(student):
    names = student.run_cell(FORGER, "ex1", ["blob_bomb", "stale_reply", "double"])
    before = rss_mb()
    with pytest.raises(sandbox.ProtocolViolation, match="broke the grading protocol"):
        names["blob_bomb"]()  # 150 arrays from one 4 MB blob would be 600 MB here
    assert rss_mb() - before < 100
    with pytest.raises(sandbox.ProtocolViolation, match="does not answer request"):
        names["stale_reply"]()
    assert names["double"](2) == 4  # a fresh process, the answers replayed
    forged = student.run_cell(
        "import genai_course.course.sandbox.child as _c\n"
        "_real = _c.Student.exec\n"
        "def _exec(self, *a):\n"
        "    return ['double', 'check_tensor'], {'check_float': 1}\n"
        "_c.Student.exec = _exec\n", "ex2", [])
    assert forged == {}  # this cell's own reply was honest; the next one is not
    with pytest.raises(sandbox.ProtocolViolation, match="does not ask for"):
        student.run_cell("x = 1\n", "ex3", ["x"])


@requires_isolation
def test_package_disabled_leaves_no_copy_of_the_package_function(student):
    py_compile.compile(vae.__file__)  # the bytecode a student could load
    names = student.run_cell('''
import importlib, inspect, marshal, types, glob
import genai_course.generative.vae as _vae
_copy = types.FunctionType(_vae.gaussian_kl.__code__, _vae.gaussian_kl.__globals__)
_code = _vae.gaussian_kl.__code__
def via_copy(mu, logvar):
    return _copy(mu, logvar)
def via_saved_code(mu, logvar):
    _vae.gaussian_kl.__code__ = _code
    return _vae.gaussian_kl(mu, logvar)
def via_reload(mu, logvar):
    return importlib.reload(_vae).gaussian_kl(mu, logvar)
def via_source(mu, logvar):
    scope = {}
    exec(inspect.getsource(_vae), scope)
    return scope["gaussian_kl"](mu, logvar)
def via_bytecode(mu, logvar):
    for path in glob.glob(_vae.__file__.rsplit("/", 1)[0] + "/__pycache__/vae*.pyc"):
        scope = dict(_vae.__dict__)
        exec(marshal.loads(open(path, "rb").read()[16:]), scope)
        return scope["gaussian_kl"](mu, logvar)
    raise FileNotFoundError("no bytecode")
''' + ANSWER, "ex1", EXPORTS + ["via_copy", "via_saved_code", "via_reload", "via_source",
                                "via_bytecode"])
    mu = torch.zeros(1, 2)
    ways = ["kl", "via_copy", "via_saved_code", "via_reload", "via_source", "via_bytecode"]
    sandbox.ACTIVE, saved = student, sandbox.ACTIVE
    try:
        with package_disabled(vae.gaussian_kl):
            for way in ways:
                with pytest.raises(Exception, match="switched off|no bytecode") as info:
                    names[way](mu, mu)
                assert way == "via_bytecode" or "switched off" in str(info.value)
        assert torch.equal(names["via_copy"](mu, mu), torch.zeros(1)), "the real one is back"
    finally:
        sandbox.ACTIVE = saved
    assert torch.equal(vae.gaussian_kl(mu, mu), torch.zeros(1)), "the grader's copy is intact"


@requires_isolation
def test_reference_answers_stand_in_for_earlier_exercises():
    proc = sandbox.StudentProcess(
        setup="import torch", call_timeout=10, on_output=lambda text: None,
        references={"ex2_square": "def square(x):\n    return x * x\n"})
    names = proc.run_cell("def square(x):\n    return x + x\n"
                          "def fourth(x):\n    return square(square(x))\n", "ex3",
                          ["square", "fourth"])
    sandbox.ACTIVE, saved = proc, sandbox.ACTIVE
    try:
        assert names["fourth"](3) == 12  # the student's own, wrong, square
        with reference_answers(square="ex2_square"):
            assert names["fourth"](3) == 81
            with package_disabled(vae.gaussian_kl):  # a fresh process keeps the reference
                assert names["fourth"](3) == 81
        assert names["fourth"](3) == 12
        with pytest.raises(KeyError, match="no reference answer"):
            with reference_answers(square="ex9_unknown"):
                pass
    finally:
        sandbox.ACTIVE = saved
        proc.close()


@requires_isolation
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


# -- where isolation is missing ------------------------------------------------------------


def test_without_bubblewrap_grading_refuses_unless_turned_off(monkeypatch, capsys):
    isolation.probe.cache_clear()
    monkeypatch.setattr(isolation, "shutil", types.SimpleNamespace(which=lambda name: None))
    monkeypatch.delenv("GENAI_COURSE_ISOLATION", raising=False)
    try:
        with pytest.raises(isolation.IsolationUnavailable, match="bubblewrap.*apt-get install"):
            sandbox.start("import torch")
        monkeypatch.setenv("GENAI_COURSE_ISOLATION", "off")
        assert isolation.require().mode == "none"
        monkeypatch.delenv("GENAI_COURSE_ISOLATION")
        assert doctor.main() == 0, "students do not need isolation"
        assert "[--] grading isolation: RuntimeError: bubblewrap" in capsys.readouterr().out
    finally:
        isolation.probe.cache_clear()


@requires_isolation
def test_user_namespace_mode_isolates_the_same_way(monkeypatch):
    """The mode a grader that is not root gets (here forced: as root the kernel does not
    count processes per user, so the supervisor's limit is what holds)."""
    monkeypatch.setenv("GENAI_COURSE_SANDBOX_MODE", "user")
    isolation.probe.cache_clear()
    proc = new_student(processes=8)
    try:
        assert isolation.require().mode == "user"
        names = proc.run_cell(PROBE + ANSWER, "ex1", ["probe", "kl"] + ["double"])
        found = names["probe"]([str(ROOT / "solutions")], 9, os.getpid())
        assert found["uid"] == 65534 and found["pid"] == 1 and found["caps"] == 0
        assert found["readable"] == [] and found["writable"] == []
        sandbox.ACTIVE, saved = proc, sandbox.ACTIVE
        try:
            with package_disabled(vae.gaussian_kl):
                with pytest.raises(Exception, match="switched off"):
                    names["kl"](torch.zeros(1, 1), torch.zeros(1, 1))
        finally:
            sandbox.ACTIVE = saved
    finally:
        proc.close()
        isolation.probe.cache_clear()
        monkeypatch.delenv("GENAI_COURSE_SANDBOX_MODE")
        template("root" if os.geteuid() == 0 else "user")  # back to the usual template
