"""Crafted bar series for the trap detectors' tests."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from titan_scavenger.core.market import BAR_MS, DAY_MS, Bar, SymbolMarket

# a Monday 00:00 UTC; "now" in these tests is 12:00 the same day
DAY_START = 1_700_438_400_000
NOW = DAY_START + DAY_MS // 2


def bar(i: int, close: float, *, spread: float = 0.1, volume: float = 10.0, start: int | None = None) -> Bar:
    """A bar around `close` whose high-low range is +-spread."""
    start_ms = start if start is not None else NOW - (200 - i) * BAR_MS
    return Bar(start_ms, close, close + spread, close - spread, close, volume)


def flat_bars(count: int, price: float = 100.0, *, spread: float = 0.1, volume: float = 10.0) -> list[Bar]:
    """`count` bars ending with the one open at NOW."""
    first = NOW // BAR_MS * BAR_MS - (count - 1) * BAR_MS
    return [Bar(first + i * BAR_MS, price, price + spread, price - spread, price, volume) for i in range(count)]


def market(
    bars: Sequence[Bar],
    last_price: float = 100.0,
    *,
    tick: str = "0.01",
    **extra: object,
) -> SymbolMarket:
    return SymbolMarket(
        symbol="BTCUSDT",
        tick_size=Decimal(tick),
        last_price=last_price,
        bars=tuple(bars),
        **extra,  # type: ignore[arg-type]
    )


def restamp(bars: Sequence[Bar]) -> list[Bar]:
    """The same bars, consecutive, the last one open at NOW."""
    first = NOW // BAR_MS * BAR_MS - (len(bars) - 1) * BAR_MS
    return [Bar(first + i * BAR_MS, b.open, b.high, b.low, b.close, b.volume) for i, b in enumerate(bars)]
