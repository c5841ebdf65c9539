"""Recorded market data: 1-minute klines in CSV, and the trades a kline is replayed as.

The file format (`.csv`, or `.csv.gz`) has one row per symbol and minute, with a header:
`symbol,start_ms,open,high,low,close,volume`. Prices and volumes are decimal strings, and
`start_ms` is the minute's UTC start in milliseconds. Rows may come in any order: a reader
returns them in the order a live feed would have delivered them, by minute, then symbol.

A kline holds no trades, but the scavenger springs its traps on trades (a burst of them at
a level). `ReplayTape` turns each kline into the trades a replay feeds, deterministically
and from that kline and earlier ones only: the simulator's replay mode and `titan
backtest` use the same tape, so both see the same trades. The path runs open -> first
extreme -> second extreme -> close, the low first on a rising bar. A bar whose range is at
least `burst_range_ratio` times the median of the symbol's last `lookback` ranges makes its
last leg (the move into the close) a burst: `burst_trades` trades inside `burst_ms`, the
takers on the leg's side. Every other leg is a few quiet trades.
"""

from __future__ import annotations

import csv
import gzip
import io
import statistics
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO

MINUTE_MS = 60_000
COLUMNS = ("symbol", "start_ms", "open", "high", "low", "close", "volume")


class ReplayDataError(ValueError):
    """A replay file that cannot be read as klines: the message names the file and row."""


@dataclass(frozen=True, slots=True)
class MinuteKline:
    symbol: str
    start_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal

    @property
    def end_ms(self) -> int:
        return self.start_ms + MINUTE_MS


@dataclass(frozen=True, slots=True)
class ReplayTrade:
    symbol: str
    ts_ms: int
    price: Decimal
    qty: Decimal
    taker_buy: bool


def _open_text(path: Path, mode: str) -> IO[str]:
    if path.suffix == ".gz":
        # no timestamp in the header: the same klines make the same bytes
        raw = gzip.GzipFile(filename=str(path), mode=mode + "b", mtime=0)
        return io.TextIOWrapper(raw, encoding="utf-8", newline="")
    return open(path, mode, encoding="utf-8", newline="")


def kline_files(path: Path) -> list[Path]:
    """The CSV files of a path: itself, or every `*.csv` and `*.csv.gz` in a directory."""
    if path.is_dir():
        files = sorted([*path.glob("*.csv"), *path.glob("*.csv.gz")])
        if not files:
            raise ReplayDataError(f"{path}: no .csv or .csv.gz files")
        return files
    if not path.exists():
        raise ReplayDataError(f"{path}: no such file")
    return [path]


def _parse(row: dict[str, str], where: str) -> MinuteKline:
    try:
        kline = MinuteKline(
            symbol=row["symbol"].strip().upper(),
            start_ms=int(row["start_ms"]),
            open=Decimal(row["open"]),
            high=Decimal(row["high"]),
            low=Decimal(row["low"]),
            close=Decimal(row["close"]),
            volume=Decimal(row["volume"]),
        )
    except (KeyError, ValueError, ArithmeticError, AttributeError, TypeError) as exc:
        raise ReplayDataError(f"{where}: not a kline row ({exc.__class__.__name__}: {exc})") from None
    if not kline.symbol or kline.start_ms % MINUTE_MS:
        raise ReplayDataError(f"{where}: a kline starts on a whole UTC minute and names its symbol")
    if not (kline.low <= min(kline.open, kline.close) and max(kline.open, kline.close) <= kline.high):
        raise ReplayDataError(f"{where}: open and close must lie between low and high")
    if kline.low <= 0 or kline.volume < 0:
        raise ReplayDataError(f"{where}: prices must be positive and volume not negative")
    return kline


def read_klines(path: Path, *, start_ms: int | None = None, end_ms: int | None = None) -> list[MinuteKline]:
    """Every kline of the path, within [start_ms, end_ms) when given, in feed order (minute,
    then symbol). A symbol and minute given twice is an error: replay must not guess."""
    klines: dict[tuple[int, str], MinuteKline] = {}
    for file in kline_files(path):
        with _open_text(file, "r") as handle:
            reader = csv.DictReader(handle)
            missing = set(COLUMNS) - set(reader.fieldnames or ())
            if missing:
                raise ReplayDataError(f"{file}: the header lacks {', '.join(sorted(missing))}")
            for number, row in enumerate(reader, start=2):
                kline = _parse(row, f"{file}:{number}")
                if (start_ms is not None and kline.start_ms < start_ms) or (
                    end_ms is not None and kline.start_ms >= end_ms
                ):
                    continue
                key = (kline.start_ms, kline.symbol)
                if key in klines:
                    raise ReplayDataError(f"{file}:{number}: {kline.symbol} at {kline.start_ms} is given twice")
                klines[key] = kline
    return [klines[key] for key in sorted(klines)]


def write_klines(path: Path, klines: Iterable[MinuteKline]) -> int:
    """Write klines in feed order (gzip when the name ends in .gz); returns how many."""
    rows = sorted(klines, key=lambda k: (k.start_ms, k.symbol))
    path.parent.mkdir(parents=True, exist_ok=True)
    with _open_text(path, "w") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for k in rows:
            writer.writerow((k.symbol, k.start_ms, k.open, k.high, k.low, k.close, k.volume))
    return len(rows)


def by_minute(klines: Iterable[MinuteKline]) -> Iterator[tuple[int, list[MinuteKline]]]:
    """Klines in feed order, grouped by their minute."""
    minute: int | None = None
    group: list[MinuteKline] = []
    for kline in klines:
        if minute is not None and kline.start_ms != minute:
            yield minute, group
            group = []
        minute = kline.start_ms
        group.append(kline)
    if minute is not None:
        yield minute, group


@dataclass(frozen=True)
class TapeConfig:
    quiet_trades: int = 3  # per leg of an ordinary bar
    burst_trades: int = 60  # at least the scavenger's burst_min_trades (50)
    burst_ms: int = 80  # inside the scavenger's burst window (100 ms)
    burst_range_ratio: float = 2.0
    lookback: int = 30  # bars of the symbol's range history the ratio compares with


@dataclass
class ReplayTape:
    """Klines in, trades out, one symbol's range history kept (all it remembers)."""

    cfg: TapeConfig = field(default_factory=TapeConfig)
    _ranges: dict[str, deque[float]] = field(default_factory=dict)

    def is_burst(self, kline: MinuteKline) -> bool:
        """Whether this bar's close is a burst, judged against earlier bars only; then the
        bar's range joins the history."""
        history = self._ranges.setdefault(kline.symbol, deque(maxlen=self.cfg.lookback))
        span = float((kline.high - kline.low) / kline.open)
        burst = len(history) >= min(5, self.cfg.lookback) and span > 0
        if burst:
            median = statistics.median(history)
            burst = median > 0 and span >= self.cfg.burst_range_ratio * median
        history.append(span)
        return burst

    def trades(self, kline: MinuteKline) -> list[ReplayTrade]:
        """The kline's trades, in time order, inside its minute."""
        burst = self.is_burst(kline)
        rising = kline.close >= kline.open
        first, second = (kline.low, kline.high) if rising else (kline.high, kline.low)
        points = (kline.open, first, second, kline.close)
        leg_ms = MINUTE_MS // 4  # legs start at 0, 15, 30 s; the burst, if any, at 45 s
        legs = [(points[i], points[i + 1], kline.start_ms + i * leg_ms) for i in range(3)]
        counts = [self.cfg.quiet_trades] * 3
        if burst:
            counts[2] = self.cfg.burst_trades
        exponent = min(int(p.as_tuple().exponent) for p in points)
        grid = Decimal(1).scaleb(exponent)  # the data's own price grid
        total = sum(counts)
        qty = (kline.volume / total).quantize(Decimal("1e-8")) if kline.volume > 0 else Decimal(0)
        out: list[ReplayTrade] = []
        for index, ((start, end, t0), count) in enumerate(zip(legs, counts, strict=True)):
            up = end >= start
            spread_ms = self.cfg.burst_ms if burst and index == 2 else leg_ms - 1
            for i in range(1, count + 1):
                price = (start + (end - start) * i / count).quantize(grid)
                offset = leg_ms if burst and index == 2 else 0  # the burst comes at 45 s
                ts = t0 + offset + (spread_ms * i) // count
                out.append(ReplayTrade(kline.symbol, ts, price, qty, taker_buy=up))
        return out
