"""Pure tests of the simulator's core: no I/O, time passed in as integers."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

import pytest

from titan_sim.api.bybit_requests import enter_order
from titan_sim.core.account import MAKER_FEE_RATE, TAKER_FEE_RATE, Account
from titan_sim.core.book import OrderBook
from titan_sim.core.exchange import Exchange
from titan_sim.core.funding import FUNDING_INTERVAL_MS
from titan_sim.core.klines import Candle, KlineSeries, bucket_start
from titan_sim.core.model import (
    STATUS_TRANSITIONS,
    ExchangeError,
    InvalidTransition,
    Order,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from titan_sim.core.requests import AmendOrder, OrderRef, SetLeverage, TradingStop
from titan_sim.core.state import ExchangeConfig

D = Decimal
T0 = 1_700_000_000_000


def make(seed: int = 1, balance: str = "10000", symbols: tuple[str, ...] = ("BTCUSDT", "ETHUSDT")) -> Exchange:
    return Exchange(ExchangeConfig(seed, symbols, D(balance), backfill_minutes=120), T0)


def order(side: Side = Side.BUY, qty: str = "1", price: str = "100", seq: int = 1) -> Order:
    return Order(f"o{seq}", "", "X", side, OrderType.LIMIT, D(qty), D(price), TimeInForce.GTC, T0, seq)


def place(ex: Exchange, now: int = T0, **kw: Any) -> Order:
    params = {"category": "linear", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Market", "qty": "0.01", **kw}
    return enter_order(ex, params, now)  # the Bybit face's parsing, then the typed request


def code_of(fn: Any) -> int:
    with pytest.raises(ExchangeError) as err:
        fn()
    return err.value.code


# --- order status table -----------------------------------------------------------------


def test_terminal_statuses_have_no_exit() -> None:
    for status in (OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.DEACTIVATED):
        assert STATUS_TRANSITIONS[status] == frozenset()


def test_transitions_outside_the_table_raise() -> None:
    o = order()
    o.transition(OrderStatus.NEW, T0)
    o.transition(OrderStatus.PARTIALLY_FILLED, T0)
    o.transition(OrderStatus.FILLED, T0)
    with pytest.raises(InvalidTransition):
        o.transition(OrderStatus.CANCELLED, T0)
    u = order()
    u.transition(OrderStatus.UNTRIGGERED, T0)
    with pytest.raises(InvalidTransition):
        u.transition(OrderStatus.FILLED, T0)
    assert u.history == [OrderStatus.CREATED]


# --- book ----------------------------------------------------------------------------------


def test_book_price_time_priority_and_synthetic_after_users() -> None:
    book = OrderBook("X")
    book.set_synthetic(Side.SELL, D(101), D(5))
    first, second = order(Side.SELL, "1", "101", 1), order(Side.SELL, "2", "101", 2)
    for o in (first, second):
        o.transition(OrderStatus.NEW, T0)
        book.add_order(o, o.price)
    book.set_synthetic(Side.SELL, D(102), D(5))
    assert book.depth(Side.SELL, 2) == [(D(101), D(8)), (D(102), D(5))]
    assert book.fillable(Side.BUY, D(101)) == D(8)
    fills = book.match(Side.BUY, D("8.5"), None)
    assert [(f.price, f.qty, f.maker) for f in fills] == [
        (D(101), D(1), first),
        (D(101), D(2), second),
        (D(101), D(5), None),
        (D(102), D("0.5"), None),
    ]
    assert book.best_ask() == D(102)


def test_book_sweep_fills_crossed_user_orders() -> None:
    book = OrderBook("X")
    bid = order(Side.BUY, "1", "99.5")
    bid.transition(OrderStatus.NEW, T0)
    book.add_order(bid, bid.price)
    book.set_synthetic(Side.BUY, D(99), D(3))
    book.set_synthetic(Side.BUY, D(98), D(3))
    fills = book.sweep(Side.BUY, D(98))
    assert [(f.price, f.maker) for f in fills] == [(D("99.5"), bid)]
    assert book.best_bid() == D(98)


# --- account arithmetic -------------------------------------------------------------------


def test_account_open_add_reduce_flip() -> None:
    acct = Account(D(1000))
    acct.apply_fill("X", Side.BUY, D(2), D(100), D("0.11"), T0)
    acct.apply_fill("X", Side.BUY, D(2), D(110), D("0.121"), T0)
    pos = acct.position("X")
    assert (pos.side, pos.size, pos.avg_price) == (Side.BUY, D(4), D(105))
    assert pos.unrealised_pnl(D(100)) == D(-20)
    outcome = acct.apply_fill("X", Side.SELL, D(5), D(120), D("0.33"), T0)  # close 4 at +15, open 1 short
    assert outcome.closed_size == D(4)
    assert outcome.realised_pnl == D(60)
    assert (pos.side, pos.size, pos.avg_price) == (Side.SELL, D(1), D(120))
    assert acct.wallet_balance == D(1000) - D("0.11") - D("0.121") - D("0.33") + D(60)
    assert acct.cum_realised_pnl == acct.wallet_balance - D(1000)


def test_bust_price() -> None:
    acct = Account(D(1000))
    acct.apply_fill("X", Side.BUY, D(1), D(100), D(0), T0)
    assert acct.position("X").bust_price() == D(90)  # 10x: 10% down eats the margin


# --- engine: order entry ------------------------------------------------------------------


def test_market_order_fills_at_the_book_with_taker_fee() -> None:
    ex = make()
    book = ex.books["BTCUSDT"]
    best_ask, size = book.depth(Side.SELL, 1)[0]
    o = place(ex, qty=str(size))
    assert o.status is OrderStatus.FILLED
    assert o.cum_exec_value == best_ask * size
    assert o.cum_exec_fee == best_ask * size * TAKER_FEE_RATE
    assert ex.account.wallet_balance == D(10000) - o.cum_exec_fee
    out = ex.drain()
    assert list(out.orders) == [o.order_id]
    assert len(out.executions) == 1
    assert out.wallet
    assert out.trades["BTCUSDT"][0].taker_side is Side.BUY


def test_resting_limit_fills_as_maker_when_the_market_trades_through() -> None:
    ex = make()
    best_bid = ex.books["BTCUSDT"].best_bid()
    assert best_bid is not None
    o = place(ex, orderType="Limit", price=str(best_bid + D("0.1")), qty="0.01")
    assert o.status is OrderStatus.NEW
    ex.markets["BTCUSDT"].mid = float(best_bid) - 50
    ex.feed.reprice("BTCUSDT", T0 + 1)
    assert o.status is OrderStatus.FILLED
    execution = ex.executions[-1]
    assert execution.is_maker
    assert execution.exec_fee == o.price * D("0.01") * MAKER_FEE_RATE


def test_time_in_force_variants() -> None:
    ex = make()
    ask, size = ex.books["BTCUSDT"].depth(Side.SELL, 1)[0]
    post = place(ex, orderType="Limit", price=str(ask), timeInForce="PostOnly")
    assert post.status is OrderStatus.CANCELLED
    assert post.cum_exec_qty == 0
    fok = place(ex, orderType="Limit", price=str(ask), qty=str(size + D("0.01")), timeInForce="FOK")
    assert fok.status is OrderStatus.CANCELLED
    assert fok.cum_exec_qty == 0
    ioc = place(ex, orderType="Limit", price=str(ask), qty=str(size + D("0.01")), timeInForce="IOC")
    assert ioc.status is OrderStatus.CANCELLED
    assert ioc.cum_exec_qty == size
    assert ioc.history == [OrderStatus.CREATED, OrderStatus.PARTIALLY_FILLED]


def test_entry_errors() -> None:
    ex = make()
    assert code_of(lambda: place(ex, qty="0.0001")) == 110017
    assert code_of(lambda: place(ex, qty="100")) == 110007
    assert code_of(lambda: place(ex, orderType="Limit", price="100", qty="0.001")) == 110094
    assert code_of(lambda: place(ex, reduceOnly=True)) == 110017
    assert code_of(lambda: place(ex, side="Sideways")) == 10001
    assert code_of(lambda: place(ex, symbol="NOPEUSDT")) == 10001
    place(ex, orderLinkId="same")
    assert code_of(lambda: place(ex, orderLinkId="same")) == 110072
    assert code_of(lambda: ex.cancel_order(OrderRef(order_id="nope"), T0)) == 110001
    assert code_of(lambda: ex.cancel_order(OrderRef(order_link_id="same"), T0)) == 110008
    assert [r.ret_code for r in ex.received] == [110017, 110007, 110094, 110017, 10001, 10001, 0, 110072]


def test_reduce_only_is_clipped_to_the_position() -> None:
    ex = make()
    place(ex, qty="0.02")
    closing = place(ex, side="Sell", qty="0.05", reduceOnly=True)
    assert closing.qty == D("0.02")
    assert closing.status is OrderStatus.FILLED
    assert ex.account.position("BTCUSDT").side is None


def test_amend_moves_the_order_and_can_cross() -> None:
    ex = make()
    bid = ex.books["BTCUSDT"].best_bid()
    assert bid is not None
    o = place(ex, orderType="Limit", price=str(bid - 10), qty="0.01")
    ex.amend_order(AmendOrder(OrderRef(o.order_id), qty=D("0.02")), T0)
    assert o.qty == D("0.02")
    assert o.status is OrderStatus.NEW
    ask = ex.books["BTCUSDT"].best_ask()
    ex.amend_order(AmendOrder(OrderRef(o.order_id), price=ask), T0)
    assert o.cum_exec_qty > 0
    assert code_of(lambda: ex.amend_order(AmendOrder(OrderRef(o.order_id)), T0)) in (10001, 110008)


def test_leverage_and_trading_stop_errors() -> None:
    ex = make()
    ex.set_leverage(SetLeverage("BTCUSDT", D(20), D(20)), T0)
    assert code_of(lambda: ex.set_leverage(SetLeverage("BTCUSDT", D(20), D(20)), T0)) == 110043
    assert code_of(lambda: ex.trading_stop(TradingStop("BTCUSDT", stop_loss=D(1)), T0)) == 10001  # flat
    place(ex)
    ex.trading_stop(TradingStop("BTCUSDT", stop_loss=D(1)), T0)
    assert code_of(lambda: ex.trading_stop(TradingStop("BTCUSDT", stop_loss=D(1)), T0)) == 34040


# --- engine: triggers, funding, liquidation -----------------------------------------------


def test_conditional_order_triggers_on_last_price() -> None:
    ex = make()
    mark = ex.markets["BTCUSDT"].mark
    stop = place(ex, triggerPrice=str(mark + 100), triggerDirection=1)
    assert stop.status is OrderStatus.UNTRIGGERED
    ex.burst_step("BTCUSDT", float(mark) + 300, 5, Side.BUY, T0 + 10)
    assert stop.status is OrderStatus.FILLED
    assert stop.history[:3] == [OrderStatus.CREATED, OrderStatus.UNTRIGGERED, OrderStatus.TRIGGERED]


def test_take_profit_and_stop_loss_on_mark() -> None:
    ex = make()
    mark = ex.markets["BTCUSDT"].mark
    place(ex, qty="0.01", takeProfit=str(mark + 200), stopLoss=str(mark - 200))
    pos = ex.account.position("BTCUSDT")
    assert (pos.take_profit, pos.stop_loss) == (mark + 200, mark - 200)
    ex.burst_step("BTCUSDT", float(mark) - 300, 3, Side.SELL, T0 + 10)
    assert pos.side is None
    closing = ex.order_log[-1]
    assert closing.stop_order_type == "StopLoss"
    assert closing.create_type == "CreateByStopLoss"


def test_liquidation_at_the_bust_price_loses_the_margin() -> None:
    ex = make()
    ex.set_leverage(SetLeverage("BTCUSDT", D(50), D(50)), T0)
    place(ex, qty="0.1")
    pos = ex.account.position("BTCUSDT")
    margin, bust = pos.initial_margin, pos.bust_price()
    wallet = ex.account.wallet_balance
    ex.markets["BTCUSDT"].mid = float(bust) * 0.99
    ex.triggers.check("BTCUSDT", T0 + 10)
    assert pos.side is None
    liq = ex.executions[-1]
    assert liq.exec_type == "BustTrade"
    assert liq.exec_fee == 0
    assert ex.account.wallet_balance == pytest.approx(wallet - margin, abs=D("0.01"))  # bust rounded to tick


def test_funding_every_eight_hours() -> None:
    ex = make()
    place(ex, side="Sell", qty="0.1")
    pos = ex.account.position("BTCUSDT")
    nxt = ex.next_funding_ms["BTCUSDT"]
    rate, mark = ex.funding_rate("BTCUSDT"), ex.markets["BTCUSDT"].mark
    wallet = ex.account.wallet_balance
    ex.advance_clock(nxt)
    funding = ex.executions[-1]
    assert funding.exec_type == "Funding"
    assert funding.fee_rate == rate
    assert funding.exec_fee == -(pos.size * mark * rate)  # a short receives a positive rate
    assert ex.account.wallet_balance == wallet - funding.exec_fee
    assert ex.next_funding_ms["BTCUSDT"] == nxt + FUNDING_INTERVAL_MS
    ex.advance_clock(nxt + 3 * FUNDING_INTERVAL_MS)  # a fast clock settles every missed interval
    assert len([e for e in ex.executions if e.exec_type == "Funding"]) == 4


# --- market, klines, determinism ----------------------------------------------------------


def test_backfill_and_live_candles_join() -> None:
    ex = make()
    series = ex.klines["BTCUSDT"]
    assert len(series.minutes) == 120
    assert series.minutes[-1].start == (T0 // 60_000 - 1) * 60_000
    ex.market_tick("BTCUSDT", T0 + 90_000)
    assert series.minutes[-1].start == (T0 + 90_000) // 60_000 * 60_000
    starts = [c.start for c in series.minutes]
    assert all(b - a == 60_000 for a, b in itertools.pairwise(starts))


def test_kline_aggregation() -> None:
    series = KlineSeries()
    base = 1_700_000_100_000 // 3_600_000 * 3_600_000
    series.load([Candle(base + i * 60_000, D(i), D(i + 2), D(i - 1), D(i + 1), D(1), D(i)) for i in range(120)])
    bars = series.query("60", None, None, 5)
    assert [b.start for b in bars] == [base + 3_600_000, base]
    last = bars[0]
    assert (last.open, last.close, last.high, last.low, last.volume) == (D(60), D(120), D(121), D(59), D(60))
    assert bucket_start("W", 1_700_000_000_000) % 86_400_000 == 0
    assert len(series.query("1", base + 60_000 * 100, None, 1000)) == 20


def test_same_seed_same_flow_same_fills() -> None:
    def run(seed: int) -> list[tuple[str, str, str]]:
        ex = make(seed)
        now = T0
        for i in range(50):
            now += 100
            for symbol in ex.instruments:
                ex.market_tick(symbol, now)
            if i % 10 == 0:
                place(ex, now, side="Buy" if i % 20 else "Sell", qty="0.05")
        return [(str(e.exec_price), str(e.exec_qty), e.side.value) for e in ex.executions]

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_market_walk_keeps_the_book_uncrossed() -> None:
    ex = make()
    now = T0
    for _ in range(300):
        now += 1000
        ex.market_tick("ETHUSDT", now)
        book = ex.books["ETHUSDT"]
        bid, ask = book.best_bid(), book.best_ask()
        assert bid is not None
        assert ask is not None
        assert bid < ask
        assert len(book.depth(Side.BUY, 100)) >= 50
