"""MEXC's public feed, REST-polled: Titan opens no MEXC WebSocket (MEXC's spot streams moved
to protobuf in 2025). Every `PUBLIC_POLL_S` (1 s) the poller reads the tickers (one request
for all symbols) and, per symbol, the recent trades ("trade") and the latest bars ("kline.N"),
and yields the shared PublicEvents the Bybit streams yield. A failing poll is logged and tried
again on the next tick; it never ends the iterator. `last_public_ms` says how fresh it is.

There is no private stream either: fills come from polling `executions_since`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from titan_common.clock import now_ms
from titan_common.exchanges.mexc import constants as C
from titan_common.exchanges.mexc import parsing as P
from titan_common.exchanges.types import ExchangeError, PublicEvent

log = logging.getLogger(__name__)

Fetch = Callable[..., Awaitable[Any]]


class PublicPoller:
    """Polls MEXC's public REST for `symbols` and yields PublicEvents; `call` is MexcHttp.call."""

    def __init__(self, call: Fetch, symbols: Sequence[str], topics: Sequence[str], poll_s: float = C.PUBLIC_POLL_S):
        self._call = call
        self.symbols = list(dict.fromkeys(symbols))
        self.poll_s = poll_s
        self.want_trades = "trade" in topics
        self.want_ticker = "ticker" in topics
        self.kline_intervals: list[str] = []
        for topic in topics:
            if topic.startswith("kline."):
                self.kline_intervals.append(topic.split(".", 1)[1])
            elif topic not in ("trade", "ticker"):
                raise ValueError(f"unsupported public topic {topic!r} (MEXC's feed polls trade, ticker, kline.N)")
        for interval in self.kline_intervals:
            P.kline_interval(interval)  # refused at once, not on every poll
        self._trade_cursor: dict[str, tuple[int, frozenset[str]]] = {}
        self.last_public_ms = 0  # when a poll last brought data (0: never)
        self._concurrency = asyncio.Semaphore(C.PUBLIC_POLL_CONCURRENCY)
        self.failed_polls = 0

    async def events(self) -> AsyncIterator[PublicEvent]:
        while True:
            started = time.monotonic()
            for event in await self.poll_once():
                yield event
            await asyncio.sleep(max(0.0, self.poll_s - (time.monotonic() - started)))

    async def poll_once(self) -> list[PublicEvent]:
        """One round over every symbol and topic; each failing request is logged and skipped."""
        events: list[PublicEvent] = []
        if self.want_ticker:
            payload = await self._fetch("ticker/24hr", {"symbol": self.symbols[0]} if len(self.symbols) == 1 else {})
            if payload is not None:
                wanted = set(self.symbols)
                ts = now_ms()
                for item in payload if isinstance(payload, list) else [payload]:
                    if isinstance(item, dict) and item.get("symbol") in wanted:
                        events.append(PublicEvent("ticker/24hr", "ticker", item["symbol"], ts, P.ticker_update(item)))
        # symbols in parallel (a few at a time): a round must stay within the second
        for found in await asyncio.gather(*(self._poll_symbol(symbol) for symbol in self.symbols)):
            events += found
        if events:
            self.last_public_ms = now_ms()
        return events

    async def _poll_symbol(self, symbol: str) -> list[PublicEvent]:
        events: list[PublicEvent] = []
        async with self._concurrency:
            if self.want_trades:
                payload = await self._fetch("trades", {"symbol": symbol, "limit": C.PUBLIC_TRADES_LIMIT})
                if payload is not None:
                    seen_ms, seen_keys = self._trade_cursor.get(symbol, (0, frozenset()))
                    trades, seen_ms, seen_keys = P.new_public_trades(payload, seen_ms, seen_keys)
                    self._trade_cursor[symbol] = (seen_ms, seen_keys)
                    if trades:
                        events.append(PublicEvent("trades", "trade", symbol, trades[-1].ts_ms, trades))
            for interval in self.kline_intervals:
                payload = await self._fetch(
                    "klines", {"symbol": symbol, "interval": P.kline_interval(interval), "limit": 2}
                )
                bars = P.live_bars(payload)
                if bars:
                    events.append(PublicEvent(f"kline.{interval}", "kline", symbol, now_ms(), bars))
        return events

    async def _fetch(self, path: str, params: dict[str, Any]) -> Any:
        try:
            return await self._call("spot", "public", "GET", path, params)
        except ExchangeError as exc:
            self.failed_polls += 1
            log.warning("MEXC public poll %s %s failed (retried next second): %s", path, params.get("symbol", ""), exc)
            return None
