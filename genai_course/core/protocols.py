"""The model contract every model of the course follows, and a checker for it.

* **Seeded construction**: the constructor takes ``seed: int | None = None``; with an int the
  initial parameters are drawn under ``runtime.seeded(seed)`` (the same seed gives the same
  model, and the caller's global random state is left alone).
* **Sampling** (where the model defines it): ``sample(n, *, generator=None)`` returns ``n``
  samples; ``generator`` (a ``torch.Generator``, or a NumPy ``Generator`` for the NumPy models
  of chapter 1) makes the draw reproducible.
* **Density** (where it is tractable): ``log_prob(x)`` returns the log-density (or
  log-probability) of each example in nats, shape ``(n,)``.
* **Held-out scores** are module-level functions named ``evaluate_*`` returning a Python
  ``float`` (``evaluate_elbo``, ``evaluate_loss``, ``evaluate_nll``, ``evaluate_accuracy``,
  ``evaluate_stream_loss``, ...).

:func:`contract_violations` checks the parts that can be read off a class or a function;
``tests/test_protocols.py`` applies it, and the behavioural checks, to every model.

Used in: every chapter (through the models).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import torch


@runtime_checkable
class Sampleable(Protocol):
    """A model that draws new data."""

    def sample(self, n: int, *, generator: Any = None) -> Any: ...


@runtime_checkable
class Density(Protocol):
    """A model with a tractable log-density."""

    def log_prob(self, x: Any) -> Any: ...


def contract_violations(cls: type) -> list[str]:
    """What ``cls`` (a model class) does differently from the contract, as sentences; an
    empty list when it follows it."""
    problems: list[str] = []
    if issubclass(cls, torch.nn.Module):
        params = inspect.signature(cls.__init__).parameters
        seed = params.get("seed")
        if seed is None:
            problems.append(f"{cls.__name__}.__init__ takes no seed")
        elif seed.default is not None or "None" not in str(seed.annotation):
            problems.append(f"{cls.__name__}.__init__ must take seed: int | None = None")
    if hasattr(cls, "sample"):
        params = inspect.signature(cls.sample).parameters
        gen = params.get("generator")
        if gen is None or gen.kind is not inspect.Parameter.KEYWORD_ONLY or gen.default is not None:
            problems.append(f"{cls.__name__}.sample must take a keyword-only generator=None")
        if "seed" in params:
            problems.append(f"{cls.__name__}.sample takes a seed; use generator")
    if hasattr(cls, "logprob"):
        problems.append(f"{cls.__name__} names its density logprob; use log_prob")
    return problems


def return_type_violations(fn: Callable[..., Any]) -> list[str]:
    """An ``evaluate_*`` function must be annotated to return ``float``."""
    ret = inspect.signature(fn).return_annotation
    if ret not in (float, "float"):
        return [f"{fn.__module__}.{fn.__name__} must return float, is annotated {ret!r}"]
    return []
