"""What a Colab user gets: a fresh environment with only the student install
(``pip install genai-course``, no extras) runs every chapter, with Colab's module faked.

The environment is a new virtual environment that sees nothing of this one, except PyTorch:
its installed package is linked in (a fresh download is 200 MB and Colab ships its own), and
its own requirements are installed by pip like everything else (from pip's cache where it has
them). Then, for every chapter, the untouched release runs top to bottom in quick mode in a
kernel of that environment with ``google.colab`` importable: the setup cell takes the Colab
branch, failed tests do not stop the run, and the last cell's self-check reads the notebook
through Colab's ``get_ipynb`` request, as on Colab.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from genai_course.course.release import list_chapters

from .conftest import ROOT

pytestmark = pytest.mark.xdist_group("fresh_install")  # one environment for the module
CHAPTERS = list_chapters(ROOT)

FAKE_MESSAGE = '''"""Stand-in for google.colab._message: hands over the notebook being run."""
import json
import os


def blocking_request(kind, request="", timeout_sec=None):
    assert kind == "get_ipynb", kind
    with open(os.environ["FAKE_COLAB_NOTEBOOK"], encoding="utf-8") as f:
        return {"ipynb": json.load(f)}
'''


def _pip(python: Path, *args: str) -> None:
    # --no-compile: the kernels compile what they import; byte-compiling every installed
    # module (SymPy's, SciPy's, ...) up front was most of the environment's CPU time
    out = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-compile",
                          "--disable-pip-version-check", *args],
                         capture_output=True, text=True, timeout=1200)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]


def _site_packages(python: Path) -> Path:
    return Path(subprocess.check_output(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        text=True).strip())


def link_torch(site: Path) -> list[str]:
    """Link this environment's PyTorch into ``site``; return its own requirements."""
    dist = metadata.distribution("torch")
    top = (dist.read_text("top_level.txt") or "torch").split()
    origin = Path(str(dist.locate_file("")))
    for name in [*top, f"torch-{dist.version}.dist-info"]:  # the packages and the metadata
        if (origin / name).exists():
            (site / name).symlink_to(origin / name)
    return [r for r in dist.requires or [] if "extra ==" not in r]


@pytest.fixture(scope="module")
def fresh(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("fresh")
    env_dir = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(env_dir)], check=True, timeout=300)
    python = env_dir / "bin" / "python"
    _pip(python, *link_torch(_site_packages(python)))
    _pip(python, str(ROOT))  # the student install: no extras
    colab = base / "colab"
    (colab / "google" / "colab").mkdir(parents=True)
    (colab / "google" / "colab" / "__init__.py").write_text("")
    (colab / "google" / "colab" / "_message.py").write_text(FAKE_MESSAGE)
    startup = base / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-colab.py").write_text("import google.colab  # as on Colab\n")
    kernels = base / "jupyter" / "kernels" / "fresh"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "fresh student install", "language": "python"}))
    return {"python": python, "colab": colab, "ipython": base / "ipython",
            "jupyter": base / "jupyter"}


def test_the_student_install_has_neither_jupyterlab_nor_nbgrader(fresh):
    probe = ("import importlib.util as u, json; print(json.dumps({m: u.find_spec(m) is not None "
             "for m in ['jupyterlab', 'nbgrader', 'genai_course', 'nbclient', 'torch']}))")
    found = json.loads(subprocess.check_output([str(fresh["python"]), "-c", probe], text=True))
    assert found == {"jupyterlab": False, "nbgrader": False, "genai_course": True,
                     "nbclient": True, "torch": True}
    doctor = subprocess.run([str(fresh["python"]), "-m", "genai_course.course.cli", "doctor"],
                            capture_output=True, text=True, timeout=300)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "[--] lab extra: not installed" in doctor.stdout


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_chapter_runs_on_colab(fresh, chapter, tmp_path, monkeypatch):
    path = tmp_path / f"{chapter}.ipynb"  # Colab's working folder holds no course files
    path.write_bytes((ROOT / "chapters" / chapter / f"{chapter}.ipynb").read_bytes())
    nb = nbformat.read(path, as_version=4)
    setup = nb.cells[1].source
    assert '"google.colab" in sys.modules' in setup and "genai-course @ git+" in setup
    assert "genai-course[" not in setup, "Colab installs the package without extras"
    monkeypatch.setenv("JUPYTER_PATH", str(fresh["jupyter"]))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(PYTHONPATH=str(fresh["colab"]), IPYTHONDIR=str(fresh["ipython"]),
               GENAI_COURSE_QUICK="1", FAKE_COLAB_NOTEBOOK=str(path),
               PATH=f"{fresh['python'].parent}{os.pathsep}{os.environ['PATH']}")
    NotebookClient(nb, timeout=300, kernel_name="fresh",
                   resources={"metadata": {"path": str(tmp_path)}}).execute(env=env)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code), "Run All stopped before the last cell"
    failed = [c for c in code if any(o.output_type == "error" for o in c.outputs)]
    assert failed and all("raises-exception" in c.metadata.get("tags", []) for c in failed)
    text = "".join(o.get("text", "") for c in code for o in c.outputs)
    assert "mode   : quick" in text
    if any("yours_or_reference" in c.source for c in code):
        assert "is not solved yet: the cells below use the package's reference" in text
    table = str(code[-1].outputs)
    assert "Self-check of this notebook" in table and "not attempted" in table, table
