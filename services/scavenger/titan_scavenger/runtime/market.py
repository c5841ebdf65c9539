"""Market state for the trap map: which symbols, their 15-min bars, live tickers, funding and
open-interest samples. REST fills what the streams cannot (history, gaps after a drop)."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from titan_common.exchanges import ExchangeAdapter, ExchangeError, InstrumentFilters, Kline, LiveBar, TickerUpdate
from titan_scavenger.core.market import BAR_MS, Bar, SymbolMarket

log = logging.getLogger(__name__)

KLINE_INTERVAL = "15"  # BAR_MS in Bybit's words
SAMPLE_EVERY_MS = 1_000
SAMPLE_KEEP_MS = 15 * 60_000


def bar_of(k: Kline) -> Bar:
    return Bar(k.start_ms, float(k.open), float(k.high), float(k.low), float(k.close), float(k.volume))


@dataclass
class LiveTicker:
    last_price: float = 0.0
    mark_price: float | None = None
    index_price: float | None = None
    funding_rate: float | None = None
    open_interest: float | None = None
    turnover_24h: float = 0.0
    sampled_ms: int = 0
    oi_samples: deque[tuple[int, float]] = field(default_factory=deque)
    price_samples: deque[tuple[int, float]] = field(default_factory=deque)


def choose_universe(
    whitelist: Sequence[str], turnover: dict[str, float], trading: Iterable[str], top_n: int, max_symbols: int
) -> list[str]:
    """The whitelist (those the venue trades) first, then the top N by 24 h turnover."""
    tradable = set(trading)
    chosen = [s for s in whitelist if s in tradable]
    ranked = sorted((s for s in turnover if s in tradable), key=lambda s: (-turnover[s], s))
    for symbol in ranked[:top_n]:
        if symbol not in chosen:
            chosen.append(symbol)
    return chosen[:max_symbols]


class MarketData:
    def __init__(self, adapter: ExchangeAdapter, *, bars_history: int, rest_concurrency: int = 4) -> None:
        self.adapter = adapter
        self.bars_history = bars_history
        self.instruments: dict[str, InstrumentFilters] = {}
        self.bars: dict[str, list[Bar]] = {}
        self.tickers: dict[str, LiveTicker] = {}
        self.funding_history: dict[str, tuple[float, ...]] = {}
        self.funding_loaded_ms = 0
        self.topup_due = False  # after a stream drop: bars it would have updated are re-read over REST
        self._rest = asyncio.Semaphore(rest_concurrency)

    # --- which symbols -------------------------------------------------------------------

    async def universe(self, whitelist: Sequence[str], top_n: int, max_symbols: int) -> list[str]:
        self.instruments = {f.symbol: f for f in await self.adapter.instruments()}
        tickers = await self.adapter.tickers()
        for ticker in tickers:
            live = self.tickers.setdefault(ticker.symbol, LiveTicker())
            live.last_price = float(ticker.last_price)
            live.turnover_24h = float(ticker.turnover_24h)
            live.mark_price = float(ticker.mark_price) if ticker.mark_price is not None else None
            live.index_price = float(ticker.index_price) if ticker.index_price is not None else None
            live.funding_rate = float(ticker.funding_rate) if ticker.funding_rate is not None else None
            live.open_interest = float(ticker.open_interest) if ticker.open_interest is not None else None
        trading = [s for s, f in self.instruments.items() if f.trading]
        turnover = {t.symbol: float(t.turnover_24h) for t in tickers}
        missing = [s for s in whitelist if s not in set(trading)]
        if missing:
            log.warning("whitelisted symbols the venue does not trade: %s", ",".join(missing))
        return choose_universe(whitelist, turnover, trading, top_n, max_symbols)

    # --- streams ---------------------------------------------------------------------------

    def on_ticker(self, symbol: str, data: TickerUpdate, now_ms: int) -> None:
        """The symbol's ticker from the stream (None where the venue did not say)."""
        live = self.tickers.get(symbol)
        if live is None:
            live = self.tickers[symbol] = LiveTicker()
        if data.last_price:
            live.last_price = data.last_price
        live.mark_price = data.mark_price or live.mark_price
        live.index_price = data.index_price or live.index_price
        if data.funding_rate is not None:
            live.funding_rate = data.funding_rate
        oi = data.open_interest
        if oi is not None:
            live.open_interest = oi
        if now_ms - live.sampled_ms >= SAMPLE_EVERY_MS:
            live.sampled_ms = now_ms
            if live.open_interest is not None:
                live.oi_samples.append((now_ms, live.open_interest))
            if live.last_price:
                live.price_samples.append((now_ms, live.last_price))
            for samples in (live.oi_samples, live.price_samples):
                while samples and samples[0][0] < now_ms - SAMPLE_KEEP_MS:
                    samples.popleft()

    def on_kline(self, symbol: str, items: Iterable[LiveBar]) -> None:
        """The stream's 15-minute bars: the one in progress (and the one that just closed)."""
        bars = self.bars.get(symbol)
        if bars is None:
            return  # history first (REST); a lone live bar would look like a market with no past
        for item in items:
            _merge(bars, [Bar(*item)], self.bars_history)

    # --- REST --------------------------------------------------------------------------------

    async def refresh_bars(self, symbols: Iterable[str], now_ms: int) -> list[str]:
        """Load history where it is missing or has a gap; returns the symbols that failed."""
        current = now_ms // BAR_MS * BAR_MS
        failed: list[str] = []
        topup, self.topup_due = self.topup_due, False

        async def one(symbol: str) -> None:
            bars = self.bars.get(symbol)
            if bars and bars[-1].start_ms >= current - BAR_MS and not topup:
                return  # the stream keeps it current
            limit = self.bars_history if not bars or bars[-1].start_ms < current - 3 * BAR_MS else 4
            async with self._rest:
                try:
                    klines = await self.adapter.klines(symbol, KLINE_INTERVAL, limit=limit)
                except ExchangeError as exc:
                    log.warning("klines for %s failed: %s", symbol, exc)
                    failed.append(symbol)
                    return
            fresh = [bar_of(k) for k in klines]
            if limit == self.bars_history or not bars:
                self.bars[symbol] = fresh[-self.bars_history :]
            else:
                _merge(bars, fresh, self.bars_history)

        await asyncio.gather(*(one(s) for s in symbols))
        if failed and topup:
            self.topup_due = True
        return failed

    async def refresh_funding(self, symbols: Iterable[str], now_ms: int) -> None:
        async def one(symbol: str) -> None:
            async with self._rest:
                try:
                    rates = await self.adapter.funding_history(symbol, limit=3)
                except ExchangeError as exc:
                    log.warning("funding history for %s failed: %s", symbol, exc)
                    return
            self.funding_history[symbol] = tuple(float(r.rate) for r in rates)

        await asyncio.gather(*(one(s) for s in symbols))
        self.funding_loaded_ms = now_ms

    async def seed_open_interest(self, symbols: Iterable[str]) -> None:
        """Open-interest history where the venue keeps it (5-min points), before the stream's samples."""

        async def one(symbol: str) -> None:
            async with self._rest:
                try:
                    points = await self.adapter.open_interest(symbol, interval="5min", limit=3)
                except ExchangeError as exc:
                    log.info("open interest history for %s unavailable: %s", symbol, exc)
                    return
            live = self.tickers.setdefault(symbol, LiveTicker())
            seeded = [(p.ts_ms, float(p.open_interest)) for p in points if p.open_interest > 0]
            live.oi_samples = deque(sorted({*seeded, *live.oi_samples}))

        await asyncio.gather(*(one(s) for s in symbols))

    # --- for the trap map ----------------------------------------------------------------------

    def snapshot(self, symbol: str, last_trade: float | None) -> SymbolMarket | None:
        instrument = self.instruments.get(symbol)
        bars = self.bars.get(symbol)
        live = self.tickers.get(symbol, LiveTicker())
        price = last_trade or live.last_price
        if instrument is None or not bars or not price:
            return None
        return SymbolMarket(
            symbol=symbol,
            tick_size=instrument.tick_size if instrument.tick_size > 0 else Decimal("0.0001"),
            last_price=price,
            bars=tuple(bars),
            index_price=live.index_price,
            funding_rate=live.funding_rate,
            funding_history=self.funding_history.get(symbol, ()),
            oi_samples=tuple(live.oi_samples),
            price_samples=tuple(live.price_samples),
        )


def _merge(bars: list[Bar], fresh: Iterable[Bar], keep: int) -> None:
    """Put newer versions of bars in place (same start) and append new ones, oldest first."""
    for bar in fresh:
        if bars and bar.start_ms == bars[-1].start_ms:
            bars[-1] = bar
        elif not bars or bar.start_ms > bars[-1].start_ms:
            bars.append(bar)
        else:
            for i in range(len(bars) - 1, -1, -1):
                if bars[i].start_ms == bar.start_ms:
                    bars[i] = bar
                    break
                if bars[i].start_ms < bar.start_ms:
                    bars.insert(i + 1, bar)
                    break
    del bars[: max(0, len(bars) - keep)]
