import random

import numpy as np
import pytest
import torch

from genai_course import runtime


def test_run_mode_precedence(monkeypatch):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.delenv("GENAI_COURSE_QUICK", raising=False)
    assert runtime.run_mode() == "full"
    monkeypatch.setenv("GENAI_COURSE_QUICK", "1")
    assert runtime.run_mode() == "quick"
    monkeypatch.setenv("GENAI_COURSE_QUICK", "0")
    assert runtime.run_mode() == "full"
    monkeypatch.setenv("GENAI_COURSE_QUICK", "1")
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert runtime.run_mode() == "grading"


def test_scale_picks_per_mode(monkeypatch):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.delenv("GENAI_COURSE_QUICK", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert runtime.scale(cpu=100, gpu=1000, quick=10) == 100
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert runtime.scale(cpu=100, gpu=1000, quick=10) == 1000
    assert runtime.scale(cpu=100) == 100  # no gpu size given: the cpu one
    monkeypatch.setenv("GENAI_COURSE_QUICK", "1")
    assert runtime.scale(cpu=100, gpu=1000, quick=10) == 10
    assert runtime.scale(cpu=100, gpu=1000) == 100  # no quick size given: the cpu one
    monkeypatch.setenv("NBGRADER_EXECUTION", "validate")
    assert runtime.scale(cpu=100, gpu=1000, quick=10) == 10


def test_get_device_cpu_and_mps_opt_in(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    monkeypatch.delenv("GENAI_COURSE_MPS", raising=False)
    assert runtime.get_device() == torch.device("cpu")
    monkeypatch.setenv("GENAI_COURSE_MPS", "1")
    with pytest.warns(UserWarning, match="numerically"):
        assert runtime.get_device() == torch.device("mps")


def test_get_device_prefers_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert runtime.get_device() == torch.device("cuda")


def test_seed_everything_reproduces_all_generators():
    def draw():
        return random.random(), float(np.random.rand()), float(torch.rand(()))

    runtime.seed_everything(123)
    first = draw()
    runtime.seed_everything(123)
    assert draw() == first
    runtime.seed_everything(124)
    assert draw() != first
    assert torch.are_deterministic_algorithms_enabled() == torch.cuda.is_available()


def test_seed_everything_rejects_non_int():
    with pytest.raises(TypeError, match="seed must be an int"):
        runtime.seed_everything("42")


def test_header_reports_device_mode_and_time(monkeypatch, capsys):
    monkeypatch.setenv("GENAI_COURSE_QUICK", "1")
    text = runtime.header("Chapter X", minutes_cpu=4, minutes_quick=0.5)
    out = capsys.readouterr().out
    assert text in out
    assert "mode   : quick" in text and "about 0.5 min" in text and "cpu" in text


def test_seeded_initialises_reproducibly_without_touching_global_state():
    torch.manual_seed(7)
    expected_next = torch.rand(())
    torch.manual_seed(7)
    with runtime.seeded(3):
        a = torch.randn(4)
    assert torch.rand(()) == expected_next  # the caller's stream continues untouched
    with runtime.seeded(3):
        b = torch.randn(4)
    assert torch.equal(a, b)
    with runtime.seeded(None):
        c = torch.randn(4)
    assert not torch.equal(a, c)


def test_header_of_a_chapter_reads_the_measured_table(monkeypatch):
    table = runtime.measured_runtimes()
    monkeypatch.setenv("GENAI_COURSE_QUICK", "1")
    quick = runtime.header("Chapter 2", chapter="02_theory")
    monkeypatch.delenv("GENAI_COURSE_QUICK")
    full = runtime.header("Chapter 2", chapter="02_theory")
    assert f"about {runtime.format_seconds(table['02_theory']['quick_s'])} to run" in quick
    assert f"about {runtime.format_seconds(table['02_theory']['full_s'])} to run" in full
    with pytest.raises(ValueError, match="no measured runtime for '99_none'"):
        runtime.header("x", chapter="99_none")
    with pytest.raises(TypeError):
        runtime.header("x", 4, chapter="02_theory")


def test_format_seconds_speaks_like_people():
    assert [runtime.format_seconds(s) for s in (9, 89.4, 90, 138)] == \
        ["9 s", "89 s", "1.5 min", "2.3 min"]


def test_runtime_claims_have_one_source():
    """Every chapter has a measured row; its notebook's header and the README read it."""
    import re

    import nbformat

    from genai_course.course import readme
    from genai_course.course.release import list_chapters

    from .conftest import ROOT

    table = runtime.measured_runtimes()
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme.with_runtimes(text, table) == text, "README runtimes differ from the table"
    listed = readme.runtimes_in(text)
    for chapter in list_chapters(ROOT):
        assert chapter in table, f"no measured runtime for {chapter}"
        assert listed.get(chapter) == readme.runtime_cell(table[chapter])
        nb = nbformat.read(ROOT / "solutions" / chapter / f"{chapter}.ipynb", as_version=4)
        imports = next(c.source for c in nb.cells if c.get("id") == "imports")
        assert re.search(rf"runtime\.header\([^)]*chapter=\"{chapter}\"\)", imports), \
            f"{chapter}: the imports cell should call runtime.header(..., chapter={chapter!r})"
