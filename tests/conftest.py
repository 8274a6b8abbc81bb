"""Shared test set-up: keep Jupyter, IPython and matplotlib out of $HOME."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
_SCREENSHOTS = pytest.StashKey[Path]()


def _screenshot_folder(config: pytest.Config) -> Path:
    """Where this run's browser tests write their screenshots: a folder of its own for each
    run (named by the controller, handed to xdist workers), made when the first is saved."""
    worker = getattr(config, "workerinput", None)
    if worker is not None:
        return Path(worker["genai_course_screenshots"])
    if _SCREENSHOTS not in config.stash:
        config.stash[_SCREENSHOTS] = (Path(tempfile.gettempdir())
                                      / f"genai-course-screenshots-{uuid.uuid4().hex[:8]}")
    return config.stash[_SCREENSHOTS]


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:  # xdist: the controller configures a worker
    node.workerinput["genai_course_screenshots"] = str(_screenshot_folder(node.config))


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    folder = _screenshot_folder(config)
    if folder.is_dir() and any(folder.iterdir()):
        terminalreporter.write_line(f"browser test screenshots: {folder}")


@pytest.fixture(scope="session")
def screenshots(request: pytest.FixtureRequest) -> Path:
    """The folder for this run's screenshots (printed at the end of the run)."""
    folder = _screenshot_folder(request.config)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


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
