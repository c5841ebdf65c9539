"""The trap map and sensor status as the API, the WebSocket and titan:events show them."""

from __future__ import annotations

from decimal import Decimal

from titan_common.events import TrapView
from titan_scavenger.core.sprung import TrapBook
from titan_scavenger.core.traps import Trap, TrapMap
from titan_scavenger.runtime.market import MarketData

FOUR = Decimal("0.0001")


def _dec(value: float, places: Decimal = FOUR) -> Decimal:
    return Decimal(repr(value)).quantize(places)


def trap_view(trap: Trap, price: float | None, proximity_pct: float, cooldown_until_ms: int | None) -> TrapView:
    distance = proximity = None
    in_zone = False
    if price:
        signed = (float(trap.trigger) - price) / price * 100
        distance, proximity = _dec(signed), _dec(abs(signed))
        in_zone = abs(signed) <= proximity_pct
    return TrapView(
        trap_id=trap.trap_id,
        symbol=trap.symbol,
        trap_type=trap.trap_type.value,
        side=trap.side,
        trigger_price=trap.trigger,
        stop_loss=trap.stop,
        take_profits=trap.targets,
        confidence=_dec(trap.confidence),
        expected_move_pct=_dec(trap.expected_move_pct),
        quality=_dec(trap.quality, Decimal("0.000001")),
        price=Decimal(repr(price)) if price else None,
        distance_pct=distance,
        proximity_pct=proximity,
        in_zone=in_zone,
        cooldown_until_ms=cooldown_until_ms,
        detail=dict(trap.detail),
    )


def trap_views(trap_map: TrapMap, book: TrapBook, market: MarketData, proximity_pct: float) -> list[TrapView]:
    views = []
    for trap in trap_map.traps:
        live = market.tickers.get(trap.symbol)
        price = book.last_price(trap.symbol) or (live.last_price if live else None) or trap.reference_price
        views.append(trap_view(trap, price, proximity_pct, book.cooldown_until(trap)))
    return views
