"""The MEXC face's spot account: balances per asset, spot orders, fills and trades.

Pure and deterministic like the perpetual engine: time comes in as integer ms and prices
come in as `Quotes` (the crowd's book of the same symbol, which the runtime reads from the
perpetual engine), so both faces trade on one market. Spot orders do not enter that book:
they take from the crowd's quotes without consuming them, and a resting spot order fills at
its own price once the crowd's best quote on the other side crosses it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum
from typing import Any

from titan_sim.core.instruments import Instrument
from titan_sim.core.model import ZERO, ExchangeError

# Fees (documented in the README): makers pay nothing, takers 0.05%, both charged in the
# asset the order receives (base for a buy, quote for a sell), so locks never need a margin.
MAKER_FEE_RATE = Decimal(0)
TAKER_FEE_RATE = Decimal("0.0005")
MAX_OPEN_ORDERS = 500
MIN_NOTIONAL = Decimal(1)  # quoteAmountPrecision: the smallest order value in USDT
MARKET_BAND = Decimal("0.05")  # a market order walks the book at most 5% from mid
PRICE_BAND = Decimal(5)  # a limit price must lie within [mid / 5, mid * 5]
CLIENT_ID = re.compile(r"^[A-Za-z0-9_\-:.]{1,64}$")

# MEXC spot error codes (MEXC's docs, "错误码"; ccxt's mapping in parentheses)
UNKNOWN_ORDER = -2011  # (BadRequest) unknown order, on query and on cancel
BAD_SYMBOL = -1121  # (BadSymbol)
INSUFFICIENT_BALANCE = 10101  # (InsufficientFunds)
INSUFFICIENT_POSITION = 30004  # (InsufficientFunds) not enough of the base asset to sell
BELOW_MINIMUM = 30002  # (InvalidOrder) below the minimum transaction volume
NO_VALID_PRICE = 30010  # (InvalidOrder) nothing to trade against
TRADING_DISABLED = 30016  # (InvalidOrder)
DUPLICATE_CLIENT_ID = 30026  # (BadRequest) "invalid order ids": a repeated newClientOrderId
MAX_ORDERS = 30029  # (InvalidOrder) over the maximum open orders
BAD_ORDER_TYPE = 30041  # (InvalidOrder)
PRICE_OUT_OF_RANGE = 30087  # (InvalidOrder)
BAD_PARAM = 33333  # (BadRequest)
MISSING_PARAM = 44444  # (BadRequest)
NO_ORDER_REF = 700004  # (BadRequest) neither orderId nor origClientOrderId


class SpotSide(StrEnum):
    BUY = "BUY"
    SELL = "SELL"


class SpotType(StrEnum):
    LIMIT = "LIMIT"
    MARKET = "MARKET"
    LIMIT_MAKER = "LIMIT_MAKER"
    IMMEDIATE_OR_CANCEL = "IMMEDIATE_OR_CANCEL"
    FILL_OR_KILL = "FILL_OR_KILL"


class SpotStatus(StrEnum):
    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    PARTIALLY_CANCELED = "PARTIALLY_CANCELED"


OPEN = frozenset({SpotStatus.NEW, SpotStatus.PARTIALLY_FILLED})
TIME_IN_FORCE = {
    SpotType.LIMIT: "GTC",
    SpotType.LIMIT_MAKER: "GTC",
    SpotType.MARKET: "IOC",
    SpotType.IMMEDIATE_OR_CANCEL: "IOC",
    SpotType.FILL_OR_KILL: "FOK",
}


SPOT_STEP_DIVISOR = 1000  # a spot symbol's quantity step is its contract's step / 1000


@dataclass(frozen=True)
class SpotSymbol:
    symbol: str
    base: str
    quote: str
    tick_size: Decimal
    qty_step: Decimal

    @classmethod
    def of(cls, instrument: Instrument) -> SpotSymbol:
        # spot quantities are far finer than a contract's (MEXC's BTCUSDT: 0.000001 BTC), so a
        # buy whose fee is taken in the coin bought can be sold in full
        return cls(
            instrument.symbol, instrument.base_coin, instrument.quote_coin, instrument.tick_size,
            instrument.qty_step / SPOT_STEP_DIVISOR,
        )  # fmt: skip

    @property
    def price_decimals(self) -> int:
        return _decimals(self.tick_size)

    @property
    def qty_decimals(self) -> int:
        return _decimals(self.qty_step)

    def truncate_qty(self, qty: Decimal) -> Decimal:
        return (qty / self.qty_step).to_integral_value(rounding=ROUND_DOWN) * self.qty_step


@dataclass(frozen=True)
class Quotes:
    """The crowd's book of one symbol right now, best level first on each side."""

    bids: list[tuple[Decimal, Decimal]]
    asks: list[tuple[Decimal, Decimal]]
    mid: Decimal
    trading: bool = True

    def taker_levels(self, side: SpotSide) -> list[tuple[Decimal, Decimal]]:
        return self.asks if side is SpotSide.BUY else self.bids


@dataclass
class SpotBalance:
    free: Decimal = ZERO
    locked: Decimal = ZERO


@dataclass
class SpotOrder:
    order_id: str
    client_order_id: str
    symbol: str
    side: SpotSide
    order_type: SpotType
    price: Decimal  # 0 for a market order
    orig_qty: Decimal  # 0 for a market order given by quoteOrderQty
    orig_quote_qty: Decimal
    time_ms: int
    seq: int
    status: SpotStatus = SpotStatus.NEW
    executed_qty: Decimal = ZERO
    cummulative_quote_qty: Decimal = ZERO
    update_ms: int = 0
    locked: Decimal = ZERO  # what this order still holds locked (quote for a buy, base for a sell)

    @property
    def remaining(self) -> Decimal:
        return self.orig_qty - self.executed_qty

    @property
    def is_open(self) -> bool:
        return self.status in OPEN


@dataclass(frozen=True)
class SpotTrade:
    trade_id: str
    order_id: str
    client_order_id: str
    symbol: str
    side: SpotSide
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    commission: Decimal
    commission_asset: str
    time_ms: int
    is_maker: bool
    seq: int


@dataclass(frozen=True)
class SpotPlaceOrder:
    """A new spot order. A market order gives `quantity` or `quote_order_qty`; the others
    `quantity` and `price`."""

    symbol: str
    side: SpotSide
    order_type: SpotType
    quantity: Decimal | None = None
    quote_order_qty: Decimal | None = None
    price: Decimal | None = None
    client_order_id: str = ""


@dataclass(frozen=True)
class SpotOrderRef:
    """One order of `symbol`, by the venue's id or the client's (an empty string: not given)."""

    symbol: str
    order_id: str = ""
    client_order_id: str = ""


@dataclass
class SpotReceived:
    """One order request as the face saw it, accepted or not (GET /sim/orders?venue=mexc).
    `sent` is the request as it arrived, kept verbatim for that view: the core never reads it."""

    seq: int
    received_ms: int
    sent: Mapping[str, Any]
    code: int = 0
    message: str = "OK"
    order: SpotOrder | None = None


@dataclass
class SpotAccount:
    symbols: dict[str, SpotSymbol]
    starting_quote: Decimal
    seed: int
    ids: str = ""  # this run's own ids (see ExchangeConfig.ids)
    balances: dict[str, SpotBalance] = field(default_factory=dict)
    orders: dict[str, SpotOrder] = field(default_factory=dict)
    by_client_id: dict[str, SpotOrder] = field(default_factory=dict)
    open_orders: dict[str, SpotOrder] = field(default_factory=dict)
    trades: list[SpotTrade] = field(default_factory=list)
    received: list[SpotReceived] = field(default_factory=list)
    _counter: int = 0

    def __post_init__(self) -> None:
        self.balances.setdefault("USDT", SpotBalance(free=self.starting_quote))
        self._id_prefix = hashlib.sha256(f"titan-sim-mexc:{self.seed}{self.ids}".encode()).hexdigest()[:16]

    # --- small helpers -------------------------------------------------------------------

    def _next_seq(self) -> int:
        self._counter += 1
        return self._counter

    def _new_id(self, seq: int) -> str:
        return f"{self._id_prefix}{seq:016x}"  # 32 hex digits, like MEXC's order ids

    def balance(self, asset: str) -> SpotBalance:
        return self.balances.setdefault(asset, SpotBalance())

    def spec(self, symbol: str) -> SpotSymbol:
        spec = self.symbols.get(symbol)
        if spec is None:
            raise ExchangeError(BAD_SYMBOL, "Invalid symbol.")
        return spec

    def set_balance(self, asset: str, free: Decimal) -> SpotBalance:
        """A control action: the account held `free` of `asset` before Titan started."""
        if not asset.isalnum() or not free.is_finite() or free < 0:
            raise ExchangeError(BAD_PARAM, "param is error: asset must be alphanumeric and free >= 0")
        held = self.balance(asset.upper())
        held.free = free
        return held

    def _lock(self, asset: str, amount: Decimal, code: int, order: SpotOrder) -> None:
        held = self.balance(asset)
        if held.free < amount:
            raise ExchangeError(
                code, "Insufficient balance" if code == INSUFFICIENT_BALANCE else "Insufficient position"
            )
        held.free -= amount
        held.locked += amount
        order.locked += amount

    def _release(self, order: SpotOrder, spec: SpotSymbol) -> None:
        asset = spec.quote if order.side is SpotSide.BUY else spec.base
        held = self.balance(asset)
        held.locked -= order.locked
        held.free += order.locked
        order.locked = ZERO

    # --- order entry ---------------------------------------------------------------------

    def place(
        self, request: SpotPlaceOrder, quotes: Quotes, now_ms: int, *, sent: Mapping[str, Any] | None = None
    ) -> SpotOrder:
        """A new order. Every request is recorded, accepted or refused (`sent`: as it arrived)."""
        record = SpotReceived(self._next_seq(), now_ms, dict(sent or {}))
        self.received.append(record)
        try:
            order = self._place(request, quotes, now_ms, record.seq)
        except ExchangeError as exc:
            record.code, record.message = exc.code, exc.message
            raise
        record.order = order
        return order

    def reject_received(self, sent: Mapping[str, Any], now_ms: int, code: int, message: str) -> None:
        """Log an order request that the face refused before it reached the account."""
        self.received.append(SpotReceived(self._next_seq(), now_ms, dict(sent), code, message))

    def _place(self, request: SpotPlaceOrder, quotes: Quotes, now_ms: int, seq: int) -> SpotOrder:
        symbol = request.symbol
        spec = self.spec(symbol)
        side, order_type = request.side, request.order_type
        client_id = request.client_order_id
        if client_id and not CLIENT_ID.match(client_id):
            raise ExchangeError(BAD_PARAM, "param is error: newClientOrderId must be 1-64 of [A-Za-z0-9_-:.]")
        if client_id and client_id in self.by_client_id:
            raise ExchangeError(
                DUPLICATE_CLIENT_ID, f"Duplicate newClientOrderId {client_id!r}: the order already exists"
            )
        if not quotes.trading:
            raise ExchangeError(TRADING_DISABLED, "trading disabled")
        if len(self.open_orders) >= MAX_OPEN_ORDERS and order_type in (SpotType.LIMIT, SpotType.LIMIT_MAKER):
            raise ExchangeError(MAX_ORDERS, f"Cannot exceed the maximum order limit of {MAX_OPEN_ORDERS}")
        qty, quote_qty, price = request.quantity, request.quote_order_qty, request.price
        if order_type is SpotType.MARKET:
            if (qty is None) == (quote_qty is None):
                raise ExchangeError(MISSING_PARAM, "param cannot be null: send quantity or quoteOrderQty")
            price = ZERO
        else:
            if qty is None or price is None:
                raise ExchangeError(MISSING_PARAM, "param cannot be null: quantity and price")
            quote_qty = None
            if price <= 0 or price % spec.tick_size or not quotes.mid / PRICE_BAND <= price <= quotes.mid * PRICE_BAND:
                raise ExchangeError(PRICE_OUT_OF_RANGE, "Order price exceeds allowed range")
        if qty is not None:
            if qty <= 0 or qty % spec.qty_step:
                raise ExchangeError(
                    BAD_PARAM, f"param is error: quantity must be a positive multiple of {spec.qty_step}"
                )
            value = qty * (price or quotes.mid)
            if value < MIN_NOTIONAL:
                raise ExchangeError(
                    BELOW_MINIMUM, f"The minimum transaction volume cannot be less than:{MIN_NOTIONAL}USDT"
                )
        if quote_qty is not None and quote_qty < MIN_NOTIONAL:
            raise ExchangeError(BELOW_MINIMUM, f"The minimum transaction volume cannot be less than:{MIN_NOTIONAL}USDT")
        order = SpotOrder(
            order_id=self._new_id(seq),
            client_order_id=client_id,
            symbol=symbol,
            side=side,
            order_type=order_type,
            price=price or ZERO,
            orig_qty=qty or ZERO,
            orig_quote_qty=quote_qty or ZERO,
            time_ms=now_ms,
            seq=seq,
            update_ms=now_ms,
        )
        if order_type is SpotType.MARKET:
            self._market(order, spec, quotes, now_ms)
        else:
            self._limit(order, spec, quotes, now_ms)
        self.orders[order.order_id] = order
        if client_id:
            self.by_client_id[client_id] = order
        if order.is_open:
            self.open_orders[order.order_id] = order
        return order

    def _market(self, order: SpotOrder, spec: SpotSymbol, quotes: Quotes, now_ms: int) -> None:
        """Walk the crowd's quotes up to the band; what is left is cancelled."""
        levels = _within(
            quotes.taker_levels(order.side), order.side, quotes.mid * (1 + MARKET_BAND), quotes.mid * (1 - MARKET_BAND)
        )
        if not levels:
            raise ExchangeError(NO_VALID_PRICE, "no valid trade price")
        by_quote = order.orig_quote_qty > 0
        plan = _walk(
            levels, spec, qty=None if by_quote else order.orig_qty, quote=order.orig_quote_qty if by_quote else None
        )
        cost = sum((p * q for p, q in plan), ZERO)
        base = sum((q for _, q in plan), ZERO)
        if order.side is SpotSide.BUY:
            # a market buy locks what it will spend: the whole quote amount, or the walk's cost
            self._lock(spec.quote, order.orig_quote_qty if by_quote else cost, INSUFFICIENT_BALANCE, order)
        else:
            self._lock(spec.base, base if by_quote else order.orig_qty, INSUFFICIENT_POSITION, order)
        for price, qty in plan:
            self._fill(order, spec, price, qty, now_ms, is_maker=False)
        filled_all = (order.executed_qty == order.orig_qty) if not by_quote else _quote_done(order, plan, levels, spec)
        self._finish(order, spec, SpotStatus.FILLED if filled_all else None, now_ms)

    def _limit(self, order: SpotOrder, spec: SpotSymbol, quotes: Quotes, now_ms: int) -> None:
        if order.side is SpotSide.BUY:
            self._lock(spec.quote, order.price * order.orig_qty, INSUFFICIENT_BALANCE, order)
        else:
            self._lock(spec.base, order.orig_qty, INSUFFICIENT_POSITION, order)
        levels = [(p, q) for p, q in quotes.taker_levels(order.side) if _crosses(order.side, order.price, p)]
        plan = _walk(levels, spec, qty=order.orig_qty, quote=None)
        taken = sum((q for _, q in plan), ZERO)
        if (order.order_type is SpotType.LIMIT_MAKER and levels) or (
            order.order_type is SpotType.FILL_OR_KILL and taken < order.orig_qty
        ):
            # a post-only order that would take, or a fill-or-kill that cannot fill whole,
            # is cancelled unfilled: it never rests
            self._finish(order, spec, SpotStatus.CANCELED, now_ms)
            return
        for price, qty in plan:
            self._fill(order, spec, price, qty, now_ms, is_maker=False)
        if order.order_type is SpotType.IMMEDIATE_OR_CANCEL and order.remaining > 0:
            self._finish(order, spec, None, now_ms)

    def _fill(
        self, order: SpotOrder, spec: SpotSymbol, price: Decimal, qty: Decimal, now_ms: int, *, is_maker: bool
    ) -> None:
        value = price * qty
        rate = MAKER_FEE_RATE if is_maker else TAKER_FEE_RATE
        base, quote = self.balance(spec.base), self.balance(spec.quote)
        if order.side is SpotSide.BUY:
            # a limit buy locked its own price per unit: a better price frees the difference
            unlock = order.price * qty if order.price else value
            quote.locked -= unlock
            quote.free += unlock - value
            order.locked -= unlock
            fee, fee_asset = qty * rate, spec.base
            base.free += qty - fee
        else:
            base.locked -= qty
            order.locked -= qty
            fee, fee_asset = value * rate, spec.quote
            quote.free += value - fee
        order.executed_qty += qty
        order.cummulative_quote_qty += value
        order.update_ms = now_ms
        seq = self._next_seq()
        self.trades.append(
            SpotTrade(
                trade_id=self._new_id(seq),
                order_id=order.order_id,
                client_order_id=order.client_order_id,
                symbol=order.symbol,
                side=order.side,
                price=price,
                qty=qty,
                quote_qty=value,
                commission=fee,
                commission_asset=fee_asset,
                time_ms=now_ms,
                is_maker=is_maker,
                seq=seq,
            )
        )
        if order.orig_qty and order.executed_qty >= order.orig_qty:
            self._finish(order, spec, SpotStatus.FILLED, now_ms)
        elif order.executed_qty > 0:
            order.status = SpotStatus.PARTIALLY_FILLED

    def _finish(self, order: SpotOrder, spec: SpotSymbol, status: SpotStatus | None, now_ms: int) -> None:
        """End an order: FILLED, or cancelled (PARTIALLY_CANCELED once anything filled)."""
        if status is None:
            status = SpotStatus.PARTIALLY_CANCELED if order.executed_qty > 0 else SpotStatus.CANCELED
        order.status = status
        order.update_ms = now_ms
        self._release(order, spec)
        self.open_orders.pop(order.order_id, None)

    # --- queries and cancels -------------------------------------------------------------

    def find(self, ref: SpotOrderRef) -> SpotOrder:
        symbol = ref.symbol
        self.spec(symbol)
        order_id, client_id = ref.order_id, ref.client_order_id
        if not order_id and not client_id:
            raise ExchangeError(
                NO_ORDER_REF, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!"
            )
        order = self.orders.get(order_id) if order_id else self.by_client_id.get(client_id)
        if order is None or order.symbol != symbol or (client_id and order.client_order_id != client_id):
            raise ExchangeError(UNKNOWN_ORDER, "Unknown order sent.")
        return order

    def cancel(self, ref: SpotOrderRef, now_ms: int) -> SpotOrder:
        order = self.find(ref)
        if not order.is_open:
            raise ExchangeError(UNKNOWN_ORDER, "Unknown order sent.")
        self._finish(order, self.spec(order.symbol), None, now_ms)
        return order

    def cancel_all(self, symbol: str, now_ms: int) -> list[SpotOrder]:
        spec = self.spec(symbol)
        cancelled = [o for o in self.open_orders.values() if o.symbol == symbol]
        for order in cancelled:
            self._finish(order, spec, None, now_ms)
        return cancelled

    def list_open(self, symbol: str | None) -> list[SpotOrder]:
        return [o for o in self.open_orders.values() if symbol is None or o.symbol == symbol]

    def list_orders(self, symbol: str, start_ms: int | None, end_ms: int | None, limit: int) -> list[SpotOrder]:
        rows = [
            o
            for o in self.orders.values()
            if o.symbol == symbol
            and (start_ms is None or o.time_ms >= start_ms)
            and (end_ms is None or o.time_ms <= end_ms)
        ]
        return sorted(rows, key=lambda o: o.seq)[-limit:]

    def list_trades(
        self, symbol: str, order_id: str | None, start_ms: int | None, end_ms: int | None, limit: int
    ) -> list[SpotTrade]:
        rows = [
            t
            for t in self.trades
            if t.symbol == symbol
            and (not order_id or t.order_id == order_id)
            and (start_ms is None or t.time_ms >= start_ms)
            and (end_ms is None or t.time_ms <= end_ms)
        ]
        return rows[-limit:]

    # --- the market moves ----------------------------------------------------------------

    def on_quotes(
        self, symbol: str, best_bid: Decimal | None, best_ask: Decimal | None, now_ms: int
    ) -> list[SpotOrder]:
        """Resting orders the crowd's quotes crossed fill whole at their own price, as makers."""
        spec = self.symbols.get(symbol)
        if spec is None:
            return []
        filled = []
        for order in sorted(self.list_open(symbol), key=lambda o: o.seq):
            other = best_ask if order.side is SpotSide.BUY else best_bid
            if other is not None and _crosses(order.side, order.price, other):
                self._fill(order, spec, order.price, order.remaining, now_ms, is_maker=True)
                filled.append(order)
        return filled


# --- pure helpers ------------------------------------------------------------------------


def _decimals(step: Decimal) -> int:
    exponent = step.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _crosses(side: SpotSide, limit: Decimal, other: Decimal) -> bool:
    """A buy at `limit` trades with an ask at `other` or below; a sell with a bid at or above."""
    return other <= limit if side is SpotSide.BUY else other >= limit


def _within(
    levels: list[tuple[Decimal, Decimal]], side: SpotSide, high: Decimal, low: Decimal
) -> list[tuple[Decimal, Decimal]]:
    return [(p, q) for p, q in levels if (p <= high if side is SpotSide.BUY else p >= low)]


def _walk(
    levels: list[tuple[Decimal, Decimal]], spec: SpotSymbol, *, qty: Decimal | None, quote: Decimal | None
) -> list[tuple[Decimal, Decimal]]:
    """The (price, qty) pieces that take `qty` of base, or spend/receive `quote`, best first."""
    plan: list[tuple[Decimal, Decimal]] = []
    left_qty, left_quote = qty, quote
    for price, available in levels:
        if left_qty is not None:
            take = min(available, left_qty)
            left_qty -= take
        else:
            assert left_quote is not None
            take = min(available, spec.truncate_qty(left_quote / price))
            left_quote -= take * price
        if take > 0:
            plan.append((price, take))
        if (left_qty is not None and left_qty <= 0) or take < available:
            break
    return plan


def _quote_done(
    order: SpotOrder, plan: list[tuple[Decimal, Decimal]], levels: list[tuple[Decimal, Decimal]], spec: SpotSymbol
) -> bool:
    """A quoteOrderQty order is done when what is left buys less than one step at the last price."""
    if not plan:
        return False
    left = order.orig_quote_qty - order.cummulative_quote_qty
    last_price = plan[-1][0]
    return left < last_price * spec.qty_step or len(plan) < len(levels)
