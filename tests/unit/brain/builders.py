"""Signals, portfolios and markets for the brain's pure-core tests. No I/O."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

from titan_brain.core.types import Instrument, Market, OpenPosition, Portfolio
from titan_common.messages import Correlation, Side, Signal
from titan_common.system_state import Mode

NOW = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def signal(
    symbol: str = "BTCUSDT",
    side: Side = Side.BUY,
    entry: str = "100",
    stop: str = "98",
    targets: tuple[str, ...] = ("106",),
    *,
    ts_ms: int = NOW - 1_000,
    ttl_ms: int = 30_000,
    signal_id: str = "sig-1",
    **extra: Any,
) -> Signal:
    price = D(entry)
    return Signal(
        signal_id=signal_id,
        ts_ms=ts_ms,
        correlation=Correlation(run_id="unit"),
        source="scavenger",
        symbol=symbol,
        side=side,
        trap_type="LIQUIDATION",
        entry_price=price,
        entry_low=extra.pop("entry_low", price),
        entry_high=extra.pop("entry_high", price),
        stop_loss=D(stop),
        take_profits=tuple(D(t) for t in targets),
        confidence=extra.pop("confidence", D("0.8")),
        ttl_ms=ttl_ms,
        **extra,
    )


def position(symbol: str, side: Side = Side.BUY, size: str = "1", entry: str = "100", **extra: Any) -> OpenPosition:
    return OpenPosition(symbol=symbol, side=side, size=D(size), entry_price=D(entry), **extra)


def portfolio(
    equity: str | None = "10000",
    day_start: str | None = None,
    positions: tuple[OpenPosition, ...] = (),
    **extra: Any,
) -> Portfolio:
    values: dict[str, Any] = {
        "phase": 1,
        "performance_modifier": D(1),
        "system_mode": Mode.NORMAL,
        "master_armed": True,
        "breaker_active": False,
        **extra,
    }
    start = day_start if day_start is not None else equity
    return Portfolio(
        equity=D(equity) if equity is not None else None,
        day_start_equity=D(start) if start is not None else None,
        positions=positions,
        **values,
    )


def instrument(symbol: str = "BTCUSDT", min_notional: str = "5", qty_step: str = "0.001", **extra: Any) -> Instrument:
    return Instrument(symbol=symbol, min_notional=D(min_notional), qty_step=D(qty_step), min_qty=D(qty_step), **extra)


def market(**extra: Any) -> Market:
    values: dict[str, Any] = {"now_ms": NOW, **extra}
    return Market(**values)
