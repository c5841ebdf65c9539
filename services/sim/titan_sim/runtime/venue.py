"""The running venue: engine + clock + faults + WebSocket hubs, and the market loop."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math
import random
import secrets
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from titan_sim.core.exchange import Exchange
from titan_sim.core.model import ExchangeError, Side
from titan_sim.core.replay import ReplayFeed
from titan_sim.core.spot import BAD_PARAM, Quotes, SpotAccount, SpotBalance, SpotSymbol
from titan_sim.core.state import ExchangeConfig
from titan_sim.runtime.clock import SimClock, wall_ms
from titan_sim.runtime.faults import Faults, RateLimiter
from titan_sim.runtime.hub import Hub
from titan_sim.runtime.replay import load_feed
from titan_sim.settings import SimSettings

log = logging.getLogger(__name__)
T = TypeVar("T")


def _run_ids() -> str:
    """A nonce for this run's order and execution ids: the same seed gives the same market,
    never the ids an earlier run (whose fills a client may have recorded) gave out."""
    return ":" + secrets.token_hex(4)


class Streams(Protocol):
    """Where the venue pushes what its engine changed: a face's WebSocket streams."""

    def flush(self) -> None: ...  # drain the engine, push every change
    def flush_books(self) -> None: ...  # orderbook deltas only
    def periodic(self) -> None: ...  # tickers and candles, on the market loop's beat
    def push_klines(self, symbols: set[str]) -> None: ...  # a replayed minute was put
    def reset(self) -> None: ...  # the venue was reset: forget what subscribers hold


class DrainOnly:
    """No face attached: what the engine changed is drained and dropped."""

    def __init__(self, venue: Venue) -> None:
        self.venue = venue

    def flush(self) -> None:
        self.venue.engine.drain()

    def flush_books(self) -> None:
        pass

    def periodic(self) -> None:
        pass

    def push_klines(self, symbols: set[str]) -> None:
        pass

    def reset(self) -> None:
        pass


class Venue:
    def __init__(self, settings: SimSettings, streams: Callable[[Venue], Streams] = DrainOnly) -> None:
        self.settings = settings
        self.config = ExchangeConfig(
            seed=settings.sim_seed,
            symbols=tuple(settings.symbol_list()),
            balance=settings.sim_balance,
            backfill_minutes=settings.sim_backfill_minutes,
            ids=_run_ids(),
        )
        self.replay: ReplayFeed | None = None
        self.clock, self.engine = self._fresh_market()
        self.faults = Faults()
        self.limiter = RateLimiter()
        self.public = Hub()
        self.private = Hub()
        self.trade_ws = Hub()
        self.streams = streams(self)
        self.fault_rng = random.Random(settings.sim_seed + 1)  # noqa: S311 - fault dice, not crypto
        self.demo_rng = random.Random(settings.sim_seed + 2)  # noqa: S311
        self.market_paused = False
        self.bursts: set[asyncio.Task[None]] = set()
        self.requests = 0
        self.held_responses = 0
        # the MEXC face: a spot account on the same market, with faults and limits of its own
        self.spot = self._new_spot()
        self.mexc_faults = Faults()
        self.mexc_endpoint_limiter = RateLimiter()  # 10 s windows per endpoint
        self.mexc_order_limiter = RateLimiter()  # 1 s windows, order placement and cancels
        self.mexc_requests = 0
        self.mexc_held_responses = 0

    def _fresh_market(self) -> tuple[SimClock, Exchange]:
        """The clock and the engine: the seeded walk, or in replay mode the recording, with the
        clock at its first played minute (stopped there while cued)."""
        settings = self.settings
        if not settings.sim_replay:
            clock = SimClock(settings.sim_time_scale)
            return clock, Exchange(self.config, clock.now_ms())
        feed = load_feed(settings, wall_ms()) if self.replay is None else self.replay.restarted()
        self.replay = feed
        self.config = dataclasses.replace(self.config, symbols=feed.symbols, backfill_minutes=0)
        clock = SimClock(settings.sim_replay_speed, start_ms=feed.start_ms, paused=settings.sim_replay_cued)
        engine = Exchange(self.config, clock.now_ms())
        engine.load_recorded(feed.history, clock.now_ms())
        log.info(
            "replay: %s, %d minutes of %s from %d (shifted %d days), %gx%s",
            settings.sim_replay, len(feed.minutes), ",".join(feed.symbols), feed.start_ms - feed.shift_ms,
            feed.shift_ms // 86_400_000, settings.sim_replay_speed, ", cued" if settings.sim_replay_cued else "",
        )  # fmt: skip
        return clock, engine

    def replay_state(self) -> dict[str, Any] | None:
        feed = self.replay
        if feed is None:
            return None
        return {
            "file": self.settings.sim_replay,
            "symbols": list(feed.symbols),
            "recordedFrom": feed.start_ms - feed.shift_ms,
            "recordedTo": feed.end_ms - feed.shift_ms,
            "shiftMs": feed.shift_ms,
            "from": feed.start_ms,
            "to": feed.end_ms,
            "minutesPlayed": feed.played_minutes,
            "minutes": len(feed.minutes),
            "finished": feed.finished,
        }

    def _new_spot(self) -> SpotAccount:
        symbols = {name: SpotSymbol.of(inst) for name, inst in self.engine.instruments.items()}
        return SpotAccount(symbols, self.settings.sim_mexc_balance, self.settings.sim_seed, ids=self.config.ids)

    # --- engine access: every call is followed by a flush to the streams ----------------

    def run(self, action: Callable[[Exchange, int], T]) -> T:
        try:
            return action(self.engine, self.clock.now_ms())
        finally:
            self.streams.flush()

    def now_ms(self) -> int:
        return self.clock.now_ms()

    # --- the spot account (MEXC face) ------------------------------------------------------

    def spot_quotes(self, symbol: str, depth: int = 200) -> Quotes:
        """The crowd's book of `symbol` as the spot account trades on it."""
        self.spot.spec(symbol)
        book = self.engine.books[symbol]
        market = self.engine.markets[symbol]
        return Quotes(
            bids=book.depth(Side.BUY, depth),
            asks=book.depth(Side.SELL, depth),
            mid=market.mark,
            trading=market.status == "Trading",
        )

    def run_spot(self, action: Callable[[SpotAccount, int], T]) -> T:
        return action(self.spot, self.clock.now_ms())

    def check_spot_fills(self, symbol: str) -> None:
        book = self.engine.books[symbol]
        self.spot.on_quotes(symbol, book.best_bid(), book.best_ask(), self.clock.now_ms())

    def set_spot_balance(self, asset: str, free: str) -> dict[str, str]:
        try:
            amount = Decimal(free)
        except ArithmeticError:
            raise ExchangeError(BAD_PARAM, "param is error: free must be a number") from None
        held: SpotBalance = self.spot.set_balance(asset, amount)
        return {"asset": asset.upper(), "free": str(held.free), "locked": str(held.locked)}

    def server_wall_ms(self) -> int:
        """The venue's own wall clock, as clients see it (skewed by the clock_skew fault)."""
        return wall_ms() + self.faults.clock_skew_ms

    def mexc_wall_ms(self) -> int:
        """The MEXC face's wall clock, skewed by its own clock_skew fault."""
        return wall_ms() + self.mexc_faults.clock_skew_ms

    # --- the market loop -----------------------------------------------------------------

    async def market_loop(self, stop: asyncio.Event) -> None:
        interval = self.settings.sim_tick_ms / 1000
        next_demo = self._next_demo_ms()
        while not stop.is_set():
            started = asyncio.get_running_loop().time()
            if not self.market_paused and not self.clock.paused:
                self.tick()
            self.streams.periodic()
            if self.settings.sim_demo_bursts and wall_ms() >= next_demo:
                self._random_burst()
                next_demo = self._next_demo_ms()
            elapsed = asyncio.get_running_loop().time() - started
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=max(0.005, interval - elapsed))

    def tick(self) -> None:
        now = self.clock.now_ms()
        if self.replay is not None:
            self._replay_tick(now)
            return
        for symbol in self.engine.instruments:
            self.engine.market_tick(symbol, now)
            self.check_spot_fills(symbol)
        self.engine.advance_clock(now)
        self.streams.flush()

    def _replay_tick(self, now: int) -> None:
        """The recorded trades the clock has reached. A minute's trades go out before its
        recorded bar is put and pushed, and that before the next minute's first trade: a
        client sees each minute whole before the next begins, as a backtest does."""
        assert self.replay is not None
        engine = self.engine
        for segment in self.replay.due(now):
            for trade in segment.trades:
                engine.replay_trade(trade)
            for kline in segment.closed:
                engine.put_minute(kline)
            for symbol in {t.symbol for t in segment.trades}:
                self.check_spot_fills(symbol)
            self.streams.flush()
            if segment.closed:
                self.streams.push_klines({k.symbol for k in segment.closed})
                if self.replay.finished:
                    log.info("replay finished: %d minutes played", self.replay.played_minutes)
        engine.now_ms = now

    def _next_demo_ms(self) -> int:
        low, high = self.settings.sim_demo_burst_interval_s
        return wall_ms() + int(self.demo_rng.uniform(low, high) * 1000)

    def _random_burst(self) -> None:
        symbol = self.demo_rng.choice(list(self.engine.instruments))
        pct = self.demo_rng.choice((-1, 1)) * self.demo_rng.uniform(0.5, 2.5)
        log.info("demo burst %s %+.2f%%", symbol, pct)
        self.start_burst(symbol, pct, 60, 100)

    # --- control actions -----------------------------------------------------------------

    def start_burst(self, symbol: str, pct: float, trades: int, window_ms: int) -> dict[str, Any]:
        self.engine.instrument(symbol)
        if self.replay is not None:
            raise ExchangeError(10001, "params error: a replay plays its recording; bursts are for the walk")
        if trades < 1 or window_ms < 0 or not -50 < pct < 500:
            raise ExchangeError(10001, "params error: burst needs trades >= 1, window_ms >= 0, -50 < pct < 500")
        start_mid = self.engine.markets[symbol].mid
        task = asyncio.get_running_loop().create_task(self._burst(symbol, pct, trades, window_ms))
        self.bursts.add(task)
        task.add_done_callback(self.bursts.discard)
        return {"symbol": symbol, "fromPrice": f"{start_mid:.8g}", "toPrice": f"{start_mid * (1 + pct / 100):.8g}"}

    async def _burst(self, symbol: str, pct: float, trades: int, window_ms: int) -> None:
        market = self.engine.markets[symbol]
        start = market.mid
        slices = max(1, min(trades, 10))
        side = Side.BUY if pct >= 0 else Side.SELL
        ratio = math.pow(1 + pct / 100, 1 / slices)
        per_slice = [trades // slices + (1 if i < trades % slices else 0) for i in range(slices)]
        for i, count in enumerate(per_slice):
            self.engine.burst_step(symbol, start * ratio ** (i + 1), count, side, self.clock.now_ms())
            self.check_spot_fills(symbol)
            self.streams.flush()
            if i < slices - 1 and window_ms:
                await asyncio.sleep(window_ms / 1000 / slices)

    async def book_noise(self, symbol: str, updates: int) -> int:
        """`updates` single changes to the crowd's quotes, each flushed on its own so that
        subscribers see one orderbook delta per change (when it touches their depth)."""
        self.engine.instrument(symbol)
        for i in range(updates):
            self.engine.book_noise(symbol)
            self.streams.flush_books()
            if i % 200 == 199:
                await asyncio.sleep(0)  # let the writers and other requests run
        return updates

    def set_clock(self, time_scale: float | None, paused: bool | None, advance_ms: int | None) -> dict[str, Any]:
        if time_scale is not None:
            if not 0 < time_scale <= 1_000_000:
                raise ExchangeError(10001, "params error: time_scale must be in (0, 1e6]")
            self.clock.set_scale(time_scale)
        if paused is not None:
            self.clock.set_paused(paused)
            self.market_paused = paused
        if advance_ms:
            self.clock.advance(int(advance_ms))
            if self.replay is None:  # a replay catches up on its next tick, minute by minute
                self.run(lambda ex, now: ex.advance_clock(now))
        return self.clock_state()

    def clock_state(self) -> dict[str, Any]:
        return {"now": self.clock.now_ms(), "timeScale": self.clock.time_scale, "paused": self.clock.paused}

    def reset(self) -> None:
        for task in list(self.bursts):
            task.cancel()
        self.config = dataclasses.replace(self.config, ids=_run_ids())  # a fresh venue's ids are new
        self.clock, self.engine = self._fresh_market()  # a replay starts over
        self.streams.reset()
        self.faults = Faults()
        self.limiter.clear()
        self.spot = self._new_spot()
        self.mexc_faults = Faults()
        self.mexc_endpoint_limiter.clear()
        self.mexc_order_limiter.clear()
        self.market_paused = False
        for hub in (self.public, self.private, self.trade_ws):
            hub.abort_all()
