"""One symbol's order book: synthetic market-maker liquidity plus resting user orders.

Each price level holds a synthetic quantity (the simulated crowd) and a FIFO of user
orders. Takers match user orders at a level before the synthetic quantity: the crowd's
quantity is re-drawn all the time, so a queue position behind it would mean nothing, and
this way a user's order at the touch fills on the next flow through that price.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from decimal import Decimal

from titan_sim.core.model import ZERO, Order, Side


@dataclass(slots=True)
class Level:
    price: Decimal
    synthetic: Decimal = ZERO
    orders: list[Order] = field(default_factory=list)

    def total(self) -> Decimal:
        if not self.orders:
            return self.synthetic
        return self.synthetic + sum((o.leaves_qty for o in self.orders), ZERO)

    def is_empty(self) -> bool:
        return self.synthetic <= 0 and not self.orders


@dataclass(frozen=True, slots=True)
class Fill:
    price: Decimal
    qty: Decimal
    maker: Order | None  # None: the synthetic crowd


class OrderBook:
    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.bids: dict[Decimal, Level] = {}
        self.asks: dict[Decimal, Level] = {}
        # ascending in both cases; the best bid is the last element, the best ask the first
        self.bid_prices: list[Decimal] = []
        self.ask_prices: list[Decimal] = []
        self.version = 0  # bumped on every change; REST and WS report it as `u`

    # --- structure -------------------------------------------------------------------

    def _side(self, side: Side) -> tuple[dict[Decimal, Level], list[Decimal]]:
        return (self.bids, self.bid_prices) if side is Side.BUY else (self.asks, self.ask_prices)

    def _level(self, side: Side, price: Decimal) -> Level:
        levels, prices = self._side(side)
        level = levels.get(price)
        if level is None:
            level = Level(price)
            levels[price] = level
            bisect.insort(prices, price)
        return level

    def _drop_if_empty(self, side: Side, level: Level) -> None:
        if level.is_empty():
            levels, prices = self._side(side)
            del levels[level.price]
            index = bisect.bisect_left(prices, level.price)
            del prices[index]

    def best_bid(self) -> Decimal | None:
        return self.bid_prices[-1] if self.bid_prices else None

    def best_ask(self) -> Decimal | None:
        return self.ask_prices[0] if self.ask_prices else None

    def prices(self, side: Side) -> list[Decimal]:
        """Prices of one side, best first."""
        _levels, prices = self._side(side)
        return prices[::-1] if side is Side.BUY else list(prices)

    def depth(self, side: Side, n: int) -> list[tuple[Decimal, Decimal]]:
        """The best n levels of one side as (price, total qty), best first."""
        levels, prices = self._side(side)
        chosen = prices[-n:][::-1] if side is Side.BUY else prices[:n]
        return [(p, levels[p].total()) for p in chosen]

    def level(self, side: Side, price: Decimal) -> Level | None:
        levels, _prices = self._side(side)
        return levels.get(price)

    # --- synthetic liquidity ---------------------------------------------------------

    def set_synthetic(self, side: Side, price: Decimal, qty: Decimal) -> None:
        levels, _prices = self._side(side)
        if qty <= 0 and price not in levels:
            return
        level = self._level(side, price)
        level.synthetic = max(qty, ZERO)
        self.version += 1
        self._drop_if_empty(side, level)

    def clear_synthetic_beyond(self, side: Side, keep: int) -> None:
        """Remove synthetic quantity from every level past the best `keep` ones."""
        levels, prices = self._side(side)
        far = prices[:-keep] if side is Side.BUY else prices[keep:]
        for price in far:
            level = levels[price]
            if level.synthetic > 0:
                level.synthetic = ZERO
                self.version += 1
                self._drop_if_empty(side, level)

    # --- user orders -----------------------------------------------------------------

    def add_order(self, order: Order, price: Decimal) -> None:
        self._level(order.side, price).orders.append(order)
        self.version += 1

    def remove_order(self, order: Order, price: Decimal) -> None:
        level = self.level(order.side, price)
        if level is None or order not in level.orders:
            return
        level.orders.remove(order)
        self.version += 1
        self._drop_if_empty(order.side, level)

    def sweep(self, maker_side: Side, beyond: Decimal) -> list[Fill]:
        """The market moved through `beyond`: every user order on the wrong side of it fills
        at its own price, and the crowd's quotes there are pulled."""
        levels, prices = self._side(maker_side)
        if maker_side is Side.BUY:
            crossed = prices[bisect.bisect_right(prices, beyond) :][::-1]
        else:
            crossed = prices[: bisect.bisect_left(prices, beyond)]
        fills: list[Fill] = []
        for price in crossed:
            level = levels[price]
            fills.extend(Fill(price, o.leaves_qty, o) for o in level.orders)
            level.orders.clear()
            level.synthetic = ZERO
            self._drop_if_empty(maker_side, level)
        if crossed:
            self.version += 1
        return fills

    # --- matching --------------------------------------------------------------------

    def fillable(self, taker_side: Side, limit: Decimal | None) -> Decimal:
        """How much a taker could fill right now, up to an optional limit price."""
        maker_side = taker_side.opposite
        total = ZERO
        for price in self.prices(maker_side):
            if limit is not None and _beyond(taker_side, price, limit):
                break
            total += self._side(maker_side)[0][price].total()
        return total

    def match(self, taker_side: Side, qty: Decimal, limit: Decimal | None) -> list[Fill]:
        """Take liquidity best price first. Fully consumed user orders leave the book here;
        the caller applies each fill to its maker order before anyone reads the book again."""
        maker_side = taker_side.opposite
        levels, prices = self._side(maker_side)
        fills: list[Fill] = []
        remaining = qty
        while remaining > 0 and prices:
            price = prices[-1] if maker_side is Side.BUY else prices[0]
            if limit is not None and _beyond(taker_side, price, limit):
                break
            level = levels[price]
            while remaining > 0 and level.orders:
                maker = level.orders[0]
                take = min(remaining, maker.leaves_qty)
                fills.append(Fill(price, take, maker))
                remaining -= take
                if take == maker.leaves_qty:
                    level.orders.pop(0)
                else:
                    break
            if remaining > 0 and level.synthetic > 0:
                take = min(remaining, level.synthetic)
                fills.append(Fill(price, take, None))
                level.synthetic -= take
                remaining -= take
            self.version += 1
            self._drop_if_empty(maker_side, level)
        return fills


def _beyond(taker_side: Side, price: Decimal, limit: Decimal) -> bool:
    """True when a maker price is worse than the taker's limit."""
    return price > limit if taker_side is Side.BUY else price < limit
