"""Small checkpoints shipped inside the package, verified by sha256 before loading.

Each entry of :data:`REGISTRY` names a weights file in this folder, its sha256, and its
*recipe*: a module of this package with ``CONFIG`` (how it is built and trained),
``train(seed, config=None) -> payload`` and ``load(payload) -> torch.nn.Module``. Retrain and
reship a checkpoint with::

    genai-course retrain NAME            # writes NAME.pt here and prints its sha256

then paste the printed sha256 into :data:`REGISTRY`. A payload is a plain dict
``{"config": {...}, "state_dict": {...}, "extra": {...}, "metrics": {...}}`` saved with
``torch.save`` and read back with ``weights_only=True``: loading never runs pickled code.
"""

from __future__ import annotations

import hashlib
import importlib
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

HERE = Path(__file__).resolve().parent


class PretrainedError(RuntimeError):
    """A checkpoint is unknown, missing or corrupted."""


@dataclass(frozen=True)
class Checkpoint:
    """One shipped checkpoint; ``recipe`` is the dotted name of its recipe module, imported
    only when the checkpoint is loaded or retrained."""

    name: str
    filename: str
    sha256: str
    recipe: str
    description: str

    def module(self) -> ModuleType:
        """The recipe module (``CONFIG``, ``train``, ``load``)."""
        return importlib.import_module(self.recipe)

    @property
    def path(self) -> Path:
        return HERE / self.filename

    @property
    def command(self) -> str:
        return f"genai-course retrain {self.name}"


REGISTRY: dict[str, Checkpoint] = {}


def register(checkpoint: Checkpoint) -> Checkpoint:
    """Add ``checkpoint`` to :data:`REGISTRY` (names are unique)."""
    if checkpoint.name in REGISTRY:
        raise PretrainedError(f"a checkpoint named {checkpoint.name!r} is already registered")
    REGISTRY[checkpoint.name] = checkpoint
    return checkpoint


def sha256_of(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def get(name: str) -> Checkpoint:
    """The registry entry for ``name``, with the list of known names if it is unknown."""
    try:
        return REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY)) or "none"
        raise PretrainedError(f"no checkpoint named {name!r}; shipped: {known}") from None


def load_payload(name: str) -> dict[str, Any]:
    """The verified payload dict of checkpoint ``name`` (raises if the hash differs)."""
    entry = get(name)
    if not entry.path.is_file():
        raise PretrainedError(
            f"{entry.path} is missing; reinstall the package or run `{entry.command}`"
        )
    actual = sha256_of(entry.path)
    if actual != entry.sha256:
        raise PretrainedError(
            f"{entry.path.name}: sha256 {actual} does not match the registry's {entry.sha256}; "
            f"the file is corrupted or was retrained without updating the registry"
        )
    return torch.load(entry.path, map_location="cpu", weights_only=True)


def load_pretrained(name: str, device: str | torch.device = "cpu") -> torch.nn.Module:
    """Load shipped checkpoint ``name`` in eval mode on ``device``; its training metrics are
    attached as ``model.metrics`` and the exact retrain command as ``model.retrain_command``."""
    entry = get(name)
    payload = load_payload(name)
    model = entry.module().load(payload)
    model.metrics = dict(payload.get("metrics", {}))
    model.retrain_command = entry.command
    return model.to(device).eval()


def retrain(name: str, out_dir: str | Path | None = None, seed: int = 0) -> Path:
    """Run checkpoint ``name``'s trainer and save its payload as ``out_dir/<filename>``
    (default: this folder). Returns the written path; print :func:`sha256_of` to reship."""
    entry = get(name)
    start = time.perf_counter()
    payload = entry.module().train(seed)
    payload.setdefault("metrics", {})["train_seconds"] = round(time.perf_counter() - start, 1)
    path = Path(out_dir or HERE) / entry.filename
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(payload, path)
    return path


from genai_course.pretrained import registry as _registry  # noqa: E402,F401  (fills REGISTRY)
