"""Order entry and the book: checks, matching, fills, amend and cancel."""

from __future__ import annotations

import re
from decimal import Decimal

from titan_sim.core.account import check_margin, fee_for
from titan_sim.core.book import Fill, OrderBook
from titan_sim.core.market import MarketState
from titan_sim.core.model import (
    ZERO,
    ExchangeError,
    Execution,
    Order,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from titan_sim.core.requests import AmendOrder, CancelAll, OrderRef, PlaceOrder
from titan_sim.core.ret_codes import (
    BAD_PARAM,
    DUPLICATE_LINK_ID,
    NOTIONAL_TOO_SMALL,
    ORDER_FINISHED,
    ORDER_NOT_FOUND,
    QTY_ZERO,
)
from titan_sim.core.state import VenueState
from titan_sim.core.tape import print_trade

MARKET_BAND = Decimal("0.05")  # a market order walks the book at most 5% from mark
LINK_ID = re.compile(r"^[A-Za-z0-9_-]{1,36}$")


class Matching:
    def __init__(self, state: VenueState) -> None:
        self.state = state

    # --- order entry ---------------------------------------------------------------------

    def place(self, request: PlaceOrder, now_ms: int) -> Order:
        """Check a new order against the venue, then match it or park it as conditional.
        What it sets off (triggers, reduce-only fixes) is the caller's next step."""
        state = self.state
        state.now_ms = now_ms
        symbol = request.symbol
        inst = state.instrument(symbol)
        market = state.markets[symbol]
        if market.status != "Trading":
            raise ExchangeError(BAD_PARAM, f"params error: {symbol} is not trading (status {market.status})")
        side, order_type = request.side, request.order_type
        tif = TimeInForce.IOC if order_type is OrderType.MARKET else request.time_in_force or TimeInForce.GTC
        if request.position_idx != 0:
            raise ExchangeError(BAD_PARAM, "params error: position idx not match position mode (one-way)")
        link_id = request.order_link_id
        if link_id:
            if not LINK_ID.match(link_id):
                raise ExchangeError(BAD_PARAM, "params error: orderLinkId must be 1-36 chars of [A-Za-z0-9_-]")
            if link_id in state.by_link_id:
                raise ExchangeError(DUPLICATE_LINK_ID, "OrderLinkedID is duplicate")
        qty = inst.truncate_qty(request.qty)
        price = ZERO
        if order_type is OrderType.LIMIT:
            price = inst.round_price(request.price)
            if price <= 0:
                raise ExchangeError(BAD_PARAM, "params error: price invalid")
        reduce_only, close_on_trigger = request.reduce_only, request.close_on_trigger
        trigger_price, take_profit, stop_loss = request.trigger_price, request.take_profit, request.stop_loss
        pos = state.account.position(symbol)
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
            direction = request.trigger_direction
            if direction not in (1, 2):
                direction = 1 if trigger_price > (market.last_price or market.mark) else 2
        basis = trigger_price or price or market.mark
        check_tpsl(side, basis, take_profit, stop_loss)
        order = Order(
            order_id=state.new_id(),
            order_link_id=link_id,
            symbol=symbol,
            side=side,
            order_type=order_type,
            qty=qty,
            price=price,
            time_in_force=tif,
            created_ms=now_ms,
            updated_ms=now_ms,
            seq=state.next_seq(),
            reduce_only=reduce_only,
            close_on_trigger=close_on_trigger,
            trigger_price=inst.round_price(trigger_price) if trigger_price else ZERO,
            trigger_direction=direction,
            take_profit=take_profit,
            stop_loss=stop_loss,
            tpsl_mode=request.tpsl_mode or ("Full" if take_profit or stop_loss else ""),
            stop_order_type="Stop" if trigger_price > 0 else "",
        )
        if not order.is_conditional:
            book = state.books[symbol]
            estimate = price if order_type is OrderType.LIMIT else _market_estimate(book, side, market)
            self.check_margin(order, estimate)
        state.register(order)
        if order.is_conditional:
            order.transition(OrderStatus.UNTRIGGERED, now_ms)
            state.conditionals[symbol][order.order_id] = order
            state.open_orders[order.order_id] = order
            state.touch(order)
        else:
            self.execute(order, now_ms)
        return order

    def check_margin(self, order: Order, price: Decimal) -> None:
        state = self.state
        check_margin(state.account, state.open_orders.values(), state.marks, order, price)

    def execute(self, order: Order, now_ms: int) -> None:
        """Match a new (or just triggered) order, then rest or cancel what is left."""
        state = self.state
        book = state.books[order.symbol]
        market = state.markets[order.symbol]
        state.touch(order)
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
            self.fill(order.symbol, order, order.side, fill, now_ms)
        if order.leaves_qty <= 0:
            return
        if order.order_type is OrderType.MARKET or order.time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
            order.transition(OrderStatus.CANCELLED, now_ms)
            return
        if order.status in (OrderStatus.CREATED, OrderStatus.TRIGGERED):
            order.transition(OrderStatus.NEW, now_ms)
        state.open_orders[order.order_id] = order
        book.add_order(order, order.price)

    def fill(self, symbol: str, taker: Order | None, taker_side: Side, fill: Fill, now_ms: int) -> None:
        if fill.maker is not None:
            self.apply_fill(fill.maker, fill.price, fill.qty, now_ms, is_maker=True)
        if taker is not None:
            self.apply_fill(taker, fill.price, fill.qty, now_ms, is_maker=False)
        if not self.state.recorded_tape:  # a replay's tape is the recording: our fills do not join it
            print_trade(self.state, symbol, taker_side, fill.price, fill.qty, now_ms)

    def apply_fill(
        self, order: Order, price: Decimal, qty: Decimal, now_ms: int, *, is_maker: bool, exec_type: str = "Trade"
    ) -> Execution:
        state = self.state
        value = price * qty
        fee, rate = fee_for(value, is_maker) if exec_type == "Trade" else (ZERO, ZERO)
        order.cum_exec_qty += qty
        order.cum_exec_value += value
        order.cum_exec_fee += fee
        order.transition(
            OrderStatus.FILLED if order.cum_exec_qty >= order.qty else OrderStatus.PARTIALLY_FILLED, now_ms
        )
        if order.status is OrderStatus.FILLED:
            state.open_orders.pop(order.order_id, None)
        outcome = state.account.apply_fill(order.symbol, order.side, qty, price, fee, now_ms)
        pos = state.account.position(order.symbol)
        if pos.side is order.side and (order.take_profit or order.stop_loss):
            # TP/SL attached on create protect the whole position once the order opens it (Full mode)
            pos.take_profit = order.take_profit or pos.take_profit
            pos.stop_loss = order.stop_loss or pos.stop_loss
        execution = Execution(
            exec_id=state.new_id(),
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
            seq=state.next_seq(),
            stop_order_type=order.stop_order_type,
        )
        state.record_execution(execution)
        state.touch(order)
        state.touch_position(order.symbol)
        return execution

    # --- amend and cancel ----------------------------------------------------------------

    def find(self, ref: OrderRef) -> Order:
        if not ref.order_id and not ref.order_link_id:
            raise ExchangeError(BAD_PARAM, "params error: orderId or orderLinkId is required")
        state = self.state
        order = state.orders.get(ref.order_id) if ref.order_id else state.by_link_id.get(ref.order_link_id)
        if order is None or (ref.symbol and order.symbol != ref.symbol):
            raise ExchangeError(ORDER_NOT_FOUND, "order not exists or too late to cancel")
        return order

    def cancel_order(self, ref: OrderRef, now_ms: int) -> Order:
        order = self.find(ref)
        if not order.is_open:
            raise ExchangeError(ORDER_FINISHED, "order has been filled or cancelled")
        self.cancel(order, now_ms, "CancelByUser")
        return order

    def cancel(self, order: Order, now_ms: int, cancel_type: str) -> None:
        state = self.state
        order.cancel_type = cancel_type
        if order.status is OrderStatus.UNTRIGGERED:
            order.transition(OrderStatus.DEACTIVATED, now_ms)
            state.conditionals[order.symbol].pop(order.order_id, None)
        else:
            state.books[order.symbol].remove_order(order, order.price)
            order.transition(OrderStatus.CANCELLED, now_ms)
        state.open_orders.pop(order.order_id, None)
        state.touch(order)

    def cancel_all(self, request: CancelAll, now_ms: int) -> list[Order]:
        symbol = request.symbol
        if symbol:
            self.state.instrument(symbol)
        chosen = [o for o in self.state.open_orders.values() if not symbol or o.symbol == symbol]
        for order in chosen:
            self.cancel(order, now_ms, "CancelByUser")
        return chosen

    def amend(self, request: AmendOrder, now_ms: int) -> Order:
        """Change an open order; one that moved through the book fills. Reduce-only fixes and
        triggers are the caller's next step."""
        state = self.state
        order = self.find(request.ref)
        if not order.is_open:
            raise ExchangeError(ORDER_FINISHED, "order has been filled or cancelled")
        inst = state.instruments[order.symbol]
        qty, price, trigger = request.qty, request.price, request.trigger_price
        take_profit, stop_loss = request.take_profit, request.stop_loss
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
                state.books[order.symbol].remove_order(order, order.price)
                state.open_orders.pop(order.order_id, None)
            order.qty, order.price = new_qty, new_price
            if resting:
                self._rematch(order, now_ms)
        if not changed:
            raise ExchangeError(BAD_PARAM, "params error: the order remains unchanged")
        order.updated_ms = now_ms
        state.touch(order)
        return order

    def _rematch(self, order: Order, now_ms: int) -> None:
        book = self.state.books[order.symbol]
        for fill in book.match(order.side, order.leaves_qty, order.price):
            self.fill(order.symbol, order, order.side, fill, now_ms)
        if order.leaves_qty > 0:
            self.state.open_orders[order.order_id] = order
            book.add_order(order, order.price)


def check_tpsl(side: Side, basis: Decimal, take_profit: Decimal, stop_loss: Decimal) -> None:
    """A long's take-profit lies above `basis` and its stop-loss below; a short's the other way."""
    if side is Side.BUY:
        bad = (take_profit and take_profit <= basis) or (stop_loss and stop_loss >= basis)
    else:
        bad = (take_profit and take_profit >= basis) or (stop_loss and stop_loss <= basis)
    if bad:
        raise ExchangeError(BAD_PARAM, f"params error: takeProfit/stopLoss on the wrong side of {basis}")


def _market_estimate(book: OrderBook, side: Side, market: MarketState) -> Decimal:
    best = book.best_ask() if side is Side.BUY else book.best_bid()
    return best if best is not None else market.mark
