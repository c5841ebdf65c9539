"""Replay mode's feed: recorded minutes handed out as the clock reaches them, each minute
whole before the next, shifted by whole days, with the tape the backtest uses."""

from __future__ import annotations

from decimal import Decimal as D

from titan_common.replay import MINUTE_MS, RecordedKline, ReplayTape
from titan_sim.core.klines import Candle, KlineSeries
from titan_sim.core.replay import DAY_MS, ReplayFeed, day_shift

START = 1_767_225_600_000  # 2026-01-01T00:00Z


def kline(symbol: str, minute: int, close: str = "100.5") -> RecordedKline:
    return RecordedKline(symbol, START + minute * MINUTE_MS, D("100"), D("101"), D("99"), D(close), D("3"))


def recording(minutes: int = 10) -> list[RecordedKline]:
    return sorted((kline(s, m) for m in range(minutes) for s in ("BTCUSDT", "ETHUSDT")),
                  key=lambda k: (k.start_ms, k.symbol))  # fmt: skip


def test_day_shift_moves_to_the_first_moment_at_or_after_now_in_whole_days() -> None:
    assert day_shift(START, START) == 0
    assert day_shift(START, START + 1) == DAY_MS
    assert day_shift(START, START + 3 * DAY_MS + 5) == 4 * DAY_MS
    assert day_shift(START + DAY_MS, START) == 0  # already ahead: no shift back


def test_history_before_the_start_is_not_played_and_the_played_part_is_shifted() -> None:
    feed = ReplayFeed.of(recording(), START + 4 * MINUTE_MS, shift_ms=2 * DAY_MS)
    assert [k.start_ms for k in feed.history][-1] == START + 3 * MINUTE_MS + 2 * DAY_MS
    assert feed.start_ms == START + 4 * MINUTE_MS + 2 * DAY_MS
    assert feed.end_ms == START + 10 * MINUTE_MS + 2 * DAY_MS
    assert feed.symbols == ("BTCUSDT", "ETHUSDT")


def test_due_gives_each_minute_whole_before_the_next_and_its_klines_once_it_is_over() -> None:
    feed = ReplayFeed.of(recording(3), START, shift_ms=0)
    assert list(feed.due(START - 1)) == []
    first = list(feed.due(START + 20_000))  # the first leg of minute 0 only
    assert len(first) == 1
    assert first[0].closed == []
    assert all(t.ts_ms <= START + 20_000 for t in first[0].trades)
    later = list(feed.due(START + 2 * MINUTE_MS + 5_000))  # the first trade of minute 2
    assert [s.minute_ms for s in later] == [START, START + MINUTE_MS, START + 2 * MINUTE_MS]
    assert [len(s.closed) for s in later] == [2, 2, 0]  # minute 2 is still open
    times = [t.ts_ms for s in first + later for t in s.trades]
    assert times == sorted(times)
    assert not feed.finished
    list(feed.due(START + 3 * MINUTE_MS))
    assert feed.finished
    assert feed.played_minutes == 3


def test_the_feed_plays_the_trades_the_backtest_tape_makes() -> None:
    klines = recording(40)
    feed = ReplayFeed.of(klines, START + 35 * MINUTE_MS, shift_ms=0)
    played = [t for s in feed.due(START + 41 * MINUTE_MS) for t in s.trades]
    tape = ReplayTape()
    for k in klines[: 35 * 2]:
        tape.is_burst(k)  # the backtest's warm-up
    expected = sorted((t for k in klines[35 * 2 :] for t in tape.trades(k)), key=lambda t: (t.ts_ms, t.symbol))
    assert played == expected


def test_restarted_plays_again_from_the_first_minute() -> None:
    feed = ReplayFeed.of(recording(3), START + MINUTE_MS, shift_ms=DAY_MS)
    once = [t for s in feed.due(feed.end_ms) for t in s.trades]
    again = feed.restarted()
    assert again.played_minutes == 0
    assert [t for s in again.due(again.end_ms) for t in s.trades] == once


def test_a_recorded_minute_replaces_the_bar_its_trades_built() -> None:
    series = KlineSeries()
    series.load([Candle(START, D(1), D(2), D(1), D(2))])
    series.add_trade(D("3"), D("1"), START + MINUTE_MS + 5)
    series.put(Candle(START + MINUTE_MS, D("2.5"), D("3.5"), D("2"), D("3"), D("7")))
    assert [c.open for c in series.minutes] == [D(1), D("2.5")]
    series.put(Candle(START - MINUTE_MS, D(1), D(1), D(1), D(1)))  # an earlier minute goes in its place
    assert series.starts == [START - MINUTE_MS, START, START + MINUTE_MS]


def test_a_recording_of_trades_plays_its_own_trades_shifted() -> None:
    from titan_common.replay import ReplayTrade, klines_of

    trades = [ReplayTrade("BTCUSDT", START + i * 7_000, D(100 + i), D(1), i % 2 == 0) for i in range(20)]
    feed = ReplayFeed.of(klines_of(trades), START + MINUTE_MS, shift_ms=DAY_MS, trades=trades)
    assert feed.history[-1].start_ms == START + DAY_MS
    played = [t for s in feed.due(feed.end_ms) for t in s.trades]
    assert [t.ts_ms - DAY_MS for t in played] == [t.ts_ms for t in trades if t.ts_ms >= START + MINUTE_MS]
    assert [t.price for t in played] == [t.price for t in trades if t.ts_ms >= START + MINUTE_MS]
