"""The venue: order entry, matching, triggers, funding, liquidation and the synthetic market.

Pure and deterministic: every method takes the (simulated) time as integer ms, every random
draw comes from a per-symbol `random.Random` seeded from the configured seed, and nothing
here does I/O. The runtime calls in, then drains `Outbox` to push what changed.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from titan_common.replay import RecordedKline, ReplayTrade
from titan_sim.core.account import (
    TAKER_FEE_RATE,
    Account,
    Position,
    fee_for,
    opening_qty,
)
from titan_sim.core.book import Fill, OrderBook
from titan_sim.core.instruments import Instrument, instrument_for
from titan_sim.core.klines import Candle, KlineSeries
from titan_sim.core.market import MarketState, backfill_minutes, make_market
from titan_sim.core.model import (
    ZERO,
    ExchangeError,
    Execution,
    FundingRecord,
    Order,
    OrderStatus,
    OrderType,
    PublicTrade,
    Side,
    TimeInForce,
)

FUNDING_INTERVAL_MS = 8 * 3_600_000
MARKET_BAND = Decimal("0.05")  # a market order walks the book at most 5% from mark
LINK_ID = re.compile(r"^[A-Za-z0-9_-]{1,36}$")
RECENT_TRADES = 1000
BIG = Decimal(10) ** 12

# retCodes (see docs/bybit-v5-notes.md)
BAD_PARAM = 10001
ORDER_NOT_FOUND = 110001
INSUFFICIENT_BALANCE = 110007
ORDER_FINISHED = 110008
QTY_ZERO = 110017
LEVERAGE_NOT_MODIFIED = 110043
DUPLICATE_LINK_ID = 110072
NOTIONAL_TOO_SMALL = 110094
TPSL_NOT_MODIFIED = 34040


@dataclass(frozen=True)
class ExchangeConfig:
    seed: int
    symbols: tuple[str, ...]
    balance: Decimal
    book_levels: int = 60
    flow_trades_per_s: float = 6.0
    backfill_minutes: int = 7 * 1440
    max_flow_per_tick: int = 20
    # what makes this run's order and execution ids its own: a simulator restarted (or reset)
    # with the same seed must not hand out ids a client already recorded from an earlier run
    ids: str = ""


@dataclass
class Outbox:
    """What changed since the last drain, for the private and public streams."""

    orders: dict[str, Order] = field(default_factory=dict)
    executions: list[Execution] = field(default_factory=list)
    positions: dict[str, Position] = field(default_factory=dict)
    wallet: bool = False
    trades: dict[str, list[PublicTrade]] = field(default_factory=dict)

    def empty(self) -> bool:
        return not (self.orders or self.executions or self.positions or self.wallet or self.trades)


@dataclass
class ReceivedOrder:
    """One create request as the venue saw it, accepted or not (GET /sim/orders)."""

    seq: int
    received_ms: int
    source: str
    params: dict[str, Any]
    ret_code: int = 0
    ret_msg: str = "OK"
    order: Order | None = None


def parse_decimal(params: dict[str, Any], key: str, *, required: bool = False) -> Decimal | None:
    raw = params.get(key)
    if raw is None or raw == "":
        if required:
            raise ExchangeError(BAD_PARAM, f"params error: {key} is required")
        return None
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise ExchangeError(BAD_PARAM, f"params error: {key} is not a number") from None
    if not value.is_finite() or value < 0:
        raise ExchangeError(BAD_PARAM, f"params error: {key} must be a non-negative number")
    return value


def parse_bool(params: dict[str, Any], key: str) -> bool:
    raw = params.get(key, False)
    if isinstance(raw, bool):
        return raw
    if str(raw).lower() in ("true", "1"):
        return True
    if str(raw).lower() in ("false", "0", ""):
        return False
    raise ExchangeError(BAD_PARAM, f"params error: {key} must be a boolean")


class Exchange:
    def __init__(self, config: ExchangeConfig, now_ms: int) -> None:
        self.config = config
        self.instruments: dict[str, Instrument] = {s: instrument_for(s, config.seed) for s in config.symbols}
        self.books = {s: OrderBook(s) for s in config.symbols}
        self.markets: dict[str, MarketState] = {}
        self.klines = {s: KlineSeries() for s in config.symbols}
        self.recent_trades: dict[str, deque[PublicTrade]] = {s: deque(maxlen=RECENT_TRADES) for s in config.symbols}
        self.funding_history: dict[str, list[FundingRecord]] = {s: [] for s in config.symbols}
        self.next_funding_ms = {s: _next_funding(now_ms) for s in config.symbols}
        self.account = Account(wallet_balance=config.balance)
        self.orders: dict[str, Order] = {}
        self.by_link_id: dict[str, Order] = {}
        self.order_log: list[Order] = []
        self.open_orders: dict[str, Order] = {}
        self.conditionals: dict[str, dict[str, Order]] = {s: {} for s in config.symbols}
        self.executions: list[Execution] = []
        self.received: list[ReceivedOrder] = []
        self.outbox = Outbox()
        self.recorded_tape = False  # replay mode: the market's trades come from a recording
        self._counter = 0
        digest = hashlib.sha256(f"titan-sim:{config.seed}{config.ids}".encode()).hexdigest()
        self._id_prefix = f"{digest[:8]}-{digest[8:12]}-4{digest[13:16]}-a{digest[17:20]}-"
        self.now_ms = now_ms
        for symbol, inst in self.instruments.items():
            market = make_market(inst, config.seed, now_ms)
            self.markets[symbol] = market
            self.klines[symbol].load(backfill_minutes(market, now_ms, config.backfill_minutes))
            market.last_price = self.klines[symbol].minutes[-1].close if config.backfill_minutes else market.mark
            self._backfill_funding(symbol, now_ms)
            self._reprice(symbol, now_ms)

    # --- ids and small helpers -------------------------------------------------------

    def _next_seq(self) -> int:
        self._counter += 1
        return self._counter

    def _new_id(self) -> str:
        # UUID-shaped and deterministic: a per-seed prefix and a counter (cheap enough for the tape)
        return f"{self._id_prefix}{self._next_seq():012x}"

    def instrument(self, symbol: str) -> Instrument:
        inst = self.instruments.get(symbol)
        if inst is None:
            raise ExchangeError(BAD_PARAM, f"params error: symbol invalid: {symbol!r}")
        return inst

    def marks(self) -> dict[str, Decimal]:
        return {s: m.mark for s, m in self.markets.items()}

    def drain(self) -> Outbox:
        out, self.outbox = self.outbox, Outbox()
        return out

    def _touch(self, order: Order) -> None:
        self.outbox.orders[order.order_id] = order

    def _touch_position(self, symbol: str) -> None:
        self.outbox.positions[symbol] = self.account.position(symbol)
        self.outbox.wallet = True

    # --- margin --------------------------------------------------------------------------

    def order_margin(self) -> Decimal:
        total = ZERO
        for order in self.open_orders.values():
            if order.reduce_only or (order.is_conditional and order.status is OrderStatus.UNTRIGGERED):
                continue
            pos = self.account.position(order.symbol)
            total += opening_qty(pos, order.side, order.leaves_qty) * order.price / pos.leverage
        return total

    def available_balance(self) -> Decimal:
        return self.account.equity(self.marks()) - self.account.position_margin() - self.order_margin()

    def _check_margin(self, order: Order, price: Decimal) -> None:
        pos = self.account.position(order.symbol)
        qty = opening_qty(pos, order.side, order.leaves_qty)
        if qty <= 0 or order.reduce_only:
            return
        need = qty * price / pos.leverage + qty * price * TAKER_FEE_RATE
        if need > self.available_balance():
            raise ExchangeError(INSUFFICIENT_BALANCE, "ab not enough for new order")

    # --- order entry ---------------------------------------------------------------------

    def place_order(self, params: dict[str, Any], now_ms: int, source: str = "api") -> Order:
        record = ReceivedOrder(self._next_seq(), now_ms, source, dict(params))
        self.received.append(record)
        try:
            order = self._place(params, now_ms)
        except ExchangeError as exc:
            record.ret_code, record.ret_msg = exc.code, exc.message
            raise
        record.order = order
        return order

    def reject_received(self, params: dict[str, Any], now_ms: int, code: int, message: str) -> None:
        """Log a create request that the API layer refused before it reached the engine."""
        self.received.append(ReceivedOrder(self._next_seq(), now_ms, "api", dict(params), code, message))

    def _place(self, params: dict[str, Any], now_ms: int) -> Order:
        self.now_ms = now_ms
        if params.get("category", "linear") != "linear":
            raise ExchangeError(BAD_PARAM, "params error: only category=linear is simulated")
        symbol = str(params.get("symbol", ""))
        inst = self.instrument(symbol)
        market = self.markets[symbol]
        if market.status != "Trading":
            raise ExchangeError(BAD_PARAM, f"params error: {symbol} is not trading (status {market.status})")
        try:
            side = Side(str(params.get("side")))
            order_type = OrderType(str(params.get("orderType")))
        except ValueError:
            raise ExchangeError(BAD_PARAM, "params error: side or orderType invalid") from None
        default_tif = TimeInForce.IOC if order_type is OrderType.MARKET else TimeInForce.GTC
        try:
            tif = TimeInForce(params.get("timeInForce") or default_tif)
        except ValueError:
            raise ExchangeError(BAD_PARAM, "params error: timeInForce invalid") from None
        if order_type is OrderType.MARKET:
            tif = TimeInForce.IOC
        if int(params.get("positionIdx") or 0) != 0:
            raise ExchangeError(BAD_PARAM, "params error: position idx not match position mode (one-way)")
        link_id = str(params.get("orderLinkId") or "")
        if link_id:
            if not LINK_ID.match(link_id):
                raise ExchangeError(BAD_PARAM, "params error: orderLinkId must be 1-36 chars of [A-Za-z0-9_-]")
            if link_id in self.by_link_id:
                raise ExchangeError(DUPLICATE_LINK_ID, "OrderLinkedID is duplicate")
        raw_qty = parse_decimal(params, "qty", required=True)
        assert raw_qty is not None
        qty = inst.truncate_qty(raw_qty)
        price = ZERO
        if order_type is OrderType.LIMIT:
            raw_price = parse_decimal(params, "price", required=True)
            assert raw_price is not None
            price = inst.round_price(raw_price)
            if price <= 0:
                raise ExchangeError(BAD_PARAM, "params error: price invalid")
        reduce_only = parse_bool(params, "reduceOnly")
        close_on_trigger = parse_bool(params, "closeOnTrigger")
        trigger_price = parse_decimal(params, "triggerPrice") or ZERO
        take_profit = parse_decimal(params, "takeProfit") or ZERO
        stop_loss = parse_decimal(params, "stopLoss") or ZERO
        pos = self.account.position(symbol)
        if reduce_only or close_on_trigger:
            # a closing order can never be larger than the position it closes
            closable = pos.size if pos.side is side.opposite else ZERO
            qty = min(qty, closable) if reduce_only else qty
        if qty <= 0:
            raise ExchangeError(QTY_ZERO, "Qty invalid: order qty truncates to zero")
        if qty < inst.min_qty and not reduce_only:
            raise ExchangeError(BAD_PARAM, f"params error: qty below minOrderQty {inst.min_qty}")
        max_qty = inst.max_mkt_qty if order_type is OrderType.MARKET else inst.max_qty
        if qty > max_qty:
            raise ExchangeError(BAD_PARAM, f"params error: qty above maximum {max_qty}")
        ref_price = price if order_type is OrderType.LIMIT else (trigger_price or market.mark)
        if not reduce_only and qty * ref_price < inst.min_notional:
            raise ExchangeError(NOTIONAL_TOO_SMALL, f"Order value below minimum {inst.min_notional} USDT")
        direction = 0
        if trigger_price > 0:
            direction = int(params.get("triggerDirection") or 0)
            if direction not in (1, 2):
                direction = 1 if trigger_price > (market.last_price or market.mark) else 2
        basis = trigger_price or price or market.mark
        self._check_tpsl(side, basis, take_profit, stop_loss)
        order = Order(
            order_id=self._new_id(),
            order_link_id=link_id,
            symbol=symbol,
            side=side,
            order_type=order_type,
            qty=qty,
            price=price,
            time_in_force=tif,
            created_ms=now_ms,
            updated_ms=now_ms,
            seq=self._next_seq(),
            reduce_only=reduce_only,
            close_on_trigger=close_on_trigger,
            trigger_price=inst.round_price(trigger_price) if trigger_price else ZERO,
            trigger_direction=direction,
            take_profit=take_profit,
            stop_loss=stop_loss,
            tpsl_mode=str(params.get("tpslMode") or ("Full" if take_profit or stop_loss else "")),
            stop_order_type="Stop" if trigger_price > 0 else "",
        )
        if not order.is_conditional:
            book = self.books[symbol]
            estimate = price if order_type is OrderType.LIMIT else self._market_estimate(book, side, market)
            self._check_margin(order, estimate)
        self._register(order)
        if order.is_conditional:
            order.transition(OrderStatus.UNTRIGGERED, now_ms)
            self.conditionals[symbol][order.order_id] = order
            self.open_orders[order.order_id] = order
            self._touch(order)
            self._check_triggers(symbol, now_ms)
        else:
            self._execute(order, now_ms)
            self._after_activity(symbol, now_ms)
        return order

    @staticmethod
    def _check_tpsl(side: Side, basis: Decimal, take_profit: Decimal, stop_loss: Decimal) -> None:
        if side is Side.BUY:
            bad = (take_profit and take_profit <= basis) or (stop_loss and stop_loss >= basis)
        else:
            bad = (take_profit and take_profit >= basis) or (stop_loss and stop_loss <= basis)
        if bad:
            raise ExchangeError(BAD_PARAM, f"params error: takeProfit/stopLoss on the wrong side of {basis}")

    @staticmethod
    def _market_estimate(book: OrderBook, side: Side, market: MarketState) -> Decimal:
        best = book.best_ask() if side is Side.BUY else book.best_bid()
        return best if best is not None else market.mark

    def _register(self, order: Order) -> None:
        self.orders[order.order_id] = order
        if order.order_link_id:
            self.by_link_id[order.order_link_id] = order
        self.order_log.append(order)

    def _execute(self, order: Order, now_ms: int) -> None:
        """Match a new (or just triggered) order, then rest or cancel what is left."""
        book = self.books[order.symbol]
        market = self.markets[order.symbol]
        self._touch(order)
        if order.order_type is OrderType.LIMIT:
            limit = order.price
            best = book.best_ask() if order.side is Side.BUY else book.best_bid()
            crosses = best is not None and (limit >= best if order.side is Side.BUY else limit <= best)
            if order.time_in_force is TimeInForce.POST_ONLY and crosses:
                order.reject_reason = "EC_PostOnlyWillTakeLiquidity"
                order.cancel_type = "CancelByUser"
                order.transition(OrderStatus.CANCELLED, now_ms)
                return
            if order.time_in_force is TimeInForce.FOK and book.fillable(order.side, limit) < order.leaves_qty:
                order.reject_reason = "EC_FOKWillNotFullyFill"
                order.transition(OrderStatus.CANCELLED, now_ms)
                return
        else:
            band = 1 + MARKET_BAND if order.side is Side.BUY else 1 - MARKET_BAND
            limit = market.instrument.round_price(market.mark * band)
        for fill in book.match(order.side, order.leaves_qty, limit):
            self._fill(order.symbol, order, order.side, fill, now_ms)
        if order.leaves_qty <= 0:
            return
        if order.order_type is OrderType.MARKET or order.time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
            order.transition(OrderStatus.CANCELLED, now_ms)
            return
        if order.status in (OrderStatus.CREATED, OrderStatus.TRIGGERED):
            order.transition(OrderStatus.NEW, now_ms)
        self.open_orders[order.order_id] = order
        book.add_order(order, order.price)

    def _fill(self, symbol: str, taker: Order | None, taker_side: Side, fill: Fill, now_ms: int) -> None:
        if fill.maker is not None:
            self._apply_fill(fill.maker, fill.price, fill.qty, now_ms, is_maker=True)
        if taker is not None:
            self._apply_fill(taker, fill.price, fill.qty, now_ms, is_maker=False)
        if not self.recorded_tape:  # a replay's tape is the recording: our fills do not join it
            self._print(symbol, taker_side, fill.price, fill.qty, now_ms)

    def _apply_fill(
        self, order: Order, price: Decimal, qty: Decimal, now_ms: int, *, is_maker: bool, exec_type: str = "Trade"
    ) -> Execution:
        value = price * qty
        fee, rate = fee_for(value, is_maker) if exec_type == "Trade" else (ZERO, ZERO)
        order.cum_exec_qty += qty
        order.cum_exec_value += value
        order.cum_exec_fee += fee
        order.transition(
            OrderStatus.FILLED if order.cum_exec_qty >= order.qty else OrderStatus.PARTIALLY_FILLED, now_ms
        )
        if order.status is OrderStatus.FILLED:
            self.open_orders.pop(order.order_id, None)
        outcome = self.account.apply_fill(order.symbol, order.side, qty, price, fee, now_ms)
        pos = self.account.position(order.symbol)
        if pos.side is order.side and (order.take_profit or order.stop_loss):
            # TP/SL attached on create protect the whole position once the order opens it (Full mode)
            pos.take_profit = order.take_profit or pos.take_profit
            pos.stop_loss = order.stop_loss or pos.stop_loss
        execution = Execution(
            exec_id=self._new_id(),
            order_id=order.order_id,
            order_link_id=order.order_link_id,
            symbol=order.symbol,
            side=order.side,
            exec_price=price,
            exec_qty=qty,
            exec_value=value,
            exec_fee=fee,
            fee_rate=rate,
            exec_type=exec_type,
            exec_time=now_ms,
            is_maker=is_maker,
            closed_size=outcome.closed_size,
            order_type=order.order_type.value,
            order_price=order.price,
            order_qty=order.qty,
            leaves_qty=order.leaves_qty,
            seq=self._next_seq(),
            stop_order_type=order.stop_order_type,
        )
        self.executions.append(execution)
        self.outbox.executions.append(execution)
        self._touch(order)
        self._touch_position(order.symbol)
        return execution

    def _print(
        self, symbol: str, taker_side: Side, price: Decimal, qty: Decimal, now_ms: int, piece: Decimal | None = None
    ) -> None:
        """Public trades: the tape, the candles and the last price all learn of them. With
        `piece`, the fill prints as several trades of at most that size (a crowd of takers)."""
        market = self.markets[symbol]
        inst = market.instrument
        last = market.last_price
        if price > last:
            direction = "PlusTick"
        elif price < last:
            direction = "MinusTick"
        else:
            direction = "ZeroPlusTick" if market.tick_direction in ("PlusTick", "ZeroPlusTick") else "ZeroMinusTick"
        market.last_price = price
        self.klines[symbol].add_trade(price, qty, now_ms)
        price_text = inst.fmt_price(price)
        sizes = [qty] if piece is None or piece >= qty else _split(qty, piece)
        tape = self.recent_trades[symbol]
        out = self.outbox.trades.setdefault(symbol, [])
        piece_text = inst.fmt_qty(sizes[0])
        for size in sizes:
            market.seq += 1
            text = piece_text if size == sizes[0] else inst.fmt_qty(size)
            trade = PublicTrade(self._new_id(), symbol, taker_side, price, size, now_ms, direction, market.seq,
                                price_text, text)  # fmt: skip
            tape.append(trade)
            out.append(trade)
            direction = "ZeroPlusTick" if direction in ("PlusTick", "ZeroPlusTick") else "ZeroMinusTick"
        market.tick_direction = direction

    # --- amend and cancel ----------------------------------------------------------------

    def find_order(self, params: dict[str, Any]) -> Order:
        order_id = params.get("orderId")
        link_id = params.get("orderLinkId")
        if not order_id and not link_id:
            raise ExchangeError(BAD_PARAM, "params error: orderId or orderLinkId is required")
        order = self.orders.get(str(order_id)) if order_id else self.by_link_id.get(str(link_id))
        if order is None or (params.get("symbol") and order.symbol != params.get("symbol")):
            raise ExchangeError(ORDER_NOT_FOUND, "order not exists or too late to cancel")
        return order

    def cancel_order(self, params: dict[str, Any], now_ms: int) -> Order:
        order = self.find_order(params)
        if not order.is_open:
            raise ExchangeError(ORDER_FINISHED, "order has been filled or cancelled")
        self._cancel(order, now_ms, "CancelByUser")
        return order

    def _cancel(self, order: Order, now_ms: int, cancel_type: str) -> None:
        order.cancel_type = cancel_type
        if order.status is OrderStatus.UNTRIGGERED:
            order.transition(OrderStatus.DEACTIVATED, now_ms)
            self.conditionals[order.symbol].pop(order.order_id, None)
        else:
            self.books[order.symbol].remove_order(order, order.price)
            order.transition(OrderStatus.CANCELLED, now_ms)
        self.open_orders.pop(order.order_id, None)
        self._touch(order)

    def cancel_all(self, params: dict[str, Any], now_ms: int) -> list[Order]:
        symbol = params.get("symbol")
        if symbol:
            self.instrument(str(symbol))
        elif not params.get("settleCoin") and not params.get("baseCoin"):
            raise ExchangeError(BAD_PARAM, "params error: symbol, baseCoin or settleCoin is required")
        chosen = [o for o in self.open_orders.values() if not symbol or o.symbol == symbol]
        for order in chosen:
            self._cancel(order, now_ms, "CancelByUser")
        return chosen

    def amend_order(self, params: dict[str, Any], now_ms: int) -> Order:
        order = self.find_order(params)
        if not order.is_open:
            raise ExchangeError(ORDER_FINISHED, "order has been filled or cancelled")
        inst = self.instruments[order.symbol]
        qty = parse_decimal(params, "qty")
        price = parse_decimal(params, "price")
        trigger = parse_decimal(params, "triggerPrice")
        take_profit = parse_decimal(params, "takeProfit")
        stop_loss = parse_decimal(params, "stopLoss")
        changed = False
        if take_profit is not None and take_profit != order.take_profit:
            order.take_profit, changed = take_profit, True
        if stop_loss is not None and stop_loss != order.stop_loss:
            order.stop_loss, changed = stop_loss, True
        if trigger is not None:
            if not order.is_conditional or order.status is not OrderStatus.UNTRIGGERED:
                raise ExchangeError(BAD_PARAM, "params error: triggerPrice only amends an untriggered order")
            trigger = inst.round_price(trigger)
            if trigger != order.trigger_price:
                order.trigger_price, changed = trigger, True
        new_qty = inst.truncate_qty(qty) if qty is not None else order.qty
        new_price = inst.round_price(price) if price is not None else order.price
        if qty is not None and new_qty <= order.cum_exec_qty:
            raise ExchangeError(BAD_PARAM, "params error: qty must exceed the filled qty")
        if order.order_type is OrderType.MARKET and price is not None:
            raise ExchangeError(BAD_PARAM, "params error: a market order has no price")
        if new_qty != order.qty or new_price != order.price:
            changed = True
            resting = order.status in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)
            if resting:
                self.books[order.symbol].remove_order(order, order.price)
                self.open_orders.pop(order.order_id, None)
            order.qty, order.price = new_qty, new_price
            if resting:
                self._rematch(order, now_ms)
        if not changed:
            raise ExchangeError(BAD_PARAM, "params error: the order remains unchanged")
        order.updated_ms = now_ms
        self._touch(order)
        self._after_activity(order.symbol, now_ms)
        return order

    def _rematch(self, order: Order, now_ms: int) -> None:
        book = self.books[order.symbol]
        for fill in book.match(order.side, order.leaves_qty, order.price):
            self._fill(order.symbol, order, order.side, fill, now_ms)
        if order.leaves_qty > 0:
            self.open_orders[order.order_id] = order
            book.add_order(order, order.price)

    # --- positions -----------------------------------------------------------------------

    def set_leverage(self, params: dict[str, Any], now_ms: int) -> None:
        symbol = str(params.get("symbol", ""))
        inst = self.instrument(symbol)
        buy = parse_decimal(params, "buyLeverage", required=True)
        sell = parse_decimal(params, "sellLeverage", required=True)
        if buy != sell:
            raise ExchangeError(BAD_PARAM, "params error: buyLeverage must equal sellLeverage in one-way mode")
        assert buy is not None
        if not 1 <= buy <= inst.max_leverage:
            raise ExchangeError(BAD_PARAM, f"params error: leverage must be within [1, {inst.max_leverage}]")
        pos = self.account.position(symbol)
        if buy == pos.leverage:
            raise ExchangeError(LEVERAGE_NOT_MODIFIED, "leverage not modified")
        old = pos.leverage
        pos.leverage = buy
        if self.available_balance() < 0:
            pos.leverage = old
            raise ExchangeError(INSUFFICIENT_BALANCE, "ab not enough for new leverage")
        pos.updated_ms = now_ms
        self._touch_position(symbol)

    def trading_stop(self, params: dict[str, Any], now_ms: int) -> None:
        symbol = str(params.get("symbol", ""))
        self.instrument(symbol)
        if int(params.get("positionIdx") or 0) != 0:
            raise ExchangeError(BAD_PARAM, "params error: position idx not match position mode (one-way)")
        pos = self.account.position(symbol)
        if pos.side is None:
            raise ExchangeError(BAD_PARAM, "params error: can not set tp/sl/ts for zero position")
        wanted = {
            "take_profit": parse_decimal(params, "takeProfit"),
            "stop_loss": parse_decimal(params, "stopLoss"),
            "trailing_stop": parse_decimal(params, "trailingStop"),
        }
        given = {k: v for k, v in wanted.items() if v is not None}
        if not given or all(getattr(pos, k) == v for k, v in given.items()):
            raise ExchangeError(TPSL_NOT_MODIFIED, "not modified")
        mark = self.markets[symbol].mark
        self._check_tpsl(pos.side, mark, given.get("take_profit", ZERO), given.get("stop_loss", ZERO))
        for key, value in given.items():
            setattr(pos, key, value)
        pos.updated_ms = now_ms
        self._touch_position(symbol)
        self._check_triggers(symbol, now_ms)

    def inject_position(self, symbol: str, side: Side, size: Decimal, now_ms: int) -> Order:
        """A position opened outside the API, as if a human clicked on the exchange's site."""
        params = {"category": "linear", "symbol": symbol, "side": side.value, "orderType": "Market", "qty": str(size)}
        return self.place_order(params, now_ms, source="manual")

    # --- triggers, funding, liquidation --------------------------------------------------

    def _after_activity(self, symbol: str, now_ms: int) -> None:
        self._fix_reduce_only(symbol, now_ms)
        self._check_triggers(symbol, now_ms)

    def _fix_reduce_only(self, symbol: str, now_ms: int) -> None:
        """Reduce-only orders may never outgrow the position they reduce."""
        pos = self.account.position(symbol)
        for order in [o for o in self.open_orders.values() if o.symbol == symbol and o.reduce_only]:
            closable = pos.size if pos.side is order.side.opposite else ZERO
            if closable <= 0:
                self._cancel(order, now_ms, "CancelByReduceOnly")
            elif order.leaves_qty > closable and order.status is not OrderStatus.UNTRIGGERED:
                order.qty = order.cum_exec_qty + closable
                self._touch(order)

    def _check_triggers(self, symbol: str, now_ms: int) -> None:
        market = self.markets[symbol]
        last = market.last_price or market.mark
        for order in list(self.conditionals[symbol].values()):
            rising = order.trigger_direction == 1 and last >= order.trigger_price
            falling = order.trigger_direction == 2 and last <= order.trigger_price
            if rising or falling:
                self._trigger(order, now_ms)
        pos = self.account.positions.get(symbol)
        if pos is None or pos.side is None:
            return
        mark = market.mark
        long = pos.side is Side.BUY
        bust = pos.bust_price()
        if (long and mark <= bust) or (not long and mark >= bust):
            self._liquidate(pos, now_ms)
            return
        if pos.take_profit and (mark >= pos.take_profit if long else mark <= pos.take_profit):
            self._close_by_tpsl(pos, "TakeProfit", pos.take_profit, now_ms)
        elif pos.stop_loss and (mark <= pos.stop_loss if long else mark >= pos.stop_loss):
            self._close_by_tpsl(pos, "StopLoss", pos.stop_loss, now_ms)

    def _trigger(self, order: Order, now_ms: int) -> None:
        self.conditionals[order.symbol].pop(order.order_id, None)
        order.transition(OrderStatus.TRIGGERED, now_ms)
        pos = self.account.position(order.symbol)
        if order.reduce_only or order.close_on_trigger:
            closable = pos.size if pos.side is order.side.opposite else ZERO
            if order.reduce_only and closable < order.qty:
                order.qty = max(closable, order.cum_exec_qty)
        if order.qty <= 0:
            order.reject_reason = "EC_ReduceOnlySetButNotReducing"
            order.transition(OrderStatus.REJECTED, now_ms)
            self.open_orders.pop(order.order_id, None)
            self._touch(order)
            return
        estimate = order.price if order.order_type is OrderType.LIMIT else self.markets[order.symbol].mark
        try:
            self.open_orders.pop(order.order_id, None)
            self._check_margin(order, estimate)
        except ExchangeError:
            order.reject_reason = "EC_InsufficientBalance"
            order.transition(OrderStatus.REJECTED, now_ms)
            self._touch(order)
            return
        self._execute(order, now_ms)
        self._fix_reduce_only(order.symbol, now_ms)

    def _close_by_tpsl(self, pos: Position, kind: str, trigger: Decimal, now_ms: int) -> None:
        assert pos.side is not None
        order = self._closing_order(
            pos,
            now_ms,
            close_on_trigger=True,
            trigger_price=trigger,
            trigger_direction=1 if trigger > pos.avg_price and pos.side is Side.BUY else 2,
            stop_order_type=kind,
            create_type=f"CreateBy{kind}",
        )
        pos.take_profit = pos.stop_loss = ZERO
        self._register(order)
        order.transition(OrderStatus.UNTRIGGERED, now_ms)
        order.transition(OrderStatus.TRIGGERED, now_ms)
        self._execute(order, now_ms)
        self._fix_reduce_only(pos.symbol, now_ms)

    def _closing_order(self, pos: Position, now_ms: int, **fields: Any) -> Order:
        """A venue-generated reduce-only market order that closes the whole position."""
        assert pos.side is not None
        return Order(
            order_id=self._new_id(),
            order_link_id="",
            symbol=pos.symbol,
            side=pos.side.opposite,
            order_type=OrderType.MARKET,
            qty=pos.size,
            price=ZERO,
            time_in_force=TimeInForce.IOC,
            created_ms=now_ms,
            updated_ms=now_ms,
            seq=self._next_seq(),
            reduce_only=True,
            **fields,
        )

    def _liquidate(self, pos: Position, now_ms: int) -> None:
        """Simplified liquidation: when mark crosses the bust price, every order of the symbol
        is cancelled and the whole position is closed at the bust price (no fee), so the
        account loses exactly the position's initial margin. No book interaction, no ADL."""
        assert pos.side is not None
        symbol = pos.symbol
        for order in [o for o in self.open_orders.values() if o.symbol == symbol]:
            self._cancel(order, now_ms, "CancelAllBeforeLiq")
        inst = self.instruments[symbol]
        order = self._closing_order(pos, now_ms, create_type="CreateByLiq")
        self._register(order)
        self._apply_fill(
            order, inst.round_price(pos.bust_price()), pos.size, now_ms, is_maker=False, exec_type="BustTrade"
        )

    def _backfill_funding(self, symbol: str, now_ms: int) -> None:
        rng = self.markets[symbol].rng
        first = self.next_funding_ms[symbol] - 21 * FUNDING_INTERVAL_MS
        for i in range(21):
            rate = Decimal(f"{0.0001 + rng.gauss(0, 0.00005):.8f}")
            self.funding_history[symbol].append(FundingRecord(symbol, rate, first + i * FUNDING_INTERVAL_MS))

    def funding_rate(self, symbol: str) -> Decimal:
        return Decimal(f"{self.markets[symbol].funding_rate:.8f}")

    def _settle_funding(self, symbol: str, now_ms: int) -> None:
        when = self.next_funding_ms[symbol]
        rate = self.funding_rate(symbol)
        self.funding_history[symbol].append(FundingRecord(symbol, rate, when))
        self.next_funding_ms[symbol] = when + FUNDING_INTERVAL_MS
        pos = self.account.positions.get(symbol)
        if pos is None or pos.side is None:
            return
        mark = self.markets[symbol].mark
        value = pos.size * mark
        payment = value * rate * pos.side.sign  # longs pay shorts when the rate is positive
        self.account.apply_funding(symbol, payment, now_ms)
        execution = Execution(
            exec_id=self._new_id(),
            order_id="",
            order_link_id="",
            symbol=symbol,
            side=pos.side,
            exec_price=mark,
            exec_qty=pos.size,
            exec_value=value,
            exec_fee=payment,
            fee_rate=rate,
            exec_type="Funding",
            exec_time=now_ms,
            is_maker=False,
            closed_size=ZERO,
            order_type="UNKNOWN",
            order_price=ZERO,
            order_qty=ZERO,
            leaves_qty=ZERO,
            seq=self._next_seq(),
        )
        self.executions.append(execution)
        self.outbox.executions.append(execution)
        self._touch_position(symbol)

    # --- replay mode: a recorded market instead of the walk ---------------------------------

    def load_recorded(self, history: Iterable[RecordedKline], now_ms: int) -> None:
        """Recorded minutes as the candles' history; each symbol's price at its last close, no
        funding (a kline file holds none), and from now on only recorded trades print."""
        self.recorded_tape = True
        by_symbol: dict[str, list[Candle]] = {}
        for k in history:
            by_symbol.setdefault(k.symbol, []).append(_candle(k))
        for symbol, market in self.markets.items():
            candles = by_symbol.get(symbol, [])
            self.klines[symbol].load(candles)
            self.funding_history[symbol].clear()
            market.funding_rate = 0.0
            market.last_ms = now_ms
            if candles:
                market.last_price = candles[-1].close
                market.mid = float(candles[-1].close)
            self._reprice(symbol, now_ms)

    def replay_trade(self, trade: ReplayTrade) -> None:
        """A recorded trade: quotes move to it (filling the resting orders it passes), it prints
        at its own time, and stops and targets see it."""
        symbol, ts = trade.symbol, trade.ts_ms
        market = self.markets[symbol]
        market.mid = float(trade.price)
        market.last_ms = max(market.last_ms, ts)
        self._reprice(symbol, ts)
        self._print(symbol, Side.BUY if trade.taker_buy else Side.SELL, trade.price, trade.qty, ts)
        self._check_triggers(symbol, ts)

    def put_minute(self, kline: RecordedKline) -> None:
        """The recorded bar, in place of the one its replayed trades built."""
        self.klines[kline.symbol].put(_candle(kline), kline.interval_ms)

    # --- the synthetic market ------------------------------------------------------------

    def advance_clock(self, now_ms: int) -> None:
        """Time passes for everything that depends on time alone: funding and candles."""
        self.now_ms = now_ms
        for symbol in self.instruments:
            while now_ms >= self.next_funding_ms[symbol]:
                self._settle_funding(symbol, now_ms)
            self.klines[symbol].advance(now_ms)

    def market_tick(self, symbol: str, now_ms: int) -> None:
        """One step of the crowd: the walk moves, quotes follow, a few trades print."""
        market = self.markets[symbol]
        if market.status != "Trading":
            market.last_ms = now_ms
            return
        dt = now_ms - market.last_ms
        if dt <= 0:
            return
        market.step(now_ms)
        self._reprice(symbol, now_ms)
        rng = market.rng
        expected = min(self.config.flow_trades_per_s * dt / 1000, float(self.config.max_flow_per_tick))
        count = int(expected) + (1 if rng.random() < expected - int(expected) else 0)
        for _ in range(count):
            self._crowd_trade(symbol, Side.BUY if rng.random() < 0.5 else Side.SELL, now_ms)
        for _ in range(rng.randint(0, 3)):
            self.book_noise(symbol)
        self._reprice(symbol, now_ms)
        self._check_triggers(symbol, now_ms)

    def _crowd_trade(self, symbol: str, side: Side, now_ms: int, count: int = 1, notional: float | None = None) -> None:
        """`count` takers of one size from the crowd. They are matched as one sweep and
        printed as separate trades: the same prices as one-by-one, far cheaper for bursts."""
        market = self.markets[symbol]
        inst = market.instrument
        usdt = notional if notional is not None else math.exp(market.rng.uniform(math.log(50), math.log(20000)))
        qty = max(inst.qty_step, inst.truncate_qty(Decimal(f"{usdt / market.mid:.10f}")))
        for fill in self.books[symbol].match(side, qty * count, None):
            if fill.maker is not None:
                self._apply_fill(fill.maker, fill.price, fill.qty, now_ms, is_maker=True)
            self._print(symbol, side, fill.price, fill.qty, now_ms, piece=qty)

    def _level_qty(self, market: MarketState) -> Decimal:
        inst = market.instrument
        usdt = float(inst.level_notional) * market.rng.uniform(0.2, 1.8)
        return max(inst.qty_step, inst.truncate_qty(Decimal(f"{usdt / market.mid:.10f}")))

    def _reprice(self, symbol: str, now_ms: int) -> None:
        """Re-centre the crowd's quotes on mid. User orders the market moved through fill."""
        market = self.markets[symbol]
        inst = market.instrument
        book = self.books[symbol]
        step = inst.level_step
        mid = Decimal(repr(market.mid))
        bid_top = (mid / step).to_integral_value(rounding="ROUND_FLOOR") * step
        ask_top = bid_top + step
        for fill in book.sweep(Side.BUY, bid_top):
            self._fill(symbol, None, Side.SELL, fill, now_ms)
        for fill in book.sweep(Side.SELL, ask_top):
            self._fill(symbol, None, Side.BUY, fill, now_ms)
        levels = self.config.book_levels
        for i in range(levels):
            for side, price in ((Side.BUY, bid_top - i * step), (Side.SELL, ask_top + i * step)):
                if price <= 0:
                    continue
                level = book.level(side, price)
                if level is None or level.synthetic <= 0:
                    book.set_synthetic(side, price, self._level_qty(market))
        book.clear_synthetic_beyond(Side.BUY, levels)
        book.clear_synthetic_beyond(Side.SELL, levels)

    def book_noise(self, symbol: str) -> None:
        """One random change to the crowd's quotes near the top: resize, pull or add a level."""
        market = self.markets[symbol]
        book = self.books[symbol]
        rng = market.rng
        side = Side.BUY if rng.random() < 0.5 else Side.SELL
        prices = book.prices(side)
        if not prices:
            return
        roll = rng.random()
        if roll < 0.2 and len(prices) > 5:
            book.set_synthetic(side, prices[rng.randrange(1, min(len(prices), 50))], ZERO)
        elif roll < 0.4:
            step = market.instrument.level_step
            gap = rng.randrange(1, 50) * step
            price = prices[0] - gap if side is Side.BUY else prices[0] + gap
            if price > 0:
                book.set_synthetic(side, price, self._level_qty(market))
        else:
            book.set_synthetic(side, prices[rng.randrange(0, min(len(prices), 50))], self._level_qty(market))

    def burst_step(self, symbol: str, mid: float, trades: int, side: Side, now_ms: int) -> None:
        """One slice of a momentum burst: the price jumps and `trades` takers carry it."""
        market = self.markets[symbol]
        market.mid = mid
        market.last_ms = max(market.last_ms, now_ms)
        self._reprice(symbol, now_ms)
        self._crowd_trade(symbol, side, now_ms, count=trades, notional=float(market.instrument.level_notional) / 20)
        self._reprice(symbol, now_ms)
        self._check_triggers(symbol, now_ms)

    def set_status(self, symbol: str, status: str) -> None:
        self.instrument(symbol)
        if status not in ("Trading", "Closed"):
            raise ExchangeError(BAD_PARAM, "params error: status must be Trading or Closed")
        self.markets[symbol].status = status

    # --- queries -------------------------------------------------------------------------

    def query_orders(
        self,
        *,
        open_only: bool,
        symbol: str | None,
        order_id: str | None,
        link_id: str | None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        status: str | None = None,
        stop_only: bool = False,
        limit: int,
        cursor: int | None,
    ) -> tuple[list[Order], int | None]:
        if order_id or link_id:
            found = self.orders.get(order_id) if order_id else self.by_link_id.get(link_id or "")
            # by id, finished orders are found too: reconciliation relies on it
            ok = found is not None and (not symbol or found.symbol == symbol)
            return ([found] if ok and found is not None else []), None
        source = self.open_orders.values() if open_only else self.order_log
        chosen = sorted(source, key=lambda o: o.seq, reverse=True) if open_only else list(reversed(self.order_log))
        out: list[Order] = []
        for order in chosen:
            if cursor is not None and order.seq >= cursor:
                continue
            if symbol and order.symbol != symbol:
                continue
            if status and order.status.value != status:
                continue
            if stop_only and not order.is_conditional:
                continue
            if start_ms is not None and order.created_ms < start_ms:
                if not open_only:
                    break
                continue
            if end_ms is not None and order.created_ms > end_ms:
                continue
            if len(out) == limit:
                return out, out[-1].seq
            out.append(order)
        return out, None

    def query_executions(
        self,
        *,
        symbol: str | None,
        order_id: str | None,
        link_id: str | None,
        exec_type: str | None,
        start_ms: int | None,
        end_ms: int | None,
        limit: int,
        cursor: int | None,
    ) -> tuple[list[Execution], int | None]:
        out: list[Execution] = []
        for execution in reversed(self.executions):
            if cursor is not None and execution.seq >= cursor:
                continue
            if start_ms is not None and execution.exec_time < start_ms:
                break
            if end_ms is not None and execution.exec_time > end_ms:
                continue
            if symbol and execution.symbol != symbol:
                continue
            if order_id and execution.order_id != order_id:
                continue
            if link_id and execution.order_link_id != link_id:
                continue
            if exec_type and execution.exec_type != exec_type:
                continue
            if len(out) == limit:
                return out, out[-1].seq
            out.append(execution)
        return out, None

    def reset(self, now_ms: int) -> None:
        self.__init__(self.config, now_ms)  # type: ignore[misc]


def _candle(k: RecordedKline) -> Candle:
    return Candle(k.start_ms, k.open, k.high, k.low, k.close, k.volume, k.volume * k.close)


def _next_funding(now_ms: int) -> int:
    return (now_ms // FUNDING_INTERVAL_MS + 1) * FUNDING_INTERVAL_MS


def _split(qty: Decimal, piece: Decimal) -> list[Decimal]:
    whole, rest = divmod(qty, piece)
    sizes = [piece] * int(whole)
    if rest:
        sizes.append(rest)
    return sizes
