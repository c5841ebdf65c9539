"""A spot venue's pure rules: Titan's inventory against the account's coins, and the stops
Titan keeps itself (the venue has no stop orders)."""

from __future__ import annotations

from decimal import Decimal as D

from titan_common.exchanges.types import InstrumentFilters
from titan_common.messages import Side
from titan_execution.core.filters import is_dust
from titan_execution.core.positions import Fill, Position, ShadowBook
from titan_execution.core.reconcile import Action, Verdict, base_asset, diff_positions, titan_holdings, verdict
from titan_execution.core.titan_stops import crossed_stops, feed_is_stale, stop_crossed


def inventory(symbol: str, size: str, stop: str | None = "95") -> Position:
    return Position(
        symbol=symbol, side=Side.BUY, size=D(size), avg_entry=D(100), stop_loss=None if stop is None else D(stop)
    )


def test_the_base_asset_is_the_symbol_without_its_quote_coin() -> None:
    assert base_asset("BTCUSDT") == "BTC"
    assert base_asset("DOGEUSDC") == "DOGE"
    assert base_asset("USDT") == "USDT"


def test_coins_the_account_held_before_are_not_titans() -> None:
    book = [inventory("BTCUSDT", "0.5")]
    # 3 BTC on the account, 0.5 of them Titan's; 10 ETH Titan never bought
    holdings = titan_holdings(book, {"BTC": D(3), "ETH": D(10), "USDT": D(5000)})
    assert [(h.symbol, h.size) for h in holdings] == [("BTCUSDT", D("0.5"))]
    diffs = diff_positions(book, holdings)
    assert diffs == []
    assert verdict(diffs) is Verdict.OK


def test_a_shortfall_is_drift_and_titans_inventory_shrinks_to_what_is_there() -> None:
    book = [inventory("BTCUSDT", "0.5")]
    [diff] = diff_positions(book, titan_holdings(book, {"BTC": D("0.2")}))
    assert (diff.field, diff.shadow, diff.exchange) == ("size", "0.5", "0.2")
    assert diff.action is Action.RESIZE
    assert diff.severity is Verdict.BAD  # beyond the tolerance: someone sold Titan's coins


def test_a_shortfall_within_tolerance_is_a_warning() -> None:
    book = [inventory("BTCUSDT", "1")]
    [diff] = diff_positions(book, titan_holdings(book, {"BTC": D("0.9995")}))
    assert (diff.action, diff.severity) == (Action.RESIZE, Verdict.WARN)


def test_no_coins_left_drops_the_position() -> None:
    book = [inventory("BTCUSDT", "0.5")]
    [diff] = diff_positions(book, titan_holdings(book, {"USDT": D(100)}))
    assert diff.action is Action.DROP


def test_titans_own_stop_counts_as_protection() -> None:
    book = [inventory("BTCUSDT", "0.5", stop=None)]
    diffs = diff_positions(book, titan_holdings(book, {"BTC": D(1)}))
    # no stop yet: the reconcile's guard gives it Titan's own, the venue is never asked
    assert [d.action for d in diffs] == [Action.PROTECT]
    guarded = [inventory("BTCUSDT", "0.5", stop="95")]
    assert diff_positions(guarded, titan_holdings(guarded, {"BTC": D(1)})) == []


def test_a_stop_is_crossed_at_or_beyond_it() -> None:
    assert stop_crossed(Side.BUY, D(95), D(95))
    assert stop_crossed(Side.BUY, D(95), D("94.9"))
    assert not stop_crossed(Side.BUY, D(95), D("95.1"))
    assert stop_crossed(Side.SELL, D(105), D(105))
    assert not stop_crossed(Side.SELL, D(105), D("104.9"))


def test_crossed_stops_names_only_the_positions_to_close() -> None:
    book = [inventory("BTCUSDT", "0.5", stop="95"), inventory("ETHUSDT", "2", stop="95"), inventory("SOLUSDT", "1")]
    book.append(inventory("XRPUSDT", "3", stop=None))  # unguarded: the guard gives it a stop first
    hits = crossed_stops(book, {"BTCUSDT": D(94), "ETHUSDT": D(96), "XRPUSDT": D(1)})
    assert [(h.symbol, h.side, h.size, h.price) for h in hits] == [("BTCUSDT", Side.BUY, D("0.5"), D(94))]


def test_a_price_feed_older_than_its_limit_is_stale() -> None:
    assert feed_is_stale(None, 10_000, 3_000)
    assert not feed_is_stale(7_000, 10_000, 3_000)
    assert feed_is_stale(6_999, 10_000, 3_000)


def test_a_remainder_below_the_venues_minimum_is_dust() -> None:
    filters = InstrumentFilters(
        symbol="BTCUSDT", tick_size=D("0.01"), qty_step=D("0.001"), min_qty=D("0.001"),
        max_qty=D(100), min_notional=D(1),
    )  # fmt: skip
    assert is_dust(D("0.000995"), filters)  # floors to nothing on the step
    assert not is_dust(D("0.001995"), filters)  # 0.001 of it can still be sold


def test_writing_off_dust_ends_the_round_trip_with_what_was_sold() -> None:
    book = ShadowBook()
    book.apply(Fill("e1", "BTCUSDT", Side.BUY, D("0.009995"), D(100), D("0.0005"), 1))
    book.apply(Fill("e2", "BTCUSDT", Side.SELL, D("0.009"), D(110), D("0.0005"), 2))
    trade = book.write_off("BTCUSDT", 3)
    assert book.position("BTCUSDT").is_flat
    assert trade is not None
    assert (trade.qty, trade.exit_price, trade.pnl) == (D("0.009995"), D(110), D("0.090"))
    # nothing sold yet: no round trip to close, the remainder simply leaves the book
    fresh = ShadowBook()
    fresh.apply(Fill("e3", "ETHUSDT", Side.BUY, D("0.0004"), D(100), D(0), 1))
    assert fresh.write_off("ETHUSDT", 2) is None
    assert fresh.position("ETHUSDT").is_flat
