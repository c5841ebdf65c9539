"""Pure helpers the venues' parsing.py modules share: numbers sent as text, and the kline
row every venue lays out alike. No venue's field names here: those stay in its folder."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from titan_common.exchanges.types import Kline


def dec(value: Any, default: Decimal | None = None, *, lenient: bool = False) -> Decimal | None:
    """A number sent as a string (or a JSON number); None and "" give `default`. Text that is
    no number raises, or with `lenient` gives `default` too."""
    if value is None or value == "":
        return default
    try:
        return Decimal(str(value))
    except InvalidOperation:
        if lenient:
            return default
        raise


def dec0(value: Any, *, lenient: bool = False) -> Decimal:
    """The number, or 0 where there is none."""
    return dec(value, Decimal(0), lenient=lenient) or Decimal(0)


def price_or_none(value: Any, *, lenient: bool = False) -> Decimal | None:
    """A price, or None where there is none (venues send "0" or "" for an absent price)."""
    parsed = dec(value, lenient=lenient)
    return parsed if parsed else None


def kline_row(row: list[Any], *, turnover_at: int, lenient: bool = False) -> Kline:
    """A REST kline row [start, open, high, low, close, volume, ...], its turnover (quote
    volume) at `turnover_at` where the row is that long, else 0."""
    return Kline(
        start_ms=int(row[0]),
        open=dec0(row[1], lenient=lenient),
        high=dec0(row[2], lenient=lenient),
        low=dec0(row[3], lenient=lenient),
        close=dec0(row[4], lenient=lenient),
        volume=dec0(row[5], lenient=lenient),
        turnover=dec0(row[turnover_at], lenient=lenient) if len(row) > turnover_at else Decimal(0),
    )


def oldest_first(klines: Iterable[Kline]) -> list[Kline]:
    """Titan keeps series oldest first, whatever order the venue answered in."""
    return sorted(klines, key=lambda k: k.start_ms)
