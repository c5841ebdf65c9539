"""The replay file format and the tape: klines in feed order, bad rows refused with their
place, and the same trades from the same klines (bursts judged from earlier bars only)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D
from pathlib import Path

import pytest

from titan_common.replay import (
    MINUTE_MS,
    RecordedKline,
    ReplayDataError,
    ReplayTape,
    TapeConfig,
    by_start,
    read_klines,
    read_recording,
    write_klines,
)

T0 = 1_767_225_600_000


def kline(symbol: str, minute: int, o: str, h: str, lo: str, c: str, v: str = "10") -> RecordedKline:
    return RecordedKline(symbol, T0 + minute * MINUTE_MS, D(o), D(h), D(lo), D(c), D(v))


@pytest.mark.parametrize("name", ["k.csv", "k.csv.gz"])
def test_written_klines_read_back_in_feed_order(tmp_path: Path, name: str) -> None:
    rows = [kline("ETHUSDT", 1, "10", "11", "9", "10.5"), kline("BTCUSDT", 1, "5", "6", "4", "5"),
            kline("ETHUSDT", 0, "10", "10", "10", "10")]  # fmt: skip
    assert write_klines(tmp_path / name, rows) == 3
    back = read_klines(tmp_path / name)
    assert [(k.start_ms - T0) // MINUTE_MS for k in back] == [0, 1, 1]
    assert [k.symbol for k in back] == ["ETHUSDT", "BTCUSDT", "ETHUSDT"]
    assert back[2] == rows[0]
    assert [m for m, _ in by_start(back)] == [T0, T0 + MINUTE_MS]
    assert read_klines(tmp_path / name, start_ms=T0 + MINUTE_MS) == back[1:]


def test_gzip_output_is_the_same_bytes_every_time(tmp_path: Path) -> None:
    rows = [kline("BTCUSDT", m, "5", "6", "4", "5") for m in range(3)]
    for folder in ("a", "b"):
        write_klines(tmp_path / folder / "k.csv.gz", rows)
    assert (tmp_path / "a" / "k.csv.gz").read_bytes() == (tmp_path / "b" / "k.csv.gz").read_bytes()


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("symbol,start_ms,open\n", "lacks"),
        ("symbol,start_ms,open,high,low,close,volume\nBTCUSDT,1,5,6,4,5,1\n", "whole UTC minute"),
        (f"symbol,start_ms,open,high,low,close,volume\nBTCUSDT,{T0},5,6,4,7,1\n", "between low and high"),
        (f"symbol,start_ms,open,high,low,close,volume\nBTCUSDT,{T0},x,6,4,5,1\n", r":2: not a kline row"),
        (f"symbol,start_ms,open,high,low,close,volume\nBTCUSDT,{T0},5,6,4,5,1\nBTCUSDT,{T0},5,6,4,5,1\n", "twice"),
    ],
)
def test_a_bad_file_is_refused_with_its_place(tmp_path: Path, body: str, says: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(body)
    with pytest.raises(ReplayDataError, match=says):
        read_klines(path)


def test_a_missing_path_is_named(tmp_path: Path) -> None:
    with pytest.raises(ReplayDataError, match="no such file"):
        read_klines(tmp_path / "nope.csv")
    with pytest.raises(ReplayDataError, match=r"no \.csv"):
        read_klines(tmp_path)


def test_the_tape_walks_the_bar_inside_its_minute() -> None:
    bar = kline("BTCUSDT", 0, "100.00", "103.00", "99.00", "102.00", v="9")
    trades = ReplayTape().trades(bar)  # a rising bar: the low first, then the high, then the close
    assert [t.price for t in trades] == [D(p) for p in ("99.67", "99.33", "99.00", "100.33", "101.67", "103.00",
                                                        "102.67", "102.33", "102.00")]  # fmt: skip
    assert all(T0 <= t.ts_ms < T0 + MINUTE_MS for t in trades)
    assert [t.ts_ms for t in trades] == sorted(t.ts_ms for t in trades)
    assert sum(t.qty for t in trades) == D("9")


def test_a_wide_bar_after_quiet_ones_closes_in_a_burst_and_the_same_klines_give_the_same_trades() -> None:
    quiet = [kline("BTCUSDT", m, "100", "100.1", "99.9", "100") for m in range(10)]
    wide = kline("BTCUSDT", 10, "100", "101", "99.9", "101")
    cfg = TapeConfig()
    tape = ReplayTape(cfg)
    assert not any(tape.is_burst(k) for k in quiet)
    trades = tape.trades(wide)
    burst = [t for t in trades if t.ts_ms >= wide.start_ms + 45_000]
    assert len(burst) == cfg.burst_trades
    assert all(t.taker_buy for t in burst)
    assert burst[-1].ts_ms - burst[0].ts_ms < cfg.burst_ms
    again = ReplayTape(cfg)
    for k in quiet:
        again.trades(k)
    assert again.trades(wide) == trades


def test_a_recording_of_15_minute_bars_keeps_its_interval_and_plays_over_it(tmp_path: Path) -> None:
    start = 1_767_225_600_000
    bar = RecordedKline("SOLUSDT", start, D("100"), D("103"), D("99"), D("102"), D("9"), interval_ms=900_000)
    path = tmp_path / "bars.csv"
    write_klines(path, [bar, replace(bar, start_ms=start + 900_000)])
    assert path.read_text().splitlines()[0].endswith(",interval_min")
    (first, second) = read_klines(path)
    assert first == bar
    assert second.end_ms == start + 1_800_000
    trades = ReplayTape().trades(first)
    assert trades[0].ts_ms > start
    assert trades[-1].ts_ms < first.end_ms
    assert trades[-1].ts_ms - trades[0].ts_ms >= 600_000  # the path spreads over the whole bar


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (
            "symbol,start_ms,open,high,low,close,volume,interval_min\nBTCUSDT,1767225600000,5,6,4,5,1,60\n",
            "must be one of",
        ),
        ("symbol,start_ms,open,high,low,close,volume,interval_min\nBTCUSDT,1767225660000,5,6,4,5,1,15\n", "15-minute"),
        (
            "symbol,start_ms,open,high,low,close,volume,interval_min\n"
            "BTCUSDT,1767225600000,5,6,4,5,1,15\nETHUSDT,1767225600000,5,6,4,5,1,1\n",
            "one interval",
        ),
    ],
)
def test_bar_intervals_are_checked(tmp_path: Path, text: str, why: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ReplayDataError, match=why):
        read_klines(path)


def test_a_recording_of_trades_plays_them_and_makes_its_minute_bars(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text(
        "symbol,ts_ms,price,qty,side\n"
        f"ETHUSDT,{T0 + 61_000},10.5,2,Sell\n"
        f"BTCUSDT,{T0 + 1_000},100,1,Buy\n"
        f"BTCUSDT,{T0 + 2_000},102,1,Sell\n"
        f"BTCUSDT,{T0 + 3_000},99,0.5,buy\n"
    )
    recording = read_recording(tmp_path)
    assert recording.trades is not None
    assert [(t.symbol, t.ts_ms, t.taker_buy) for t in recording.trades] == [
        ("BTCUSDT", T0 + 1_000, True), ("BTCUSDT", T0 + 2_000, False), ("BTCUSDT", T0 + 3_000, True),
        ("ETHUSDT", T0 + 61_000, False),
    ]  # fmt: skip
    btc, eth = recording.klines
    assert (btc.open, btc.high, btc.low, btc.close, btc.volume) == (D(100), D(102), D(99), D(99), D("2.5"))
    assert eth.start_ms == T0 + MINUTE_MS
    assert read_recording(tmp_path, start_ms=T0 + 2_000, end_ms=T0 + 60_000).klines[0].open == D(102)


def test_bybits_public_trade_archive_reads_as_trades(tmp_path: Path) -> None:
    path = tmp_path / "BTCUSDT2026-01-01.csv.gz"
    import gzip

    with gzip.open(path, "wt") as handle:
        handle.write(
            "timestamp,symbol,side,size,price,tickDirection,trdMatchID,grossValue,homeNotional,foreignNotional\n"
            f"{T0 // 1000}.0647,BTCUSDT,Sell,0.01,93000.5,MinusTick,a,9.3e+10,0.01,930.005\n"
        )
    (trade,) = read_recording(path).trades or []
    assert (trade.ts_ms, trade.price, trade.qty, trade.taker_buy) == (T0 + 64, D("93000.5"), D("0.01"), False)


def test_a_recording_is_klines_or_trades_and_a_bad_trade_is_refused(tmp_path: Path) -> None:
    (tmp_path / "k.csv").write_text("symbol,start_ms,open,high,low,close,volume\nBTCUSDT,1767225600000,5,6,4,5,1\n")
    (tmp_path / "t.csv").write_text("symbol,ts_ms,price,qty,side\nBTCUSDT,1767225600000,5,1,Buy\n")
    with pytest.raises(ReplayDataError, match="klines or trades, not both"):
        read_recording(tmp_path)
    bad = tmp_path / "bad.csv"
    bad.write_text("symbol,ts_ms,price,qty,side\nBTCUSDT,1767225600000,5,1,Hold\n")
    with pytest.raises(ReplayDataError, match=r"bad\.csv:2"):
        read_recording(bad)


def test_parquet_recordings_read_as_their_csv_twins(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    klines = pa.table({
        "symbol": ["BTCUSDT", "BTCUSDT"], "start_ms": [T0 + MINUTE_MS, T0],
        "open": ["100.5", "100"], "high": ["101", "101"], "low": ["100", "99.5"], "close": ["100.5", "100.5"],
        "volume": [2.5, 3.0],
    })  # fmt: skip
    pq.write_table(klines, tmp_path / "k.parquet")
    first, second = read_recording(tmp_path / "k.parquet").klines
    assert (first.start_ms, first.open, first.volume) == (T0, D(100), D("3.0"))
    assert second.low == D(100)

    trades = pa.table({
        "symbol": ["ETHUSDT"], "ts_ms": [T0 + 5], "price": ["3000.25"], "qty": ["0.1"], "side": ["Sell"],
    })  # fmt: skip
    folder = tmp_path / "trades"
    folder.mkdir()
    pq.write_table(trades, folder / "t.parquet")
    recording = read_recording(folder)
    assert recording.trades is not None
    assert (recording.trades[0].price, recording.trades[0].taker_buy) == (D("3000.25"), False)
    (tmp_path / "broken.parquet").write_bytes(b"not parquet")
    with pytest.raises(ReplayDataError, match="not a Parquet file"):
        read_recording(tmp_path / "broken.parquet")
