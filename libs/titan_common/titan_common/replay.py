"""Recorded market data: klines or trades, and the trades a kline is replayed as.

A recording is a file or a folder of files: CSV (`.csv`, `.csv.gz`) or Parquet (`.parquet`,
the same columns; read with pyarrow). A recording of klines has one row per symbol and
bar: `symbol,start_ms,open,high,low,close,volume`, and optionally `interval_min`. Prices and
volumes are decimal strings, and `start_ms` is the bar's UTC start in milliseconds. Bars
are 1-minute unless `interval_min` says otherwise: 3, 5 or 15 (the scavenger's stored
15-minute snapshots), one interval per recording, always dividing the trap map's 15-minute
bars. Rows may come in any order: a reader returns them in the order a live feed would
have delivered them, by bar start, then symbol.

A recording of trades has one row per trade, `symbol,ts_ms,price,qty,side` (the taker's
side, Buy or Sell), or is one of Bybit's public trade archives (public.bybit.com/trading:
`timestamp` in seconds, `symbol`, `side`, `size`, `price`, ...). Its trades are replayed as
they are, and its 1-minute bars are made from them (`read_recording`).

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
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO

MINUTE_MS = 60_000
COLUMNS = ("symbol", "start_ms", "open", "high", "low", "close", "volume")
TRADE_COLUMNS = ("symbol", "ts_ms", "price", "qty", "side")
BYBIT_ARCHIVE_COLUMNS = ("timestamp", "symbol", "side", "size", "price")
INTERVAL_COLUMN = "interval_min"
INTERVALS_MIN = (1, 3, 5, 15)


class ReplayDataError(ValueError):
    """A replay file that cannot be read as klines: the message names the file and row."""


@dataclass(frozen=True, slots=True)
class RecordedKline:
    """One recorded bar of `interval_ms` (a minute unless the recording says otherwise)."""

    symbol: str
    start_ms: int  # UTC, when the bar opens
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal  # base units traded in it
    interval_ms: int = MINUTE_MS

    @property
    def end_ms(self) -> int:
        return self.start_ms + self.interval_ms


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
    """The recording's files: the path itself, or every `*.csv`, `*.csv.gz` and `*.parquet`
    in a directory."""
    if path.is_dir():
        files = sorted([*path.glob("*.csv"), *path.glob("*.csv.gz"), *path.glob("*.parquet")])
        if not files:
            raise ReplayDataError(f"{path}: no .csv, .csv.gz or .parquet files")
        return files
    if not path.exists():
        raise ReplayDataError(f"{path}: no such file")
    return [path]


@contextmanager
def _rows(file: Path) -> Iterator[tuple[tuple[str, ...], Iterator[dict[str, str]]]]:
    """A file's column names and its rows as text, whether CSV or Parquet."""
    if file.suffix != ".parquet":
        with _open_text(file, "r") as handle:
            reader = csv.DictReader(handle)
            yield tuple(reader.fieldnames or ()), reader
        return
    try:
        import pyarrow.parquet as pq  # type: ignore[import-untyped]
    except ImportError:
        raise ReplayDataError(f"{file}: Parquet needs pyarrow (pip install -r requirements-dev.txt)") from None
    try:
        table = pq.read_table(file)
    except (OSError, ValueError) as exc:
        raise ReplayDataError(f"{file}: not a Parquet file ({exc})") from None
    yield (
        tuple(table.column_names),
        ({k: _text(v) for k, v in row.items()} for batch in table.to_batches() for row in batch.to_pylist()),
    )


def _text(value: object) -> str:
    """A Parquet cell as the CSV would hold it: timestamps in UTC ms, numbers exactly."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return str(int(moment.timestamp() * 1000))
    if isinstance(value, float):
        return repr(value)
    return "" if value is None else str(value)


def _parse(row: dict[str, str], where: str) -> RecordedKline:
    try:
        minutes = int(row.get(INTERVAL_COLUMN) or 1)
        kline = RecordedKline(
            symbol=row["symbol"].strip().upper(),
            start_ms=int(row["start_ms"]),
            open=Decimal(row["open"]),
            high=Decimal(row["high"]),
            low=Decimal(row["low"]),
            close=Decimal(row["close"]),
            volume=Decimal(row["volume"]),
            interval_ms=minutes * MINUTE_MS,
        )
    except (KeyError, ValueError, ArithmeticError, AttributeError, TypeError) as exc:
        raise ReplayDataError(f"{where}: not a kline row ({exc.__class__.__name__}: {exc})") from None
    if minutes not in INTERVALS_MIN:
        raise ReplayDataError(f"{where}: {INTERVAL_COLUMN} must be one of {', '.join(map(str, INTERVALS_MIN))}")
    if not kline.symbol or kline.start_ms % kline.interval_ms:
        raise ReplayDataError(
            f"{where}: a kline starts on a whole UTC minute ({minutes}-minute bars) and names its symbol"
        )
    if not (kline.low <= min(kline.open, kline.close) and max(kline.open, kline.close) <= kline.high):
        raise ReplayDataError(f"{where}: open and close must lie between low and high")
    if kline.low <= 0 or kline.volume < 0:
        raise ReplayDataError(f"{where}: prices must be positive and volume not negative")
    return kline


def read_klines(path: Path, *, start_ms: int | None = None, end_ms: int | None = None) -> list[RecordedKline]:
    """Every kline of the path, within [start_ms, end_ms) when given, in feed order (minute,
    then symbol). A symbol and minute given twice is an error: replay must not guess."""
    klines: dict[tuple[int, str], RecordedKline] = {}
    interval: int | None = None
    for file in kline_files(path):
        with _rows(file) as (columns, reader):
            missing = set(COLUMNS) - set(columns)
            if missing:
                raise ReplayDataError(f"{file}: the header lacks {', '.join(sorted(missing))}")
            for number, row in enumerate(reader, start=2):
                kline = _parse(row, f"{file}:{number}")
                if (start_ms is not None and kline.start_ms < start_ms) or (
                    end_ms is not None and kline.start_ms >= end_ms
                ):
                    continue
                key = (kline.start_ms, kline.symbol)
                if interval is None:
                    interval = kline.interval_ms
                elif kline.interval_ms != interval:
                    raise ReplayDataError(f"{file}:{number}: one recording holds bars of one interval")
                if key in klines:
                    raise ReplayDataError(f"{file}:{number}: {kline.symbol} at {kline.start_ms} is given twice")
                klines[key] = kline
    return [klines[key] for key in sorted(klines)]


def write_klines(path: Path, klines: Iterable[RecordedKline]) -> int:
    """Write klines in feed order (gzip when the name ends in .gz); returns how many. The
    interval column is written only for bars other than 1-minute ones."""
    rows = sorted(klines, key=lambda k: (k.start_ms, k.symbol))
    path.parent.mkdir(parents=True, exist_ok=True)
    minutes = {k.interval_ms // MINUTE_MS for k in rows}
    if len(minutes) > 1:
        raise ReplayDataError(f"{path}: one recording holds bars of one interval, not {sorted(minutes)}")
    extra = () if minutes <= {1} else (INTERVAL_COLUMN,)
    with _open_text(path, "w") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS + extra)
        for k in rows:
            tail = (k.interval_ms // MINUTE_MS,) if extra else ()
            writer.writerow((k.symbol, k.start_ms, k.open, k.high, k.low, k.close, k.volume, *tail))
    return len(rows)


@dataclass(frozen=True)
class Recording:
    """What a replay plays: bars in feed order, and the recorded trades (in time order) when
    the recording holds trades; None when it holds klines, whose trades the tape makes."""

    klines: list[RecordedKline]
    trades: list[ReplayTrade] | None = None


def _header(file: Path) -> tuple[str, ...]:
    if file.suffix == ".parquet":
        with _rows(file) as (columns, _):
            return columns
    with _open_text(file, "r") as handle:
        return tuple(next(csv.reader(handle), ()))


def read_recording(path: Path, *, start_ms: int | None = None, end_ms: int | None = None) -> Recording:
    """Klines, or trades with their 1-minute bars, whichever the path's files hold (all of
    one kind), within [start_ms, end_ms) when given."""
    files = kline_files(path)
    kinds = {"trades" if set(TRADE_COLUMNS) <= set(h) or set(BYBIT_ARCHIVE_COLUMNS) <= set(h) else "klines"
             for h in map(_header, files)}  # fmt: skip
    if len(kinds) > 1:
        raise ReplayDataError(f"{path}: a recording holds klines or trades, not both")
    if kinds == {"klines"}:
        return Recording(read_klines(path, start_ms=start_ms, end_ms=end_ms))
    trades = read_trades(files, start_ms=start_ms, end_ms=end_ms)
    return Recording(klines_of(trades), trades)


def _trade(row: dict[str, str], archive: bool, where: str) -> ReplayTrade:
    try:
        side = row["side"].strip().capitalize()
        if archive:  # Bybit's archive: seconds with a fraction
            ts_ms = int((Decimal(row["timestamp"]) * 1000).to_integral_value(rounding="ROUND_FLOOR"))
            qty = Decimal(row["size"])
        else:
            ts_ms, qty = int(row["ts_ms"]), Decimal(row["qty"])
        trade = ReplayTrade(row["symbol"].strip().upper(), ts_ms, Decimal(row["price"]), qty, side == "Buy")
    except (KeyError, ValueError, ArithmeticError, AttributeError, TypeError) as exc:
        raise ReplayDataError(f"{where}: not a trade row ({exc.__class__.__name__}: {exc})") from None
    if side not in ("Buy", "Sell") or not trade.symbol:
        raise ReplayDataError(f"{where}: a trade names its symbol and its taker's side (Buy or Sell)")
    if trade.price <= 0 or trade.qty < 0 or trade.ts_ms <= 0:
        raise ReplayDataError(f"{where}: a trade has a positive price and time and a quantity not negative")
    return trade


def read_trades(files: list[Path], *, start_ms: int | None = None, end_ms: int | None = None) -> list[ReplayTrade]:
    """Every trade of the files in time order (then symbol; ties keep the files' order)."""
    trades: list[ReplayTrade] = []
    for file in files:
        with _rows(file) as (columns, reader):
            archive = "ts_ms" not in columns
            for number, row in enumerate(reader, start=2):
                trade = _trade(row, archive, f"{file}:{number}")
                if (start_ms is None or trade.ts_ms >= start_ms) and (end_ms is None or trade.ts_ms < end_ms):
                    trades.append(trade)
    trades.sort(key=lambda t: (t.ts_ms, t.symbol))
    return trades


def klines_of(trades: Iterable[ReplayTrade]) -> list[RecordedKline]:
    """The 1-minute bars of trades in time order, in feed order; a minute without a trade
    of a symbol has no bar of it."""
    bars: dict[tuple[int, str], list[Decimal]] = {}
    for t in trades:
        key = (t.ts_ms - t.ts_ms % MINUTE_MS, t.symbol)
        bar = bars.get(key)
        if bar is None:
            bars[key] = [t.price, t.price, t.price, t.price, t.qty]
        else:
            bar[1], bar[2], bar[3] = max(bar[1], t.price), min(bar[2], t.price), t.price
            bar[4] += t.qty
    out = []
    for start, symbol in sorted(bars):
        o, h, lo, c, volume = bars[start, symbol]
        out.append(RecordedKline(symbol, start, o, h, lo, c, volume))
    return out


def by_trade_minute(trades: Iterable[ReplayTrade]) -> dict[int, list[ReplayTrade]]:
    """Trades in time order, by the minute they fall in."""
    out: dict[int, list[ReplayTrade]] = {}
    for t in trades:
        out.setdefault(t.ts_ms - t.ts_ms % MINUTE_MS, []).append(t)
    return out


def by_start(klines: Iterable[RecordedKline]) -> Iterator[tuple[int, list[RecordedKline]]]:
    """Klines in feed order, grouped by their start."""
    minute: int | None = None
    group: list[RecordedKline] = []
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

    def is_burst(self, kline: RecordedKline) -> bool:
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

    def trades(self, kline: RecordedKline) -> list[ReplayTrade]:
        """The kline's trades, in time order, inside its bar."""
        burst = self.is_burst(kline)
        rising = kline.close >= kline.open
        first, second = (kline.low, kline.high) if rising else (kline.high, kline.low)
        points = (kline.open, first, second, kline.close)
        leg_ms = kline.interval_ms // 4  # a minute's legs start at 0, 15, 30 s; the burst, if any, at 45 s
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
