"""What the scavenger's pure logic reads about a market: bars and one symbol's snapshot.

Indicators are statistics, so the analytics run on floats; every price that leaves the
scavenger (a trap's trigger, stop and targets, a signal's entry) is a Decimal quantized to
the instrument's tick size.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

from titan_common.exchanges.types import LiveBar

MINUTE_MS = 60_000
BAR_MS = 15 * MINUTE_MS  # the trap map's bar interval (Bybit interval "15")
DAY_MS = 86_400_000


# a bar of the trap map: the stream's own (start_ms, open, high, low, close, volume) in floats
Bar = LiveBar


@dataclass(frozen=True)
class SymbolMarket:
    """Everything the trap map knows of one symbol when it is built."""

    symbol: str
    tick_size: Decimal
    last_price: float
    bars: tuple[Bar, ...]  # BAR_MS bars, oldest first; the last one may still be open
    index_price: float | None = None  # None: the venue gives none (BASIS is then absent)
    funding_rate: float | None = None  # the current (predicted) rate; None: FUNDING_SQUEEZE absent
    funding_history: tuple[float, ...] = ()  # settled rates, oldest first
    oi_samples: tuple[tuple[int, float], ...] = ()  # (ts_ms, open interest), oldest first
    price_samples: tuple[tuple[int, float], ...] = ()  # (ts_ms, last price), oldest first


def to_tick(value: float | Decimal, tick: Decimal, rounding: str = ROUND_HALF_EVEN) -> Decimal:
    """A price on the instrument's tick grid, never below one tick."""
    number = value if isinstance(value, Decimal) else Decimal(repr(value))
    if tick <= 0:
        return number
    steps = (number / tick).to_integral_value(rounding=rounding)
    return max(steps, Decimal(1)) * tick


def tick_down(value: float | Decimal, tick: Decimal) -> Decimal:
    return to_tick(value, tick, ROUND_FLOOR)


def tick_up(value: float | Decimal, tick: Decimal) -> Decimal:
    return to_tick(value, tick, ROUND_CEILING)


def rebuild_at(built_ms: int | None, trade_ts_ms: int, interval_ms: int) -> int | None:
    """The market minute to rebuild the trap map at, before a trade at `trade_ts_ms` is read,
    or None while the map built at `built_ms` still stands.

    The schedule follows the feed's own clock (exchange time), not the wall: a map is built
    on the minute boundary, from the bars and prices of the minutes before it. Live, a
    replay at any speed and `titan backtest` therefore build the same maps at the same
    market moments."""
    minute = trade_ts_ms - trade_ts_ms % MINUTE_MS
    if built_ms is None or minute - built_ms >= interval_ms:
        return minute
    return None
