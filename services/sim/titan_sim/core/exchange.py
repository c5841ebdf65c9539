"""The perpetual venue: its state and every operation on it, each concern in its own module.

Pure and deterministic: every method takes the (simulated) time as integer ms, every random
draw comes from a per-symbol `random.Random` seeded from the configured seed, and nothing
here does I/O. The runtime calls in, then drains the outbox to push what changed.

- matching: order entry, the book, amend and cancel;
- triggers: conditional orders, TP/SL, liquidation, reduce-only fixes;
- account: the wallet, positions, margin and leverage;  funding: the eight-hourly payments;
- market_feed: the synthetic walk or the replayed market;  queries: order and execution history.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from titan_common.replay import RecordedKline, ReplayTrade
from titan_sim.core import account, queries
from titan_sim.core.funding import Funding, next_funding_after
from titan_sim.core.market import backfill_minutes, make_market
from titan_sim.core.market_feed import MarketFeed
from titan_sim.core.matching import Matching
from titan_sim.core.model import ExchangeError, Execution, Order, Side
from titan_sim.core.requests import (
    AmendOrder,
    CancelAll,
    ExecutionQuery,
    OrderQuery,
    OrderRef,
    PlaceOrder,
    SetLeverage,
    TradingStop,
)
from titan_sim.core.state import ExchangeConfig, ReceivedOrder, VenueState
from titan_sim.core.triggers import Triggers


class Exchange(VenueState):
    def __init__(self, config: ExchangeConfig, now_ms: int) -> None:
        super().__init__(config, now_ms)
        self.matching = Matching(self)
        self.triggers = Triggers(self, self.matching)
        self.funding = Funding(self)
        self.feed = MarketFeed(self, self.matching, self.triggers)
        self.next_funding_ms.update({s: next_funding_after(now_ms) for s in config.symbols})
        for symbol, inst in self.instruments.items():
            market = make_market(inst, config.seed, now_ms)
            self.markets[symbol] = market
            self.klines[symbol].load(backfill_minutes(market, now_ms, config.backfill_minutes))
            market.last_price = self.klines[symbol].minutes[-1].close if config.backfill_minutes else market.mark
            self.funding.backfill(symbol)
            self.feed.reprice(symbol, now_ms)

    def reset(self, now_ms: int) -> None:
        self.__init__(self.config, now_ms)  # type: ignore[misc]

    # --- orders ----------------------------------------------------------------------------

    def place_order(
        self, request: PlaceOrder, now_ms: int, *, source: str = "api", sent: Mapping[str, Any] | None = None
    ) -> Order:
        """Enter an order; every request is recorded, accepted or refused (`sent`: as it arrived)."""
        record = ReceivedOrder(self.next_seq(), now_ms, source, dict(sent or {}))
        self.received.append(record)
        try:
            order = self.matching.place(request, now_ms)
            if order.is_conditional:
                self.triggers.check(order.symbol, now_ms)
            else:
                self.triggers.after_activity(order.symbol, now_ms)
        except ExchangeError as exc:
            record.ret_code, record.ret_msg = exc.code, exc.message
            raise
        record.order = order
        return order

    def reject_received(
        self, sent: Mapping[str, Any], now_ms: int, code: int, message: str, *, source: str = "api"
    ) -> None:
        """Log a create request that the face refused before it reached the engine."""
        self.received.append(ReceivedOrder(self.next_seq(), now_ms, source, dict(sent), code, message))

    def find_order(self, ref: OrderRef) -> Order:
        return self.matching.find(ref)

    def cancel_order(self, ref: OrderRef, now_ms: int) -> Order:
        return self.matching.cancel_order(ref, now_ms)

    def cancel_all(self, request: CancelAll, now_ms: int) -> list[Order]:
        return self.matching.cancel_all(request, now_ms)

    def amend_order(self, request: AmendOrder, now_ms: int) -> Order:
        order = self.matching.amend(request, now_ms)
        self.triggers.after_activity(order.symbol, now_ms)
        return order

    # --- the account -----------------------------------------------------------------------

    def order_margin(self) -> Decimal:
        return account.order_margin(self.account, self.open_orders.values())

    def available_balance(self) -> Decimal:
        return account.available_balance(self.account, self.open_orders.values(), self.marks())

    def set_leverage(self, request: SetLeverage, now_ms: int) -> None:
        inst = self.instrument(request.symbol)
        account.set_leverage(self.account, inst, request, self.available_balance, now_ms)
        self.touch_position(request.symbol)

    def trading_stop(self, request: TradingStop, now_ms: int) -> None:
        self.triggers.trading_stop(request, now_ms)

    def funding_rate(self, symbol: str) -> Decimal:
        return self.funding.rate(symbol)

    # --- time and the market ---------------------------------------------------------------

    def advance_clock(self, now_ms: int) -> None:
        """Time passes for everything that depends on time alone: funding and candles."""
        self.now_ms = now_ms
        for symbol in self.instruments:
            self.funding.settle_due(symbol, now_ms)
            self.klines[symbol].advance(now_ms)

    def market_tick(self, symbol: str, now_ms: int) -> None:
        self.feed.market_tick(symbol, now_ms)

    def book_noise(self, symbol: str) -> None:
        self.feed.book_noise(symbol)

    def burst_step(self, symbol: str, mid: float, trades: int, side: Side, now_ms: int) -> None:
        self.feed.burst_step(symbol, mid, trades, side, now_ms)

    def set_status(self, symbol: str, status: str) -> None:
        self.feed.set_status(symbol, status)

    def load_recorded(self, history: Iterable[RecordedKline], now_ms: int) -> None:
        self.feed.load_recorded(history, now_ms)

    def replay_trade(self, trade: ReplayTrade) -> None:
        self.feed.replay_trade(trade)

    def put_minute(self, kline: RecordedKline) -> None:
        self.feed.put_minute(kline)

    # --- queries ---------------------------------------------------------------------------

    def query_orders(self, query: OrderQuery) -> tuple[list[Order], int | None]:
        return queries.query_orders(self, query)

    def query_executions(self, query: ExecutionQuery) -> tuple[list[Execution], int | None]:
        return queries.query_executions(self, query)
