"""What fires when the price crosses a level: conditional orders, the position's take-profit
and stop-loss, liquidation at the bust price; and reduce-only orders kept within the position."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from titan_sim.core.account import Position
from titan_sim.core.matching import Matching, check_tpsl
from titan_sim.core.model import ZERO, ExchangeError, Order, OrderStatus, OrderType, Side, TimeInForce
from titan_sim.core.requests import TradingStop
from titan_sim.core.ret_codes import BAD_PARAM, TPSL_NOT_MODIFIED
from titan_sim.core.state import VenueState


class Triggers:
    def __init__(self, state: VenueState, matching: Matching) -> None:
        self.state = state
        self.matching = matching

    def after_activity(self, symbol: str, now_ms: int) -> None:
        self.fix_reduce_only(symbol, now_ms)
        self.check(symbol, now_ms)

    def fix_reduce_only(self, symbol: str, now_ms: int) -> None:
        """Reduce-only orders may never outgrow the position they reduce."""
        state = self.state
        pos = state.account.position(symbol)
        for order in [o for o in state.open_orders.values() if o.symbol == symbol and o.reduce_only]:
            closable = pos.size if pos.side is order.side.opposite else ZERO
            if closable <= 0:
                self.matching.cancel(order, now_ms, "CancelByReduceOnly")
            elif order.leaves_qty > closable and order.status is not OrderStatus.UNTRIGGERED:
                order.qty = order.cum_exec_qty + closable
                state.touch(order)

    def check(self, symbol: str, now_ms: int) -> None:
        """Conditional orders against the last price; liquidation, then TP/SL, against mark."""
        state = self.state
        market = state.markets[symbol]
        last = market.last_price or market.mark
        for order in list(state.conditionals[symbol].values()):
            rising = order.trigger_direction == 1 and last >= order.trigger_price
            falling = order.trigger_direction == 2 and last <= order.trigger_price
            if rising or falling:
                self._trigger(order, now_ms)
        pos = state.account.positions.get(symbol)
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

    def trading_stop(self, request: TradingStop, now_ms: int) -> None:
        """Set the position's take-profit, stop-loss or trailing stop, then see whether one fires."""
        state = self.state
        symbol = request.symbol
        state.instrument(symbol)
        if request.position_idx != 0:
            raise ExchangeError(BAD_PARAM, "params error: position idx not match position mode (one-way)")
        pos = state.account.position(symbol)
        if pos.side is None:
            raise ExchangeError(BAD_PARAM, "params error: can not set tp/sl/ts for zero position")
        wanted = {
            "take_profit": request.take_profit,
            "stop_loss": request.stop_loss,
            "trailing_stop": request.trailing_stop,
        }
        given = {k: v for k, v in wanted.items() if v is not None}
        if not given or all(getattr(pos, k) == v for k, v in given.items()):
            raise ExchangeError(TPSL_NOT_MODIFIED, "not modified")
        mark = state.markets[symbol].mark
        check_tpsl(pos.side, mark, given.get("take_profit", ZERO), given.get("stop_loss", ZERO))
        for key, value in given.items():
            setattr(pos, key, value)
        pos.updated_ms = now_ms
        state.touch_position(symbol)
        self.check(symbol, now_ms)

    def _trigger(self, order: Order, now_ms: int) -> None:
        state = self.state
        state.conditionals[order.symbol].pop(order.order_id, None)
        order.transition(OrderStatus.TRIGGERED, now_ms)
        pos = state.account.position(order.symbol)
        if order.reduce_only or order.close_on_trigger:
            closable = pos.size if pos.side is order.side.opposite else ZERO
            if order.reduce_only and closable < order.qty:
                order.qty = max(closable, order.cum_exec_qty)
        if order.qty <= 0:
            order.reject_reason = "EC_ReduceOnlySetButNotReducing"
            order.transition(OrderStatus.REJECTED, now_ms)
            state.open_orders.pop(order.order_id, None)
            state.touch(order)
            return
        estimate = order.price if order.order_type is OrderType.LIMIT else state.markets[order.symbol].mark
        try:
            state.open_orders.pop(order.order_id, None)
            self.matching.check_margin(order, estimate)
        except ExchangeError:
            order.reject_reason = "EC_InsufficientBalance"
            order.transition(OrderStatus.REJECTED, now_ms)
            state.touch(order)
            return
        self.matching.execute(order, now_ms)
        self.fix_reduce_only(order.symbol, now_ms)

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
        self.state.register(order)
        order.transition(OrderStatus.UNTRIGGERED, now_ms)
        order.transition(OrderStatus.TRIGGERED, now_ms)
        self.matching.execute(order, now_ms)
        self.fix_reduce_only(pos.symbol, now_ms)

    def _closing_order(self, pos: Position, now_ms: int, **fields: Any) -> Order:
        """A venue-generated reduce-only market order that closes the whole position."""
        assert pos.side is not None
        state = self.state
        return Order(
            order_id=state.new_id(),
            order_link_id="",
            symbol=pos.symbol,
            side=pos.side.opposite,
            order_type=OrderType.MARKET,
            qty=pos.size,
            price=ZERO,
            time_in_force=TimeInForce.IOC,
            created_ms=now_ms,
            updated_ms=now_ms,
            seq=state.next_seq(),
            reduce_only=True,
            **fields,
        )

    def _liquidate(self, pos: Position, now_ms: int) -> None:
        """Simplified liquidation: when mark crosses the bust price, every order of the symbol
        is cancelled and the whole position is closed at the bust price (no fee), so the
        account loses exactly the position's initial margin. No book interaction, no ADL."""
        assert pos.side is not None
        state = self.state
        symbol = pos.symbol
        for order in [o for o in state.open_orders.values() if o.symbol == symbol]:
            self.matching.cancel(order, now_ms, "CancelAllBeforeLiq")
        inst = state.instruments[symbol]
        order = self._closing_order(pos, now_ms, create_type="CreateByLiq")
        state.register(order)
        self.matching.apply_fill(
            order, inst.round_price(pos.bust_price()), pos.size, now_ms, is_maker=False, exec_type="BustTrade"
        )
