"""Public trades: the tape, the candles and the last price all learn of them."""

from __future__ import annotations

from decimal import Decimal

from titan_sim.core.model import PublicTrade, Side
from titan_sim.core.state import VenueState


def print_trade(
    state: VenueState,
    symbol: str,
    taker_side: Side,
    price: Decimal,
    qty: Decimal,
    now_ms: int,
    piece: Decimal | None = None,
) -> None:
    """One trade on the tape. With `piece`, it prints as several trades of at most that size
    (a crowd of takers)."""
    market = state.markets[symbol]
    inst = market.instrument
    last = market.last_price
    if price > last:
        direction = "PlusTick"
    elif price < last:
        direction = "MinusTick"
    else:
        direction = "ZeroPlusTick" if market.tick_direction in ("PlusTick", "ZeroPlusTick") else "ZeroMinusTick"
    market.last_price = price
    state.klines[symbol].add_trade(price, qty, now_ms)
    price_text = inst.fmt_price(price)
    sizes = [qty] if piece is None or piece >= qty else _split(qty, piece)
    tape = state.recent_trades[symbol]
    out = state.outbox.trades.setdefault(symbol, [])
    piece_text = inst.fmt_qty(sizes[0])
    for size in sizes:
        market.seq += 1
        text = piece_text if size == sizes[0] else inst.fmt_qty(size)
        trade = PublicTrade(state.new_id(), symbol, taker_side, price, size, now_ms, direction, market.seq,
                            price_text, text)  # fmt: skip
        tape.append(trade)
        out.append(trade)
        direction = "ZeroPlusTick" if direction in ("PlusTick", "ZeroPlusTick") else "ZeroMinusTick"
    market.tick_direction = direction


def _split(qty: Decimal, piece: Decimal) -> list[Decimal]:
    whole, rest = divmod(qty, piece)
    sizes = [piece] * int(whole)
    if rest:
        sizes.append(rest)
    return sizes
