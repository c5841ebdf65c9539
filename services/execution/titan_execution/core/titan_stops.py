"""Stops Titan keeps itself, for a venue that has no stop orders (MEXC spot).

Pure: the runtime (runtime/titan_stops.py) polls the venue's price at least once a second
and hands it here with the book; the answer is which positions to close now, and whether
the price feed is too old to protect anything (then the venue runs in DEGRADE).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from titan_common.messages import Side
from titan_execution.core.positions import Position


@dataclass(frozen=True)
class StopHit:
    symbol: str
    side: Side  # the position's side
    size: Decimal
    stop: Decimal
    price: Decimal


def stop_crossed(side: Side, stop: Decimal, price: Decimal) -> bool:
    """A long's stop is crossed at or below it; a short's at or above it."""
    return price <= stop if side is Side.BUY else price >= stop


def crossed_stops(positions: Iterable[Position], prices: Mapping[str, Decimal]) -> list[StopHit]:
    """The open positions whose stop the venue's price has reached."""
    hits = []
    for position in positions:
        price = prices.get(position.symbol)
        if position.is_flat or position.side is None or position.stop_loss is None or price is None:
            continue
        if stop_crossed(position.side, position.stop_loss, price):
            hits.append(StopHit(position.symbol, position.side, position.size, position.stop_loss, price))
    return hits


def feed_is_stale(last_price_ms: int | None, now_ms: int, max_age_ms: int) -> bool:
    """No price yet, or the newest is older than `max_age_ms`: stops cannot act on it."""
    return last_price_ms is None or now_ms - last_price_ms > max_age_ms
