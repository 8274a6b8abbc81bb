"""Training compute, energy and CO2, with a range for every assumption.

* Compute: ``C = 6 N D`` FLOPs for ``N`` parameters and ``D`` training tokens (Kaplan et al.
  2020, section 2.1; :func:`~genai_course.llm.transformer.training_flops`), or counted
  by PyTorch's ``FlopCounterMode`` for one training step (:func:`step_flops`).
* Energy from compute: ``C / (peak FLOP/s x utilisation) x board power x PUE``; energy from
  measured seconds: ``seconds x power``.
* CO2: energy x the grid's carbon intensity.

Each assumption is a :class:`Estimate` (low, central, high) and every result carries the
range the assumptions span (the low end combines the favourable ends). Nothing falls back
silently: a checkpoint whose training time was not recorded has no measured energy.
Reference points: Strubell et al. 2019; Patterson et al. 2021 (GPT-3: 1,287 MWh and 552 t
CO2e); Touvron et al. 2023 (LLaMA 2 70B: 1,720,320 A100-hours, 291 t CO2e).

Used in: chapter 10.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.utils.flop_counter import FlopCounterMode


@dataclass(frozen=True)
class Estimate:
    """A quantity as ``(low, central, high)`` in ``unit``."""

    low: float
    central: float
    high: float
    unit: str = ""

    def __post_init__(self) -> None:
        if not self.low <= self.central <= self.high:
            raise ValueError(f"need low <= central <= high, got {self.low}, {self.central}, "
                             f"{self.high}")

    def __str__(self) -> str:
        return f"{self.central:.3g} {self.unit} ({self.low:.2g} to {self.high:.2g})".strip()


#: Fraction of the accelerator's peak that training achieves (model FLOPs utilisation):
#: about 20% for GPT-3 on V100s (implied by Patterson et al. 2021), 46% for PaLM on TPUs
#: (Chowdhery et al. 2022).
UTILISATION = Estimate(0.2, 0.35, 0.5)
#: Power usage effectiveness: the data centre's total power over the computers' (efficient
#: hyperscale centres about 1.1, the industry average about 1.5-1.6).
PUE = Estimate(1.1, 1.2, 1.6)
#: Carbon intensity of electricity, kg CO2e per kWh: hydro or nuclear grids about 0.05, the
#: world average about 0.45, coal-heavy grids 0.8 and more.
GRID_KG_PER_KWH = Estimate(0.05, 0.4, 0.8, "kg/kWh")
#: Power of two busy laptop or desktop CPU cores with their memory, in watts.
CPU_WATTS = Estimate(10.0, 25.0, 45.0, "W")
#: Dense 16-bit tensor peak (FLOP/s) and board power (W) of data-centre accelerators.
ACCELERATORS: dict[str, tuple[float, float]] = {
    "V100": (125e12, 300.0), "A100": (312e12, 400.0), "H100": (989e12, 700.0)}

#: Large models with published sizes (and training compute where the paper gives it).
LARGE_MODELS: tuple[dict[str, object], ...] = (
    {"name": "GPT-3 175B", "params": 175e9, "tokens": 300e9, "published_flops": 3.14e23,
     "source": "Brown et al. 2020, table D.1"},
    {"name": "Chinchilla 70B", "params": 70e9, "tokens": 1.4e12, "published_flops": 5.76e23,
     "source": "Hoffmann et al. 2022, table 3"},
    {"name": "LLaMA 2 70B", "params": 70e9, "tokens": 2.0e12, "published_flops": None,
     "source": "Touvron et al. 2023 (1,720,320 A100-hours)"},
)


def energy_from_flops(flops: float, accelerator: str = "A100") -> Estimate:
    """kWh to compute ``flops`` on ``accelerator`` (:data:`ACCELERATORS`), over the ranges
    of :data:`UTILISATION` and :data:`PUE`."""
    if accelerator not in ACCELERATORS:
        raise ValueError(f"accelerator must be one of {sorted(ACCELERATORS)}, got "
                         f"{accelerator!r}")
    if not (math.isfinite(flops) and flops >= 0):
        raise ValueError(f"flops must be finite and >= 0, got {flops}")
    peak, watts = ACCELERATORS[accelerator]

    def kwh(utilisation: float, pue: float) -> float:
        return flops / (peak * utilisation) * watts * pue / 3.6e6

    return Estimate(kwh(UTILISATION.high, PUE.low), kwh(UTILISATION.central, PUE.central),
                    kwh(UTILISATION.low, PUE.high), "kWh")


def energy_from_seconds(seconds: float, watts: Estimate = CPU_WATTS) -> Estimate:
    """kWh used by ``seconds`` of computing at ``watts`` (a range)."""
    if not (math.isfinite(seconds) and seconds >= 0):
        raise ValueError(f"seconds must be finite and >= 0, got {seconds}")
    return Estimate(seconds * watts.low / 3.6e6, seconds * watts.central / 3.6e6,
                    seconds * watts.high / 3.6e6, "kWh")


def co2_kg(kwh: Estimate, grid: Estimate = GRID_KG_PER_KWH) -> Estimate:
    """kg CO2e of ``kwh`` on a grid of carbon intensity ``grid`` (kg per kWh)."""
    return Estimate(kwh.low * grid.low, kwh.central * grid.central, kwh.high * grid.high, "kg")


def step_flops(step: Callable[[], torch.Tensor]) -> int:
    """FLOPs of one training step, counted by PyTorch's ``FlopCounterMode`` (matrix products
    and convolutions): ``step()`` computes a loss, which is then back-propagated."""
    with FlopCounterMode(display=False) as counter:
        step().backward()
    return int(counter.get_total_flops())
