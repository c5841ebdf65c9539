"""The replay file format and the tape: klines in feed order, bad rows refused with their
place, and the same trades from the same klines (bursts judged from earlier bars only)."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest

from titan_common.replay import (
    MINUTE_MS,
    MinuteKline,
    ReplayDataError,
    ReplayTape,
    TapeConfig,
    by_minute,
    read_klines,
    write_klines,
)

T0 = 1_767_225_600_000


def kline(symbol: str, minute: int, o: str, h: str, lo: str, c: str, v: str = "10") -> MinuteKline:
    return MinuteKline(symbol, T0 + minute * MINUTE_MS, D(o), D(h), D(lo), D(c), D(v))


@pytest.mark.parametrize("name", ["k.csv", "k.csv.gz"])
def test_written_klines_read_back_in_feed_order(tmp_path: Path, name: str) -> None:
    rows = [kline("ETHUSDT", 1, "10", "11", "9", "10.5"), kline("BTCUSDT", 1, "5", "6", "4", "5"),
            kline("ETHUSDT", 0, "10", "10", "10", "10")]  # fmt: skip
    assert write_klines(tmp_path / name, rows) == 3
    back = read_klines(tmp_path / name)
    assert [(k.start_ms - T0) // MINUTE_MS for k in back] == [0, 1, 1]
    assert [k.symbol for k in back] == ["ETHUSDT", "BTCUSDT", "ETHUSDT"]
    assert back[2] == rows[0]
    assert [m for m, _ in by_minute(back)] == [T0, T0 + MINUTE_MS]
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
