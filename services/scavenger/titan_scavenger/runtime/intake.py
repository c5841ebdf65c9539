"""Market data intake: the public stream (trades, tickers, 15-min candles) into the hot path.

`Pipeline.on_event` is the hot path and stays synchronous: parse the trades of one message,
feed each to the trap book, return whatever sprang. `Intake` owns the stream's life: it
opens it for the current symbols, restarts it when the symbols change or it falls silent,
and reconnects with capped exponential backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable

from titan_common.exchanges import ExchangeAdapter, PublicEvent, TickerUpdate
from titan_scavenger.core.market import rebuild_at
from titan_scavenger.core.sprung import Sprung, TrapBook
from titan_scavenger.core.stream import StreamHealth
from titan_scavenger.runtime import metrics
from titan_scavenger.runtime.emitter import SignalEmitter
from titan_scavenger.runtime.market import KLINE_INTERVAL, MarketData

log = logging.getLogger(__name__)

TOPICS = ("trade", "ticker", f"kline.{KLINE_INTERVAL}")


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


class Pipeline:
    """One public message at a time: trades to the trap book, tickers and candles to the market state."""

    def __init__(
        self,
        book: TrapBook,
        market: MarketData,
        health: StreamHealth,
        *,
        armed: Callable[[], bool],
        reconnects: Callable[[], int],
        on_gap: Callable[[], None],
    ) -> None:
        self.book = book
        self.market = market
        self.health = health
        self.armed = armed
        self.reconnects = reconnects
        self.on_gap = on_gap
        self.trades_seen = 0
        self._reconnects_seen = reconnects()
        self._trades_counter = metrics.TRADES
        self._trade_messages = metrics.MESSAGES.labels("trade")

    def data_gap(self) -> None:
        """The stream dropped or restarted: what it carried meanwhile is lost."""
        now = _wall_ms()
        self.health.on_reconnect(now)
        self.book.reset_tapes()
        self.market.topup_due = True
        self.on_gap()

    def on_event(self, event: PublicEvent) -> list[Sprung] | None:
        reconnects = self.reconnects()
        if reconnects != self._reconnects_seen:
            metrics.STREAM_RECONNECTS.inc(reconnects - self._reconnects_seen)
            self._reconnects_seen = reconnects
            log.warning("public stream reconnected by itself; signals wait until data is stable")
            self.data_gap()
        kind = event.kind
        if kind == "trade":
            self.health.on_data(_wall_ms(), event.ts_ms)
            items = event.data or ()
            armed = self.armed() and self.health.down_since_ms is None
            symbol = event.symbol
            on_trade = self.book.on_trade
            sprung: list[Sprung] | None = None
            for trade in items:
                hit = on_trade(symbol, trade.ts_ms, trade.taker_buy, trade.price, armed)
                if hit is not None:
                    if sprung is None:
                        sprung = []
                    sprung.append(hit)
            self.trades_seen += len(items)
            self._trades_counter.inc(len(items))
            self._trade_messages.inc()
            return sprung
        now = _wall_ms()
        if kind == "ticker":
            self.health.on_data(now, event.ts_ms)
            if isinstance(event.data, TickerUpdate):
                self.market.on_ticker(event.symbol, event.data, now)
        elif kind == "kline" and isinstance(event.data, list):
            self.market.on_kline(event.symbol, event.data)
        metrics.MESSAGES.labels(kind).inc()
        return None


class Intake:
    def __init__(
        self,
        adapter: ExchangeAdapter,
        pipeline: Pipeline,
        emitter: SignalEmitter,
        *,
        restart_after_s: float,
        backoff_max_s: float,
        stop: asyncio.Event,
        rebuild_ms: int,
        rebuild: Callable[[int], Awaitable[None]],
    ) -> None:
        self.adapter = adapter
        self.pipeline = pipeline
        self.emitter = emitter
        self.restart_after_s = restart_after_s
        self.backoff_max_s = backoff_max_s
        self.stop = stop
        self.rebuild_ms = rebuild_ms
        self.rebuild = rebuild
        self.map_minute: int | None = None  # the market minute the trap map was last built at
        self.symbols: tuple[str, ...] = ()
        self.connects = 0
        self._changed = asyncio.Event()
        self._last_message: float | None = None  # None until the current stream delivers

    def set_symbols(self, symbols: tuple[str, ...]) -> None:
        if symbols != self.symbols:
            self.symbols = symbols
            metrics.SYMBOLS.set(len(symbols))
            self._changed.set()

    async def run(self) -> None:
        backoff = 1.0
        while not self.stop.is_set():
            if not self.symbols:
                await _wait(self._changed, self.stop, 1.0)
                continue
            self._changed.clear()
            opened = time.monotonic()
            self._last_message = None
            self.connects += 1
            log.info("public stream: %d symbols %s", len(self.symbols), ",".join(self.symbols[:20]))
            consumer = asyncio.create_task(self._consume(self.symbols), name="scavenger:public-stream")
            watchdog = asyncio.create_task(self._watch(), name="scavenger:stream-watchdog")
            done, _pending = await asyncio.wait({consumer, watchdog}, return_when=asyncio.FIRST_COMPLETED)
            for task in (consumer, watchdog):
                task.cancel()
            results = await asyncio.gather(consumer, watchdog, return_exceptions=True)
            if self.stop.is_set():
                return
            why = results[1] if watchdog in done else results[0]
            deliberate = why == "SYMBOLS_CHANGED"
            if not deliberate:
                metrics.STREAM_RECONNECTS.inc()
                log.warning("public stream ended (%s); reconnecting in %.1fs", why, backoff)
            self.pipeline.data_gap()
            if time.monotonic() - opened > 60:
                backoff = 1.0  # it had been healthy: start the backoff over
            if not deliberate:
                await _wait(self.stop, self.stop, backoff)
                backoff = min(backoff * 2, self.backoff_max_s)

    async def _consume(self, symbols: tuple[str, ...]) -> str:
        async for event in self.adapter.public_events(list(symbols), TOPICS):
            received_ns = time.perf_counter_ns()
            self._last_message = time.monotonic()
            if event.kind == "trade" and event.data:
                minute = rebuild_at(self.map_minute, event.data[-1].ts_ms, self.rebuild_ms)
                if minute is not None:
                    # the trades before the minute go against the old map, the rest the new one
                    before = [t for t in event.data if t.ts_ms < minute]
                    if before:
                        await self._feed(dataclasses.replace(event, data=before), received_ns)
                    await self.rebuild(minute)
                    self.map_minute = minute
                    event = dataclasses.replace(event, data=[t for t in event.data if t.ts_ms >= minute])
            await self._feed(event, received_ns)
        return "STREAM_CLOSED"

    async def _feed(self, event: PublicEvent, received_ns: int) -> None:
        sprung = self.pipeline.on_event(event)
        if sprung:
            for hit in sprung:
                await self.emitter.fire(hit, received_ns)

    async def _watch(self) -> str:
        """Why the stream must be reopened: the symbols changed, or it has been silent too long."""
        while not self.stop.is_set():
            if self._changed.is_set():
                return "SYMBOLS_CHANGED"
            # only a stream that has delivered can fall silent: while pybit is still connecting,
            # cancelling would orphan the socket its thread is about to hand over
            if self._last_message is not None and time.monotonic() - self._last_message > self.restart_after_s:
                return f"SILENT_{self.restart_after_s:g}s"
            await _wait(self._changed, self.stop, 0.5)
        return "STOP"


async def _wait(event: asyncio.Event, stop: asyncio.Event, timeout: float) -> None:
    """Until `event` or `stop` is set, or `timeout` passes."""
    waiters = [asyncio.create_task(event.wait()), asyncio.create_task(stop.wait())]
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
