"""The checkpoint registry: hash verification, clear errors, and the retrain round trip."""

from __future__ import annotations

import pytest
import torch

from genai_course import pretrained
from genai_course.course.cli import main


class Tiny(torch.nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.linear = torch.nn.Linear(2, width)


def train(seed: int, config: dict | None = None) -> dict:
    """This module is the throwaway checkpoint's recipe."""
    torch.manual_seed(seed)
    return {"config": {"width": 3}, "state_dict": Tiny(3).state_dict(), "metrics": {"loss": 1.0}}


def load(payload: dict) -> torch.nn.Module:
    model = Tiny(**payload["config"])
    model.load_state_dict(payload["state_dict"])
    return model


@pytest.fixture
def entry(tmp_path, monkeypatch):
    """A throwaway checkpoint registered under a temporary folder."""
    monkeypatch.setattr(pretrained, "HERE", tmp_path)
    monkeypatch.setattr(pretrained, "REGISTRY", {})
    ck = pretrained.Checkpoint(
        name="tiny", filename="tiny.pt", sha256="0" * 64,
        recipe=__name__, description="t",
    )
    pretrained.register(ck)
    return ck


def test_retrain_then_load_checks_the_hash(entry, monkeypatch):
    path = pretrained.retrain("tiny")
    assert path.parent == pretrained.HERE
    with pytest.raises(pretrained.PretrainedError, match="does not match"):
        pretrained.load_pretrained("tiny")
    fixed = pretrained.Checkpoint(**{**entry.__dict__, "sha256": pretrained.sha256_of(path)})
    monkeypatch.setitem(pretrained.REGISTRY, "tiny", fixed)
    model = pretrained.load_pretrained("tiny")
    assert not model.training
    assert model.metrics["loss"] == 1.0 and "train_seconds" in model.metrics
    assert model.retrain_command == "genai-course retrain tiny"
    torch.manual_seed(0)
    assert torch.equal(model.linear.weight, Tiny(3).linear.weight)


def test_unknown_and_missing_checkpoints_say_what_is_wrong(entry):
    with pytest.raises(pretrained.PretrainedError, match="named 'nope'; shipped: tiny"):
        pretrained.load_pretrained("nope")
    with pytest.raises(pretrained.PretrainedError, match="is missing"):
        pretrained.load_pretrained("tiny")
    with pytest.raises(pretrained.PretrainedError, match="already registered"):
        pretrained.register(entry)


def test_cli_retrain_refuses_to_replace_the_shipped_file(entry, tmp_path, capsys):
    assert main(["retrain", "tiny"]) == 0
    assert "sha256" in capsys.readouterr().out
    assert main(["retrain", "tiny"]) == 2
    assert "exists" in capsys.readouterr().err
    out = tmp_path / "elsewhere"
    assert main(["retrain", "tiny", "--out", str(out)]) == 0
    assert (out / "tiny.pt").is_file()
    assert main(["retrain", "nope"]) == 2


def test_every_shipped_checkpoint_matches_its_hash():
    for entry in pretrained.REGISTRY.values():
        assert entry.path.is_file(), entry.path
        assert pretrained.sha256_of(entry.path) == entry.sha256, entry.name
