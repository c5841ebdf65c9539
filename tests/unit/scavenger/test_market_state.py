"""The runtime's in-memory market state and the intake's message handling (no I/O involved)."""

from __future__ import annotations

from decimal import Decimal as D

from tests.unit.scavenger.test_sprung import T0, trap
from titan_common.exchanges import InstrumentFilters, PublicEvent
from titan_common.exchanges.bybit import parsing as bybit
from titan_common.exchanges.bybit.adapter import public_event
from titan_scavenger.core.market import BAR_MS, Bar
from titan_scavenger.core.sprung import SprungConfig, TrapBook
from titan_scavenger.core.stream import StreamHealth, StreamStatus
from titan_scavenger.runtime.intake import Pipeline
from titan_scavenger.runtime.market import MarketData, _merge, choose_universe


def test_universe_is_the_whitelist_then_the_top_by_turnover() -> None:
    turnover = {"AAA": 5.0, "BBB": 9.0, "CCC": 7.0, "DDD": 1.0, "EEE": 8.0}
    trading = ["AAA", "BBB", "CCC", "DDD"]  # EEE is not trading
    assert choose_universe(["DDD", "ZZZ"], turnover, trading, top_n=2, max_symbols=10) == ["DDD", "BBB", "CCC"]
    assert choose_universe(["DDD"], turnover, trading, top_n=3, max_symbols=2) == ["DDD", "BBB"]
    assert choose_universe([], turnover, trading, top_n=0, max_symbols=10) == []


def bar(start: int, close: float) -> Bar:
    return Bar(start, close, close, close, close, 1.0)


def test_merge_replaces_appends_inserts_and_trims() -> None:
    bars = [bar(0, 1), bar(BAR_MS, 2)]
    _merge(bars, [bar(BAR_MS, 2.5), bar(2 * BAR_MS, 3)], keep=10)
    assert [(b.start_ms, b.close) for b in bars] == [(0, 1), (BAR_MS, 2.5), (2 * BAR_MS, 3)]
    _merge(bars, [bar(0, 0.5)], keep=10)
    assert bars[0].close == 0.5
    _merge(bars, [bar(3 * BAR_MS, 4), bar(4 * BAR_MS, 5)], keep=3)
    assert [b.start_ms for b in bars] == [2 * BAR_MS, 3 * BAR_MS, 4 * BAR_MS]


def market() -> MarketData:
    state = MarketData(adapter=None, bars_history=200)  # type: ignore[arg-type]
    state.instruments["BTCUSDT"] = InstrumentFilters("BTCUSDT", D("0.1"), D("0.001"), D("0.001"), D(100), D(5))
    return state


def test_tickers_are_sampled_once_a_second_and_feed_the_snapshot() -> None:
    state = market()
    for i in range(10):
        wire = {"lastPrice": str(100 + i), "openInterest": str(1000 - i), "indexPrice": "101"}
        state.on_ticker("BTCUSDT", bybit.ticker_update(wire), T0 + i * 300)
    live = state.tickers["BTCUSDT"]
    assert [t for t, _ in live.price_samples] == [T0, T0 + 1200, T0 + 2400]
    assert live.index_price == 101.0
    assert state.snapshot("BTCUSDT", None) is None  # no bars yet: nothing to build a trap from
    state.bars["BTCUSDT"] = [bar(0, 100)]
    wire = [{"start": BAR_MS, "open": "1", "high": "2", "low": "0.5", "close": "1.5", "volume": "9"}]
    state.on_kline("BTCUSDT", bybit.live_bars(wire))
    snapshot = state.snapshot("BTCUSDT", last_trade=108.5)
    assert snapshot is not None
    assert snapshot.last_price == 108.5
    assert snapshot.tick_size == D("0.1")
    assert [b.start_ms for b in snapshot.bars] == [0, BAR_MS]
    assert snapshot.oi_samples[-1] == (T0 + 2400, 992.0)


def trades(symbol: str, ts: int, prices: list[float]) -> PublicEvent:
    """A publicTrade message as Bybit sends it, read by the Bybit folder as the adapter reads it."""
    data = [{"T": ts + i, "s": symbol, "S": "Buy", "v": "1", "p": str(p)} for i, p in enumerate(prices)]
    event = public_event({"topic": f"publicTrade.{symbol}", "ts": ts, "data": data})
    assert event is not None
    return event


def test_pipeline_springs_and_a_reconnect_is_a_gap() -> None:
    book = TrapBook(SprungConfig())
    book.set_traps([trap()], T0)
    health = StreamHealth(started_ms=0, stale_after_ms=10**12, max_lag_ms=10**15)
    reconnects = [0]
    gaps: list[bool] = []
    pipeline = Pipeline(book, market(), health, armed=lambda: True, reconnects=lambda: reconnects[0],
                        on_gap=lambda: gaps.append(True))  # fmt: skip
    prices = [99.5 + i / 59 for i in range(60)]
    sprung = pipeline.on_event(trades("BTCUSDT", T0, prices))
    assert sprung is not None
    assert [s.trap.trap_id for s in sprung] == [trap().trap_id]
    assert pipeline.trades_seen == 60
    # pybit came back by itself: the tape is forgotten and the stream is DOWN until stable
    reconnects[0] = 1
    assert pipeline.on_event(trades("BTCUSDT", T0 + 10 * 60_000, prices)) is None
    assert gaps == [True]
    assert health.evaluate(T0) is StreamStatus.DOWN


def test_the_trap_map_is_rebuilt_on_the_feeds_minute_boundaries() -> None:
    from titan_scavenger.core.market import rebuild_at

    minute = 1_767_225_600_000
    assert rebuild_at(None, minute + 5_000, 60_000) == minute  # the first trade builds one
    assert rebuild_at(minute, minute + 59_999, 60_000) is None
    assert rebuild_at(minute, minute + 60_000, 60_000) == minute + 60_000
    assert rebuild_at(minute, minute + 90_000, 120_000) is None
    assert rebuild_at(minute, minute + 185_000, 120_000) == minute + 180_000
