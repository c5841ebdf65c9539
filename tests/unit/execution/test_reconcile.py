from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

from titan_common.exchanges.types import ExchangeOrder, ExchangePosition, OrderStatus
from titan_common.messages import Side
from titan_execution.core.positions import Position
from titan_execution.core.reconcile import (
    Action,
    Verdict,
    diff_leverage,
    diff_orders,
    diff_positions,
    foreign_fill_diffs,
    verdict,
)


def real(symbol: str, side: Side, size: str, avg: str = "100", stop: str | None = "90") -> ExchangePosition:
    return ExchangePosition(
        symbol=symbol,
        side=side,
        size=D(size),
        avg_price=D(avg),
        mark_price=D(avg),
        leverage=D(5),
        stop_loss=D(stop) if stop else None,
        take_profit=None,
        unrealised_pnl=D(0),
        cum_realised_pnl=D(0),
        updated_ms=1,
    )


def mine(symbol: str, side: Side, size: str, avg: str = "100") -> Position:
    return Position(symbol=symbol, side=side, size=D(size), avg_entry=D(avg))


def test_identical_views_are_ok() -> None:
    diffs = diff_positions([mine("BTCUSDT", Side.BUY, "1")], [real("BTCUSDT", Side.BUY, "1")])
    assert diffs == []
    assert verdict(diffs) is Verdict.OK


def test_unknown_exchange_position_is_adopted_manage_only() -> None:
    diffs = diff_positions([], [real("SOLUSDT", Side.SELL, "3")])
    assert [(d.symbol, d.action, d.severity) for d in diffs] == [("SOLUSDT", Action.ADOPT, Verdict.WARN)]
    assert verdict(diffs) is Verdict.WARN
    # adopted but with no stop on the exchange: that part is BAD until protected
    unprotected = diff_positions([], [real("SOLUSDT", Side.SELL, "3", stop=None)])
    assert verdict(unprotected) is Verdict.BAD


def test_position_gone_on_the_exchange_is_dropped() -> None:
    diffs = diff_positions([mine("ETHUSDT", Side.BUY, "2")], [real("ETHUSDT", Side.BUY, "0")])
    assert [(d.action, d.severity) for d in diffs] == [(Action.DROP, Verdict.WARN)]


def test_size_drift_within_and_beyond_tolerance() -> None:
    small = diff_positions([mine("BTCUSDT", Side.BUY, "1.0000")], [real("BTCUSDT", Side.BUY, "1.0005")])
    assert [(d.field, d.severity) for d in small] == [("size", Verdict.WARN)]
    large = diff_positions([mine("BTCUSDT", Side.BUY, "1")], [real("BTCUSDT", Side.BUY, "1.5")])
    assert [(d.field, d.severity) for d in large] == [("size", Verdict.BAD)]
    flipped = diff_positions([mine("BTCUSDT", Side.BUY, "1")], [real("BTCUSDT", Side.SELL, "1")])
    assert [(d.field, d.severity) for d in flipped] == [("side", Verdict.BAD)]


def test_unprotected_position_is_bad() -> None:
    diffs = diff_positions([mine("BTCUSDT", Side.BUY, "1")], [real("BTCUSDT", Side.BUY, "1", stop=None)])
    assert [(d.action, d.severity) for d in diffs] == [(Action.PROTECT, Verdict.BAD)]


def test_unknown_open_order_is_tracked() -> None:
    order = ExchangeOrder(
        order_id="o9",
        client_order_id="human-click",
        symbol="BTCUSDT",
        side=Side.BUY,
        order_type="Limit",
        qty=D(1),
        price=D(1),
        status=OrderStatus.NEW,
        avg_price=None,
        cum_exec_qty=D(0),
        leaves_qty=D(1),
        reduce_only=False,
        stop_loss=None,
        take_profit=None,
        trigger_price=None,
        created_ms=1,
        updated_ms=1,
    )
    assert [d.action for d in diff_orders({"t-known"}, [order])] == [Action.TRACK_ORDER]
    assert diff_orders({"human-click"}, [order]) == []


def test_repeated_warn_becomes_bad() -> None:
    warn = diff_positions([mine("ETHUSDT", Side.BUY, "2")], [])
    assert verdict(warn, previous=Verdict.OK) is Verdict.WARN
    assert verdict(warn, previous=Verdict.WARN) is Verdict.BAD
    assert verdict([], previous=Verdict.WARN) is Verdict.OK


def test_foreign_fills_become_adoptions_for_open_positions_only() -> None:
    exchange = [real("SOLUSDT", Side.SELL, "2", stop="30"), real("ETHUSDT", Side.BUY, "0", stop=None)]
    diffs = foreign_fill_diffs({"SOLUSDT", "ETHUSDT"}, exchange)
    assert [(d.symbol, d.field, d.action, d.severity) for d in diffs] == [
        ("SOLUSDT", "foreign_fill", Action.ADOPT, Verdict.WARN)
    ]


def test_a_venue_leverage_other_than_titans_is_drift_corrected_by_setting_it_back() -> None:
    ours = [replace(mine("BTCUSDT", Side.BUY, "1"), leverage=4), replace(mine("ETHUSDT", Side.BUY, "1"), leverage=5)]
    venue = [real("BTCUSDT", Side.BUY, "1"), real("ETHUSDT", Side.BUY, "1")]  # both at 5x on the venue
    diffs = diff_leverage(ours, venue)
    assert [(d.kind, d.symbol, d.shadow, d.exchange, d.action) for d in diffs] == [
        ("LEVERAGE", "BTCUSDT", "4", "5", Action.SET_LEVERAGE)
    ]
    assert verdict(diffs) is Verdict.WARN


def test_leverage_titan_did_not_decide_is_not_drift() -> None:
    assert diff_leverage([mine("BTCUSDT", Side.BUY, "1")], [real("BTCUSDT", Side.BUY, "1")]) == []
