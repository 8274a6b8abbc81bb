"""What serving a model costs: per-token prices from measured throughput, and break-even.

* :func:`cost_per_million_tokens` -- a machine rented at ``price_per_hour`` that generates
  ``tokens_per_second`` while busy, and is busy a fraction ``utilization`` of the hours
  paid for, costs ``price_per_hour / (3600 * tokens_per_second * utilization) * 1e6``
  dollars per million generated tokens;
* :func:`decode_tokens_per_second` -- an estimate for a model that cannot be measured
  here: decoding one token costs about ``2 N`` floating-point operations for ``N``
  parameters (Kaplan et al. 2020), so a device sustaining ``flops`` per second at model
  FLOP utilisation ``mfu`` decodes about ``mfu * flops / (2 N)`` tokens per second per
  sequence times the batch; :func:`memory_bound_tokens_per_second` is the other limit
  (each decoding step reads every weight once), which is the tighter one for small batches;
* :func:`break_even_tokens` -- the monthly volume above which a fixed-price server beats
  a per-token API.

Every price is an assumption the caller states (:class:`Assumption`); nothing here knows
today's prices.

Used in: chapter 9.
"""

from __future__ import annotations

from dataclasses import dataclass

from genai_course.core.checks import check_number

SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True)
class Assumption:
    """A number a cost table depends on, with its unit and where it comes from."""

    name: str
    value: float
    unit: str
    source: str


def cost_per_million_tokens(tokens_per_second: float, price_per_hour: float,
                            utilization: float = 1.0) -> float:
    """Dollars per million generated tokens (see the module docstring)."""
    tokens_per_second = check_number(tokens_per_second, "tokens_per_second", positive=True)
    price_per_hour = check_number(price_per_hour, "price_per_hour")
    utilization = check_number(utilization, "utilization", positive=True)
    if utilization > 1:
        raise ValueError(f"utilization must be in (0, 1], got {utilization}")
    return price_per_hour / (SECONDS_PER_HOUR * tokens_per_second * utilization) * 1e6


def decode_tokens_per_second(n_params: float, flops: float, mfu: float = 0.3,
                             batch: int = 1) -> float:
    """Compute-bound decoding speed ``batch * mfu * flops / (2 n_params)`` (an upper bound)."""
    n_params = check_number(n_params, "n_params", positive=True)
    return batch * check_number(mfu, "mfu") * check_number(flops, "flops") / (2.0 * n_params)


def break_even_tokens(fixed_cost: float, api_price_per_million: float,
                      own_price_per_million: float = 0.0) -> float:
    """Tokens per period above which paying ``fixed_cost`` per period (a reserved server)
    plus ``own_price_per_million`` beats the API's ``api_price_per_million``; ``inf`` when
    the API is never more expensive."""
    fixed_cost = check_number(fixed_cost, "fixed_cost")
    saving = check_number(api_price_per_million, "api_price_per_million") - \
        check_number(own_price_per_million, "own_price_per_million")
    return float("inf") if saving <= 0 else fixed_cost / saving * 1e6


def memory_bound_tokens_per_second(n_params: float, bandwidth: float,
                                   bytes_per_param: float = 2.0, batch: int = 1) -> float:
    """Bandwidth-bound decoding speed: every decoding step reads all the weights once
    (``bytes_per_param * n_params`` bytes) for the whole batch, so at most
    ``batch * bandwidth / (bytes_per_param * n_params)`` tokens per second."""
    weights = check_number(n_params, "n_params", positive=True) * \
        check_number(bytes_per_param, "bytes_per_param", positive=True)
    return batch * check_number(bandwidth, "bandwidth") / weights
