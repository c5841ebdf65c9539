"""Candles: 1-minute bars built from trades; every longer interval is aggregated from them."""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from titan_sim.core.model import ZERO

MINUTE_MS = 60_000
INTERVAL_MINUTES: dict[str, int] = {
    "1": 1, "3": 3, "5": 5, "15": 15, "30": 30, "60": 60, "120": 120, "240": 240, "360": 360, "720": 720,
    "D": 1440, "W": 10080,
}  # fmt: skip
INTERVALS = (*INTERVAL_MINUTES, "M")
# Bybit's weekly bars start on Monday 00:00 UTC; the epoch was a Thursday.
_WEEK_OFFSET_MS = 4 * 86_400_000


@dataclass(slots=True)
class Candle:
    start: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal = ZERO
    turnover: Decimal = ZERO

    def add(self, price: Decimal, qty: Decimal) -> None:
        if price > self.high:
            self.high = price
        if price < self.low:
            self.low = price
        self.close = price
        self.volume += qty
        self.turnover += price * qty


def interval_ms(interval: str) -> int:
    return INTERVAL_MINUTES[interval] * MINUTE_MS


def bucket_start(interval: str, t_ms: int) -> int:
    if interval == "M":
        moment = datetime.fromtimestamp(t_ms / 1000, tz=UTC)
        return int(datetime(moment.year, moment.month, 1, tzinfo=UTC).timestamp() * 1000)
    size = interval_ms(interval)
    if interval == "W":
        return (t_ms - _WEEK_OFFSET_MS) // size * size + _WEEK_OFFSET_MS
    return t_ms // size * size


def bucket_end(interval: str, start: int) -> int:
    """Last millisecond of the bar that starts at `start`."""
    if interval == "M":
        moment = datetime.fromtimestamp(start / 1000, tz=UTC)
        year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
        return int(datetime(year, month, 1, tzinfo=UTC).timestamp() * 1000) - 1
    return start + interval_ms(interval) - 1


class KlineSeries:
    """One symbol's 1-minute bars, contiguous (a minute without trades is a flat bar)."""

    def __init__(self) -> None:
        self.minutes: list[Candle] = []
        self.starts: list[int] = []

    def load(self, candles: list[Candle]) -> None:
        self.minutes = candles
        self.starts = [c.start for c in candles]

    def _roll_to(self, minute: int, price: Decimal) -> Candle:
        if not self.minutes:
            candle = Candle(minute, price, price, price, price)
            self.minutes.append(candle)
            self.starts.append(minute)
            return candle
        last = self.minutes[-1]
        while last.start < minute:
            close = last.close
            last = Candle(last.start + MINUTE_MS, close, close, close, close)
            self.minutes.append(last)
            self.starts.append(last.start)
        return last

    def add_trade(self, price: Decimal, qty: Decimal, t_ms: int) -> None:
        minute = t_ms // MINUTE_MS * MINUTE_MS
        if self.minutes and minute < self.minutes[-1].start:
            minute = self.minutes[-1].start  # a late print lands in the open bar
        self._roll_to(minute, price).add(price, qty)

    def put(self, candle: Candle, span_ms: int = MINUTE_MS) -> None:
        """A recorded bar (of `span_ms`) in place of whatever its trades built (replay)."""
        at = bisect.bisect_left(self.starts, candle.start)
        end = bisect.bisect_left(self.starts, candle.start + span_ms)
        self.minutes[at:end] = [candle]
        self.starts[at:end] = [candle.start]

    def advance(self, t_ms: int) -> None:
        """Open flat bars up to `t_ms` when no trade arrived (fast clock, closed market)."""
        if self.minutes:
            self._roll_to(t_ms // MINUTE_MS * MINUTE_MS, self.minutes[-1].close)

    def query(self, interval: str, start: int | None, end: int | None, limit: int) -> list[Candle]:
        """Bars of `interval`, newest first, within [start, end] by bar start."""
        if not self.minutes:
            return []
        hi_ms = end if end is not None else self.minutes[-1].start
        hi = bisect.bisect_right(self.starts, hi_ms)
        if interval == "1":
            lo = bisect.bisect_left(self.starts, start) if start is not None else 0
            lo = max(lo, hi - limit)
            return self.minutes[lo:hi][::-1]
        bars: list[Candle] = []
        index = hi - 1
        while index >= 0 and len(bars) < limit:
            bar_start = bucket_start(interval, self.minutes[index].start)
            if start is not None and bar_start < start:
                break
            lo = bisect.bisect_left(self.starts, bar_start, 0, index + 1)
            bars.append(merge(bar_start, self.minutes[lo : index + 1]))
            index = lo - 1
        return bars

    def window(self, since_ms: int) -> list[Candle]:
        lo = bisect.bisect_left(self.starts, since_ms)
        return self.minutes[lo:]


def merge(start: int, minutes: list[Candle]) -> Candle:
    first = minutes[0]
    bar = Candle(start, first.open, first.high, first.low, minutes[-1].close)
    for m in minutes:
        if m.high > bar.high:
            bar.high = m.high
        if m.low < bar.low:
            bar.low = m.low
        bar.volume += m.volume
        bar.turnover += m.turnover
    return bar
