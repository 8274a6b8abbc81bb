"""The genai-course command: doctor and lab (release is tested in test_release.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from genai_course.course import cli, doctor, lab

from .conftest import ROOT


def test_doctor_passes_on_this_machine(capsys):
    assert cli.main(["doctor"]) == 0
    lines = capsys.readouterr().out.splitlines()
    checks = [ln for ln in lines if ln.startswith("[")]
    assert len(checks) == len(doctor.DEPENDENCIES) + len(doctor.LAB_DEPENDENCIES) + 6
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


def test_doctor_on_a_notebooks_only_install_reports_the_lab_extra_without_failing(
        monkeypatch, capsys):
    monkeypatch.setattr(doctor, "LAB_DEPENDENCIES", (("no_lab_xyz", "no-lab-xyz"),))
    assert doctor.main() == 0
    out = capsys.readouterr().out
    assert "[--] lab extra: not installed" in out and "genai-course[lab]" in out


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


def copy_release(dest):
    """A course with chapters/ only (what the lab reads)."""
    import shutil

    shutil.copy(ROOT / "nbgrader_config.py", dest)
    (dest / "solutions").mkdir()
    shutil.copytree(ROOT / "chapters", dest / "chapters")
    return dest


@pytest.mark.parametrize("euid", [0, 1000])
def test_lab_starts_jupyterlab_on_a_personal_copy_with_the_start_page(
        monkeypatch, euid, tmp_path, capsys):
    calls = []
    monkeypatch.setattr(cli, "run_child",
                        lambda cmd, env, cwd: calls.append((cmd, env, cwd)) or 0)
    monkeypatch.setattr(lab.os, "geteuid", lambda: euid)
    course = copy_release(tmp_path)
    assert cli.main(["lab", "--root", str(course), "--port=9999"]) == 0
    ((cmd, env, cwd),) = calls
    work = course / lab.WORKSPACE
    assert cmd[:3] == [sys.executable, "-m", "jupyterlab"]
    assert f"--ServerApp.root_dir={work}" in cmd
    assert f"--LabApp.default_url=/lab/tree/{lab.START_PAGE}" in cmd
    assert ("--allow-root" in cmd) == (euid == 0)
    assert cmd[-1] == "--port=9999"
    assert cwd == course  # where the Validate button reads nbgrader_config.py
    config = Path(env["JUPYTER_CONFIG_PATH"].split(os.pathsep)[0])
    page = json.loads((config / "labconfig" / "page_config.json").read_text())
    assert set(page["disabledExtensions"]) == set(lab.INSTRUCTOR_PLUGINS)
    server = json.loads((config / "jupyter_server_config.json").read_text())
    assert not any(server["ServerApp"]["jpserver_extensions"].values())
    for chapter in lab.chapter_files(course):
        mine = work / chapter / f"{chapter}.ipynb"
        assert mine.read_bytes() == (course / "chapters" / chapter / mine.name).read_bytes()
    start = (work / lab.START_PAGE).read_text()
    assert "[Chapter 1" in start and "(01_history/01_history.ipynb)" in start
    assert "copied 01_history" in capsys.readouterr().out


def test_lab_never_overwrites_a_students_copy(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(cli, "run_child", lambda cmd, env, cwd: 0)
    course = copy_release(tmp_path)
    assert cli.main(["lab", "--root", str(course)]) == 0
    mine = course / lab.WORKSPACE / "01_history" / "01_history.ipynb"
    mine.write_text(mine.read_text().replace("count_bigrams", "my_answer"))
    released = course / "chapters" / "01_history" / "01_history.ipynb"
    released.write_text(released.read_text().replace("A short history", "A new history"))
    capsys.readouterr()
    assert cli.main(["lab", "--root", str(course)]) == 0
    out = capsys.readouterr().out
    assert "01_history has a new version" in out and "--update 01_history" in out
    assert "my_answer" in mine.read_text()
    assert cli.main(["lab", "--root", str(course), "--update", "01_history"]) == 0
    out = capsys.readouterr().out
    (aside,) = mine.parent.glob("01_history.before-*.ipynb")
    assert f"kept your copy of 01_history.ipynb as {aside}" in out
    assert "my_answer" in aside.read_text() and "A new history" in mine.read_text()
    assert cli.main(["lab", "--root", str(course)]) == 0
    assert "new version" not in capsys.readouterr().out
    assert cli.main(["lab", "--root", str(course), "--update", "99_none"]) == 2


def test_lab_for_instructors_is_nbgrader_as_installed(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(cli, "run_child",
                        lambda cmd, env, cwd: calls.append((cmd, env)) or 0)
    monkeypatch.delenv("JUPYTER_CONFIG_PATH", raising=False)
    course = copy_release(tmp_path)
    assert cli.main(["lab", "--root", str(course), "--instructor"]) == 0
    ((cmd, env),) = calls
    assert f"--ServerApp.root_dir={course}" in cmd
    assert not any("default_url" in c or "app_settings_dir" in c for c in cmd)
    assert "JUPYTER_CONFIG_PATH" not in env
    assert not (course / lab.WORKSPACE).exists()


def test_unknown_arguments_are_rejected_outside_lab(capsys):
    with pytest.raises(SystemExit):
        cli.main(["doctor", "--bogus"])
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err


def test_stopping_the_lab_command_stops_what_it_started(tmp_path):
    """SIGTERM to `genai-course lab` reaches JupyterLab (here a stand-in child that records
    its pid and sleeps), so no server keeps running with its kernels."""
    pid_file = tmp_path / "child.pid"
    child = (f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); "
             "time.sleep(120)")
    script = ("import sys; from genai_course.course.cli import run_child; "
              f"sys.exit(run_child([sys.executable, '-c', {child!r}], None, None))")
    runner = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 60
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline and runner.poll() is None
        time.sleep(0.1)
    pid = int(pid_file.read_text())
    runner.terminate()
    assert runner.wait(30) == 128 + signal.SIGTERM  # the child's end, as a shell reports it
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
