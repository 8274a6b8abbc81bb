"""Shared test set-up: keep Jupyter, IPython and matplotlib out of $HOME."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
#: Where the browser tests write their screenshots (named at the end of the test run).
BROWSER_SCREENSHOTS = Path(tempfile.gettempdir()) / "genai-course-browser-screenshots"


def pytest_sessionstart(session: pytest.Session) -> None:
    if not hasattr(session.config, "workerinput"):  # the controller, not an xdist worker
        shutil.rmtree(BROWSER_SCREENSHOTS, ignore_errors=True)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if BROWSER_SCREENSHOTS.is_dir() and any(BROWSER_SCREENSHOTS.iterdir()):
        terminalreporter.write_line(f"browser test screenshots: {BROWSER_SCREENSHOTS}")


@pytest.fixture(scope="session", autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory) -> None:
    home = tmp_path_factory.mktemp("home")
    for var, sub in {
        "JUPYTER_CONFIG_DIR": "jupyter_config",
        "JUPYTER_DATA_DIR": "jupyter_data",
        "JUPYTER_RUNTIME_DIR": "jupyter_runtime",
        "IPYTHONDIR": "ipython",
        "MPLCONFIGDIR": "matplotlib",
    }.items():
        path = home / sub
        path.mkdir()
        os.environ[var] = str(path)
    os.environ["MPLBACKEND"] = "Agg"
    os.environ["JUPYTER_PLATFORM_DIRS"] = "1"
    # Grading/quick flags from the caller's shell must not leak into the tests.
    os.environ.pop("NBGRADER_EXECUTION", None)
    os.environ.pop("GENAI_COURSE_QUICK", None)


@pytest.fixture()
def one_thread() -> Iterator[None]:
    """Tiny networks train fastest on one thread; restore the setting afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
