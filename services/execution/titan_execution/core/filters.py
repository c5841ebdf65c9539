"""Fitting an order to an instrument's filters: qty floored to the step, prices to the tick.

Pure Decimal arithmetic. A quantity is always floored (never round up into more risk than
was approved); a protective stop is rounded toward the entry's far side only within one
tick, i.e. to the nearest tick, because Bybit rejects off-tick prices outright.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal

from titan_common.exchanges.types import InstrumentFilters
from titan_common.reasons import ReasonCode


def floor_to_step(value: Decimal, step: Decimal) -> Decimal:
    if step <= 0:
        raise ValueError("step must be positive")
    return (value / step).to_integral_value(rounding=ROUND_DOWN) * step


def round_to_tick(price: Decimal, tick: Decimal) -> Decimal:
    if tick <= 0:
        raise ValueError("tick must be positive")
    return (price / tick).to_integral_value(rounding=ROUND_HALF_EVEN) * tick


@dataclass(frozen=True)
class FittedOrder:
    qty: Decimal
    price: Decimal | None
    stop_loss: Decimal | None
    take_profit: Decimal | None


@dataclass(frozen=True)
class FitRefused:
    reason: ReasonCode
    detail: str


def fit_order(
    filters: InstrumentFilters,
    *,
    qty: Decimal,
    reference_price: Decimal,
    price: Decimal | None = None,
    stop_loss: Decimal | None = None,
    take_profit: Decimal | None = None,
    is_market: bool = True,
    reduce_only: bool = False,
) -> FittedOrder | FitRefused:
    """Quantize an order; refuse it with a reason code when it cannot be placed as approved."""
    fitted_qty = floor_to_step(qty, filters.qty_step)
    cap = filters.max_market_qty if (is_market and filters.max_market_qty) else filters.max_qty
    if fitted_qty > cap:
        fitted_qty = floor_to_step(cap, filters.qty_step)
    if fitted_qty <= 0 or fitted_qty < filters.min_qty:
        return FitRefused(ReasonCode.SIZE_ZERO, f"qty {qty} floors to {fitted_qty} (min {filters.min_qty})")
    fitted_price = round_to_tick(price, filters.tick_size) if price is not None else None
    notional = fitted_qty * (fitted_price or reference_price)
    # Bybit exempts reduce-only closes from the minimum notional, so a dust remainder can always be closed.
    if not reduce_only and notional < filters.min_notional:
        return FitRefused(ReasonCode.BELOW_MIN_NOTIONAL, f"notional {notional} < min {filters.min_notional}")
    return FittedOrder(
        qty=fitted_qty,
        price=fitted_price,
        stop_loss=round_to_tick(stop_loss, filters.tick_size) if stop_loss is not None else None,
        take_profit=round_to_tick(take_profit, filters.tick_size) if take_profit is not None else None,
    )


def is_dust(size: Decimal, filters: InstrumentFilters) -> bool:
    """A size the venue will not take in one order: below its minimum once on its step."""
    fitted = floor_to_step(size, filters.qty_step)
    return fitted <= 0 or fitted < filters.min_qty
