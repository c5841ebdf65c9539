"""TRAP_SPRUNG: the hot path, one call per trade. Pure: trade times are the exchange's.

A trap springs on a trade when all of these hold:
1. proximity: price has been within `proximity` (0.1%) of the trigger at some trade in the
   last `window_ms`. Price moving from one trade to the next through the zone counts: a
   burst that jumps over the trigger still reached it;
2. volume: at least `min_trades` (50) trades landed in the last `window_ms` (100 ms), this
   one included: trades at times t with t > T - window_ms;
3. direction: price is not back on the wrong side of the zone (a long needs price at or
   above the zone's low edge), and takers on the trap's side are the majority of the window;
4. cooldown: neither this trap nor its symbol sprang in the last `cooldown_ms` (5 min).
   One burst therefore gives one signal per symbol even if it crosses several traps; the
   one with the best quality wins.

When the caller is not armed (paused, stale data) trades still feed the tape, nothing
springs and no cooldown starts.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from titan_common.messages import Side
from titan_scavenger.core.traps import Trap


@dataclass(frozen=True)
class SprungConfig:
    proximity: float = 0.001
    min_trades: int = 50
    window_ms: int = 100
    cooldown_ms: int = 300_000


@dataclass(frozen=True)
class Sprung:
    trap: Trap
    price: float  # the trade that sprang it
    trade_ts_ms: int
    trades_in_window: int
    side_share: float  # the share of the window's takers on the trap's side


class _Zone:
    __slots__ = ("buy", "high", "key", "low", "trap")

    def __init__(self, trap: Trap, proximity: float) -> None:
        trigger = float(trap.trigger)
        self.trap = trap
        self.key = trap.trap_id
        self.buy = trap.side is Side.BUY
        self.low = trigger * (1 - proximity)
        self.high = trigger * (1 + proximity)


class _Tape:
    """One symbol's trades in the window: times, taker sides, and when each zone was touched."""

    __slots__ = ("buy_count", "buys", "last_price", "times", "touched")

    def __init__(self) -> None:
        self.times: deque[int] = deque()
        self.buys: deque[bool] = deque()
        self.buy_count = 0
        self.last_price: float | None = None
        self.touched: dict[str, int] = {}


class TrapBook:
    """The live traps by symbol, each symbol's recent tape, and the cooldowns."""

    def __init__(self, cfg: SprungConfig) -> None:
        self.cfg = cfg
        self._zones: dict[str, list[_Zone]] = {}
        self._tapes: dict[str, _Tape] = {}
        self._trap_cooldown: dict[str, int] = {}  # trap_id -> until (exchange ms)
        self._symbol_cooldown: dict[str, int] = {}

    # --- the trap map changes every rebuild ------------------------------------------------

    def set_traps(self, traps: Iterable[Trap], now_ms: int) -> None:
        zones: dict[str, list[_Zone]] = {}
        for trap in traps:
            zones.setdefault(trap.symbol, []).append(_Zone(trap, self.cfg.proximity))
        self._zones = zones
        live = {z.key for symbol_zones in zones.values() for z in symbol_zones}
        for tape in self._tapes.values():
            tape.touched = {k: t for k, t in tape.touched.items() if k in live}
        self._trap_cooldown = {k: t for k, t in self._trap_cooldown.items() if t > now_ms}
        self._symbol_cooldown = {k: t for k, t in self._symbol_cooldown.items() if t > now_ms}

    def reset_tapes(self) -> None:
        """After a gap in the data (a reconnect): what came before says nothing about a burst now."""
        self._tapes.clear()

    def cooldown_until(self, trap: Trap) -> int | None:
        until = max(self._trap_cooldown.get(trap.trap_id, 0), self._symbol_cooldown.get(trap.symbol, 0))
        return until or None

    def last_price(self, symbol: str) -> float | None:
        tape = self._tapes.get(symbol)
        return None if tape is None else tape.last_price

    def trades_in_window(self, symbol: str) -> int:
        tape = self._tapes.get(symbol)
        return 0 if tape is None else len(tape.times)

    # --- the hot path -------------------------------------------------------------------------

    def on_trade(self, symbol: str, ts_ms: int, taker_buy: bool, price: float, armed: bool = True) -> Sprung | None:
        tape = self._tapes.get(symbol)
        if tape is None:
            tape = self._tapes[symbol] = _Tape()
        times = tape.times
        times.append(ts_ms)
        tape.buys.append(taker_buy)
        if taker_buy:
            tape.buy_count += 1
        cutoff = ts_ms - self.cfg.window_ms
        while times[0] <= cutoff:
            times.popleft()
            if tape.buys.popleft():
                tape.buy_count -= 1
        previous = tape.last_price
        tape.last_price = price
        zones = self._zones.get(symbol)
        if not zones:
            return None
        if previous is None or previous == price:
            low = high = price
        elif previous < price:
            low, high = previous, price
        else:
            low, high = price, previous
        for zone in zones:
            if high >= zone.low and low <= zone.high:
                tape.touched[zone.key] = ts_ms
        if armed and tape.touched and len(times) >= self.cfg.min_trades:
            return self._spring(symbol, tape, zones, ts_ms, price, cutoff)
        return None

    def _spring(
        self, symbol: str, tape: _Tape, zones: list[_Zone], ts_ms: int, price: float, cutoff: int
    ) -> Sprung | None:
        if self._symbol_cooldown.get(symbol, 0) > ts_ms:
            tape.touched.clear()
            return None
        count = len(tape.times)
        best: _Zone | None = None
        best_share = 0.0
        for zone in zones:
            touched_at = tape.touched.get(zone.key)
            if touched_at is None or touched_at <= cutoff:
                continue
            if zone.buy:
                if price < zone.low:
                    continue
                on_side = tape.buy_count
            else:
                if price > zone.high:
                    continue
                on_side = count - tape.buy_count
            if on_side * 2 <= count or self._trap_cooldown.get(zone.key, 0) > ts_ms:
                continue
            if best is None or zone.trap.quality > best.trap.quality:
                best, best_share = zone, on_side / count
        tape.touched = {k: t for k, t in tape.touched.items() if t > cutoff}
        if best is None:
            return None
        until = ts_ms + self.cfg.cooldown_ms
        self._trap_cooldown[best.key] = until
        self._symbol_cooldown[symbol] = until
        tape.touched.clear()
        return Sprung(best.trap, price, ts_ms, count, round(best_share, 4))
