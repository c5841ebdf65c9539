"""Replay mode's market: recorded 1-minute klines played back as trades, instead of the walk.

The klines are shifted by whole days (`shift_ms`), so that a replay runs near today while
every bar keeps its time of day: 15-minute bars, UTC days and the previous day's levels
come out as they were recorded. Klines before `start_ms` are history: the venue serves
them as candles, and they warm the tape's range history (whether a bar closes in a burst
is judged against earlier bars, as `titan backtest` judges it). From `start_ms` on, each
minute is played as the trades `titan_common.replay.ReplayTape` makes of it, the very
trades the backtest feeds its cores.

`ReplayFeed.due(now_ms)` hands out what the clock has reached, one minute at a time: the
trades up to `now_ms`, and once the clock is past the minute, its recorded klines, so that
the venue can put each minute's bar as recorded before the next minute's first trade.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

from titan_common.replay import RecordedKline, ReplayTape, ReplayTrade, TapeConfig, by_start, by_trade_minute

DAY_MS = 86_400_000


def day_shift(first_ms: int, now_ms: int) -> int:
    """Whole days that move `first_ms` to today or later (to the first such moment)."""
    days = max(0, -((first_ms - now_ms) // DAY_MS))
    return days * DAY_MS


@dataclass(frozen=True)
class Segment:
    """One minute's part the clock has reached: its trades so far, and `closed` (the minute's
    recorded klines) once the clock is past it."""

    minute_ms: int
    trades: list[ReplayTrade]
    closed: list[RecordedKline]


@dataclass
class ReplayFeed:
    history: list[RecordedKline]  # before start_ms (shifted), oldest first
    minutes: list[tuple[int, list[RecordedKline]]]  # from start_ms (shifted), in feed order
    shift_ms: int
    tape: ReplayTape = field(default_factory=ReplayTape)
    recorded: dict[int, list[ReplayTrade]] | None = None  # a recording of trades, by minute (shifted)
    source: tuple[Sequence[RecordedKline], int, Sequence[ReplayTrade] | None] = ((), 0, None)  # to start over
    _index: int = 0  # the minute being played
    _trades: list[ReplayTrade] | None = None  # its trades, made when it starts
    _sent: int = 0  # how many of them went out

    @classmethod
    def of(
        cls,
        klines: Sequence[RecordedKline],
        start_ms: int,
        shift_ms: int,
        tape: TapeConfig | None = None,
        trades: Sequence[ReplayTrade] | None = None,
    ) -> ReplayFeed:
        """`klines` in feed order (a `Recording`'s), unshifted; `start_ms` unshifted. With
        `trades` (a recording of trades, `klines` their bars) those play instead of the tape's."""
        moved = [replace(k, start_ms=k.start_ms + shift_ms) for k in klines]
        begin = start_ms + shift_ms
        history = [k for k in moved if k.start_ms < begin]
        played = list(by_start(k for k in moved if k.start_ms >= begin))
        recorded = None
        if trades is not None:
            recorded = by_trade_minute(replace(t, ts_ms=t.ts_ms + shift_ms) for t in trades if t.ts_ms >= start_ms)
        feed = cls(history, played, shift_ms, ReplayTape(tape or TapeConfig()), recorded, (klines, start_ms, trades))
        for kline in history:
            feed.tape.is_burst(kline)
        return feed

    def restarted(self) -> ReplayFeed:
        """The same replay from its first minute."""
        klines, start_ms, trades = self.source
        return ReplayFeed.of(klines, start_ms, self.shift_ms, self.tape.cfg, trades)

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(sorted({k.symbol for k in self.history} | {k.symbol for _, g in self.minutes for k in g}))

    @property
    def start_ms(self) -> int:
        """The first played minute (shifted), or the end of history when nothing is left."""
        if self.minutes:
            return self.minutes[0][0]
        return self.history[-1].end_ms if self.history else 0

    @property
    def end_ms(self) -> int:
        return self.minutes[-1][1][0].end_ms if self.minutes else self.start_ms

    @property
    def finished(self) -> bool:
        return self._index >= len(self.minutes)

    @property
    def played_minutes(self) -> int:
        return self._index

    def due(self, now_ms: int) -> Iterator[Segment]:
        while self._index < len(self.minutes):
            minute, group = self.minutes[self._index]
            if now_ms < minute:
                return
            if self._trades is None:
                if self.recorded is not None:
                    self._trades = self.recorded.get(minute, [])
                else:
                    made = (t for kline in group for t in self.tape.trades(kline))
                    self._trades = sorted(made, key=lambda t: (t.ts_ms, t.symbol))
                self._sent = 0
            trades = self._trades
            upto = self._sent
            while upto < len(trades) and trades[upto].ts_ms <= now_ms:
                upto += 1
            part, self._sent = trades[self._sent : upto], upto
            if now_ms < group[0].end_ms:
                if part:
                    yield Segment(minute, part, [])
                return
            yield Segment(minute, part, group)  # every trade of the minute is due by now
            self._index += 1
            self._trades = None
