"""Chapter 6's client cells against ``genai-course serve``: the notebook's own serving cell
runs here as written (it starts the server in a subprocess on a free loopback port, talks to
it through the chat client and stops it), and its replies must equal the in-process model's."""

from __future__ import annotations

import contextlib
import io

import nbformat
import pytest

from genai_course.pretrained import REGISTRY
from genai_course.prompting.endpoint import ServerProcess

from .conftest import ROOT

NOTEBOOK = ROOT / "solutions" / "06_prompting" / "06_prompting.ipynb"


def cell(cell_id: str) -> str:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    return next(c.source for c in notebook.cells if c.get("id") == cell_id)


@pytest.mark.skipif("tinychat" not in REGISTRY,
                    reason="the tinychat checkpoint is not registered yet")
def test_the_notebooks_serving_cell_runs_against_genai_course_serve(
        one_thread: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from genai_course.prompting.voting import majority_vote

    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)

    namespace: dict = {}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(cell("imports"), namespace)
        namespace["my_vote"] = majority_vote
        exec(cell("code-serve"), namespace)
        exec(cell("code-your-endpoint"), {**namespace, "my_few_shot": None})
    text = out.getvalue()
    assert "models: ['tinychat']" in text
    # greedy over HTTP equals greedy in process, for each question the cell asks
    asked = [line for line in text.splitlines() if "(in-process: " in line]
    assert len(asked) == 2
    for line in asked:
        remote, local = line.split(" -> ", 1)[1].split(" (in-process: ")
        assert remote == local.rstrip(")")
    assert "usage: {'prompt_tokens'" in text and "server stopped" in text
    assert namespace["server"].process.poll() is not None  # nothing left running
    assert "OPENAI_BASE_URL is not set" in text  # the optional cell needs nothing


def test_a_server_that_cannot_start_says_why() -> None:
    with pytest.raises(RuntimeError, match="exited with code"):
        ServerProcess("no-such-model", timeout=120)
