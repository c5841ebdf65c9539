"""Position accounting against hand calculations."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from titan_common.exchanges.types import ExecType
from titan_common.messages import Side
from titan_execution.core.positions import (
    Fill,
    Position,
    RecentIds,
    ShadowBook,
    adds_risk,
    adopt,
    apply_fill,
    trip_of,
    with_trip,
)

N = 0


def fill(side: Side, qty: str, price: str, fee: str = "0", ts: int = 1, exec_type: ExecType = ExecType.TRADE) -> Fill:
    global N
    N += 1
    return Fill(f"e{N}", "BTCUSDT", side, D(qty), D(price), D(fee), ts, exec_type)


def test_adding_averages_the_entry() -> None:
    p = Position("BTCUSDT")
    p, _ = apply_fill(p, fill(Side.BUY, "1", "100", "0.055"))
    p, _ = apply_fill(p, fill(Side.BUY, "3", "104", "0.1716"))
    assert p.side is Side.BUY
    assert p.size == D(4)
    assert p.avg_entry == D(103)  # (100*1 + 104*3) / 4
    assert p.fees == D("0.2266")
    assert p.unrealised_pnl(D(110)) == D(28)  # (110-103)*4


def test_long_round_trip_pnl_fees_and_r() -> None:
    p = Position("BTCUSDT", stop_loss=D(95))
    p, _ = apply_fill(p, fill(Side.BUY, "2", "100", "0.11", ts=10))
    p, trade = apply_fill(p, fill(Side.SELL, "1", "110", "0.0605", ts=20))
    assert trade is None
    assert (p.size, p.realised_pnl) == (D(1), D(10))
    p, trade = apply_fill(p, fill(Side.SELL, "1", "120", "0.066", ts=30))
    assert p.is_flat
    assert p.side is None
    assert trade is not None
    assert trade.side is Side.BUY
    assert (trade.qty, trade.entry_price, trade.exit_price) == (D(2), D(100), D(115))
    assert trade.pnl == D(30)  # 10 + 20
    assert trade.fees == D("0.2365")
    assert trade.net_pnl == D("29.7635")
    # risk = |100 - 95| * 2 = 10 -> R = 29.7635 / 10
    assert trade.r_multiple == D("2.97635")
    assert (trade.opened_ms, trade.closed_ms) == (10, 30)


def test_short_pnl_sign() -> None:
    p, _ = apply_fill(Position("BTCUSDT"), fill(Side.SELL, "2", "100"))
    assert p.unrealised_pnl(D(90)) == D(20)
    p, trade = apply_fill(p, fill(Side.BUY, "2", "105"))
    assert trade is not None
    assert trade.pnl == D(-10)


def test_flip_closes_then_opens_the_other_way_with_a_split_fee() -> None:
    p, _ = apply_fill(Position("BTCUSDT"), fill(Side.BUY, "1", "100"))
    p, trade = apply_fill(p, fill(Side.SELL, "3", "90", "0.3"))
    assert trade is not None
    assert trade.pnl == D(-10)
    assert trade.fees == D("0.1")
    assert (p.side, p.size, p.avg_entry) == (Side.SELL, D(2), D(90))
    assert p.trip_fees == D("0.2")


def test_funding_only_charges_a_fee() -> None:
    p, _ = apply_fill(Position("BTCUSDT"), fill(Side.BUY, "1", "100"))
    p2, trade = apply_fill(p, fill(Side.BUY, "1", "100", "0.01", exec_type=ExecType.FUNDING))
    assert trade is None
    assert (p2.size, p2.avg_entry, p2.fees) == (p.size, p.avg_entry, D("0.01"))


@pytest.mark.parametrize("exec_type", [t for t in ExecType if t is not ExecType.FUNDING])
def test_every_execution_type_but_funding_changes_the_position(exec_type: ExecType) -> None:
    p, _ = apply_fill(Position("BTCUSDT", stop_loss=D(95)), fill(Side.BUY, "2", "100", "0.1"))
    p, trade = apply_fill(p, fill(Side.SELL, "2", "90", "0.2", ts=5, exec_type=exec_type))
    assert p.is_flat
    assert trade is not None
    assert trade.closed_by is exec_type
    assert trade.pnl == D(-20)
    assert trade.net_pnl == D("-20.3")


def test_a_liquidation_closes_at_the_bust_price_with_its_real_loss() -> None:
    p, _ = apply_fill(Position("BTCUSDT", stop_loss=D("97.5")), fill(Side.BUY, "1", "100", "0.055", ts=1))
    p, trade = apply_fill(p, fill(Side.SELL, "1", "98", "0.054", ts=9, exec_type=ExecType.LIQUIDATION))
    assert p.is_flat
    assert trade is not None
    assert trade.closed_by is ExecType.LIQUIDATION
    assert trade.net_pnl == D("-2.109")
    assert trade.r_multiple == D("-0.8436")  # the bust came before the 2.5% stop: 50x's trap


def test_an_adl_reduces_the_position() -> None:
    p, _ = apply_fill(Position("BTCUSDT"), fill(Side.SELL, "3", "100"))
    p, trade = apply_fill(p, fill(Side.BUY, "1", "110", exec_type=ExecType.ADL))
    assert trade is None
    assert (p.side, p.size, p.realised_pnl) == (Side.SELL, D(2), D(-10))


def test_duplicate_exec_id_is_applied_once() -> None:
    book = ShadowBook()
    first = fill(Side.BUY, "1", "100")
    assert book.apply(first) == (True, None)
    assert book.apply(first) == (False, None)  # same execution from REST after WS
    assert book.position("BTCUSDT").size == D(1)


def test_bad_fills() -> None:
    with pytest.raises(ValueError, match="applied to"):
        apply_fill(Position("ETHUSDT"), fill(Side.BUY, "1", "1"))
    with pytest.raises(ValueError, match="positive"):
        apply_fill(Position("BTCUSDT"), fill(Side.BUY, "0", "1"))


def test_the_seen_exec_ids_are_bounded_oldest_first() -> None:
    recent = RecentIds(limit=3)
    for exec_id in ("a", "b", "c", "d"):
        recent.add(exec_id)
    assert len(recent) == 3
    assert "a" not in recent
    assert all(i in recent for i in ("b", "c", "d"))


def test_a_round_trip_survives_its_record() -> None:
    p, _ = apply_fill(Position("BTCUSDT", stop_loss=D(95)), fill(Side.BUY, "2", "100", "0.1", ts=1))
    p, _ = apply_fill(p, fill(Side.SELL, "1", "110", "0.05", ts=2))
    stored = trip_of(p)
    restored = with_trip(Position("BTCUSDT", Side.BUY, p.size, p.avg_entry, opened_ms=1), stored)
    _, trade = apply_fill(restored, fill(Side.SELL, "1", "120", "0.05", ts=3))
    assert trade is not None
    assert (trade.qty, trade.entry_price, trade.exit_price, trade.pnl) == (D(2), D(100), D(115), D(30))
    assert trade.r_multiple is not None


def test_an_adopted_or_unrecorded_position_closes_with_its_real_qty_and_entry() -> None:
    adopted = adopt(Position("ETHUSDT"), Side.SELL, D(3), D(2000), D(2100))
    _, trade = apply_fill(adopted, fill_on("ETHUSDT", Side.BUY, "3", "1900"))
    assert trade is not None
    assert (trade.qty, trade.entry_price, trade.pnl) == (D(3), D(2000), D(300))
    unrecorded = with_trip(Position("ETHUSDT", Side.SELL, D(3), D(2000)), None)
    _, trade = apply_fill(unrecorded, fill_on("ETHUSDT", Side.BUY, "3", "1900"))
    assert trade is not None
    assert (trade.qty, trade.entry_price) == (D(3), D(2000))


def test_only_a_fill_that_opens_or_grows_exposure_adds_risk() -> None:
    long, _ = apply_fill(Position("BTCUSDT"), fill(Side.BUY, "3", "100"))
    assert adds_risk(Position("BTCUSDT"), fill(Side.BUY, "1", "100"))  # opens
    assert adds_risk(long, fill(Side.BUY, "1", "100"))  # grows
    assert adds_risk(long, fill(Side.SELL, "4", "100"))  # flips
    # a stop-out in pieces only reduces
    assert not adds_risk(long, fill(Side.SELL, "1", "95"))
    assert not adds_risk(long, fill(Side.SELL, "3", "95"))
    assert not adds_risk(long, fill(Side.SELL, "1", "95", exec_type=ExecType.FUNDING))


def fill_on(symbol: str, side: Side, qty: str, price: str) -> Fill:
    global N
    N += 1
    return Fill(f"e{N}", symbol, side, D(qty), D(price), D(0), N)
