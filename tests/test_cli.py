"""The genai-course command: doctor and lab (release is tested in test_release.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from genai_course.course import cli, doctor

from .conftest import ROOT


def test_doctor_passes_on_this_machine(capsys):
    assert cli.main(["doctor"]) == 0
    lines = capsys.readouterr().out.splitlines()
    checks = [ln for ln in lines if ln.startswith("[")]
    assert len(checks) == len(doctor.DEPENDENCIES) + 6
    assert all(ln.startswith("[OK]") for ln in checks), checks
    assert any(ln.startswith("[OK] grading isolation: bubblewrap") for ln in checks)
    assert any(ln.startswith("[OK] torch computation") for ln in checks)


def test_doctor_reports_a_missing_dependency(monkeypatch, capsys):
    monkeypatch.setattr(
        doctor, "DEPENDENCIES", doctor.DEPENDENCIES + (("no_such_module_xyz", "no-such-dist"),)
    )
    assert doctor.main() == 1
    out = capsys.readouterr().out
    assert "[FAIL] no-such-dist" in out and "pip install no-such-dist" in out
    assert "1 failed" in out


def test_doctor_reports_a_missing_command(monkeypatch, capsys):
    monkeypatch.setenv("PATH", "")
    assert doctor.main() == 1
    out = capsys.readouterr().out
    assert "[FAIL] jupyter command" in out and "[FAIL] nbgrader command" in out


def test_console_script_is_installed():
    out = subprocess.run(["genai-course", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    for command in ("doctor", "release", "lab"):
        assert command in out.stdout


@pytest.mark.parametrize("euid", [0, 1000])
def test_lab_starts_jupyterlab_on_the_chapters(monkeypatch, euid):
    calls = []
    monkeypatch.setattr(cli.subprocess, "call", lambda cmd: calls.append(cmd) or 0)
    monkeypatch.setattr(cli.os, "geteuid", lambda: euid)
    assert cli.main(["lab", "--root", str(ROOT), "--port=9999"]) == 0
    (cmd,) = calls
    assert cmd[:3] == [sys.executable, "-m", "jupyterlab"]
    assert f"--ServerApp.root_dir={ROOT}" in cmd
    assert "--LabApp.default_url=/lab/tree/chapters" in cmd
    assert ("--allow-root" in cmd) == (euid == 0)
    assert cmd[-1] == "--port=9999"


def test_unknown_arguments_are_rejected_outside_lab(capsys):
    with pytest.raises(SystemExit):
        cli.main(["doctor", "--bogus"])
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err
