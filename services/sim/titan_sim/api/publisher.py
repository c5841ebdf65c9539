"""The Bybit face's streams: engine changes into WebSocket messages (public tape, books,
tickers, candles, and the private order/execution/position/wallet streams). The venue pushes
through it after every engine call (it is the venue's `Streams`)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from titan_sim.api import shapes
from titan_sim.core.exchange import Exchange
from titan_sim.core.model import Side
from titan_sim.runtime.clock import SimClock, wall_ms
from titan_sim.runtime.hub import Connection, Hub
from titan_sim.runtime.venue import Venue

BOOK_DEPTHS = (1, 25, 50, 100, 200, 500, 1000)
KLINE_INTERVALS = ("1", "3", "5", "15", "30", "60", "120", "240", "360", "720", "D", "W", "M")
TRADES_PER_MESSAGE = 1000
PRIVATE_TOPICS = ("order", "execution", "position", "wallet")


def dumps(payload: Any) -> str:
    return json.dumps(payload, separators=(",", ":"))


@dataclass
class BookView:
    """What subscribers of one orderbook topic currently hold (formatted strings)."""

    bids: dict[str, str] = field(default_factory=dict)
    asks: dict[str, str] = field(default_factory=dict)
    version: int = -1
    u: int = 0


def parse_public_topic(topic: str, symbols: dict[str, Any]) -> tuple[str, str, str] | None:
    """(kind, param, symbol) for a public topic we serve, else None."""
    parts = topic.split(".")
    if len(parts) == 2 and parts[0] in ("publicTrade", "tickers") and parts[1] in symbols:
        return parts[0], "", parts[1]
    if len(parts) == 3 and parts[2] in symbols:
        if parts[0] == "orderbook" and parts[1].isdigit() and int(parts[1]) in BOOK_DEPTHS:
            return "orderbook", parts[1], parts[2]
        if parts[0] == "kline" and parts[1] in KLINE_INTERVALS:
            return "kline", parts[1], parts[2]
    return None


class Publisher:
    def __init__(self, venue: Venue) -> None:
        self.venue = venue
        self.books: dict[str, BookView] = {}
        self.tickers: dict[str, dict[str, Any]] = {}
        self.klines: dict[str, tuple[int, int]] = {}  # topic -> (bar start, wall ms of last push)
        self.trades_pushed = 0
        # push each ticker at least once a second, changed or not: a cued or finished replay still ticks
        self.heartbeat = venue.replay is not None
        self.ticker_pushed: dict[str, int] = {}  # topic -> wall ms of its last push

    # the venue's, read at each use: a reset replaces its engine and clock
    @property
    def engine(self) -> Exchange:
        return self.venue.engine

    @property
    def clock(self) -> SimClock:
        return self.venue.clock

    @property
    def public(self) -> Hub:
        return self.venue.public

    @property
    def private(self) -> Hub:
        return self.venue.private

    def reset(self) -> None:
        self.books.clear()
        self.tickers.clear()
        self.klines.clear()
        self.ticker_pushed.clear()

    # --- after every engine call ---------------------------------------------------------

    def flush(self) -> None:
        out = self.engine.drain()
        now = self.clock.now_ms()
        for symbol, trades in out.trades.items():
            topic = f"publicTrade.{symbol}"
            if not self.public.has(topic):
                continue
            inst = self.engine.instruments[symbol]
            for i in range(0, len(trades), TRADES_PER_MESSAGE):
                chunk = [shapes.public_trade(t, inst) for t in trades[i : i + TRADES_PER_MESSAGE]]
                self.public.publish(topic, dumps({"topic": topic, "type": "snapshot", "ts": now, "data": chunk}))
                self.trades_pushed += len(chunk)
        if self.private.connections:
            self._private(out.orders.values(), out.executions, out.positions.values(), out.wallet, now)
        self.flush_books(now)

    def flush_books(self, now: int | None = None) -> None:
        now = self.clock.now_ms() if now is None else now
        for topic, view in self.books.items():
            if not self.public.has(topic):
                continue
            _kind, depth, symbol = topic.split(".")
            book = self.engine.books[symbol]
            if book.version == view.version:
                continue
            bids, asks = self._levels(symbol, int(depth))
            delta_b = _diff(view.bids, bids)
            delta_a = _diff(view.asks, asks)
            view.bids, view.asks, view.version = bids, asks, book.version
            if not delta_b and not delta_a:
                continue
            view.u += 1
            data = {"s": symbol, "b": delta_b, "a": delta_a, "u": view.u, "seq": book.version}
            self.public.publish(topic, dumps({"topic": topic, "type": "delta", "ts": now, "data": data, "cts": now}))

    def _levels(self, symbol: str, depth: int) -> tuple[dict[str, str], dict[str, str]]:
        inst = self.engine.instruments[symbol]
        book = self.engine.books[symbol]
        fp, fq = inst.fmt_price, inst.fmt_qty
        bids = {fp(p): fq(q) for p, q in book.depth(Side.BUY, depth)}
        asks = {fp(p): fq(q) for p, q in book.depth(Side.SELL, depth)}
        return bids, asks

    def _private(self, orders: Any, executions: Any, positions: Any, wallet: bool, now: int) -> None:
        ex = self.engine
        if orders and self.private.has("order"):
            data = [{"category": "linear", **shapes.order(o, ex.instruments[o.symbol])} for o in orders]
            self._push_private("order", data, now)
        if executions and self.private.has("execution"):
            data = [{"category": "linear", **shapes.execution(e, ex.instruments[e.symbol])} for e in executions]
            self._push_private("execution", data, now)
        if positions and self.private.has("position"):
            marks = ex.marks()
            data = [
                {"category": "linear", **shapes.position(p, ex.instruments[p.symbol], marks[p.symbol])}
                for p in positions
            ]
            self._push_private("position", data, now)
        if wallet and self.private.has("wallet"):
            self._push_private("wallet", [shapes.wallet(ex.account, ex.marks(), ex.order_margin())], now)

    def _push_private(self, topic: str, data: list[dict[str, Any]], now: int) -> None:
        message = {"id": str(uuid.uuid4()), "topic": topic, "creationTime": now, "data": data}
        self.private.publish(topic, dumps(message))

    # --- subscriptions -------------------------------------------------------------------

    def first_message(self, topic: str, conn: Connection) -> str | None:
        """The snapshot a new subscriber gets before any delta of the topic."""
        parsed = parse_public_topic(topic, self.engine.instruments)
        if parsed is None:
            return None
        kind, param, symbol = parsed
        now = self.clock.now_ms()
        if kind == "orderbook":
            self.flush_books(now)  # existing subscribers first, so everyone shares one view
            view = self.books.get(topic)
            book = self.engine.books[symbol]
            if view is None or not self.public.has(topic):
                bids, asks = self._levels(symbol, int(param))
                view = BookView(bids, asks, book.version, view.u + 1 if view else 1)
                self.books[topic] = view
            data = {
                "s": symbol,
                "b": [[p, q] for p, q in view.bids.items()],
                "a": [[p, q] for p, q in view.asks.items()],
                "u": view.u,
                "seq": book.version,
            }
            return dumps({"topic": topic, "type": "snapshot", "ts": now, "data": data, "cts": now})
        if kind == "tickers":
            data = shapes.ticker(self.engine, symbol, now)
            if not self.public.has(topic):
                self.tickers[topic] = data
            return dumps({"topic": topic, "type": "snapshot", "ts": now, "cs": now, "data": data})
        if kind == "kline":
            return self._kline_message(topic, param, symbol, now, force=True)
        return None

    # --- periodic: tickers and candles ---------------------------------------------------

    def periodic(self) -> None:
        now = self.clock.now_ms()
        for topic in list(self.public.by_topic):
            if topic.startswith("tickers."):
                symbol = topic.split(".", 1)[1]
                data = shapes.ticker(self.engine, symbol, now)
                last = self.tickers.get(topic, {})
                delta = {k: v for k, v in data.items() if last.get(k) != v}
                self.tickers[topic] = data
                if not delta and self.heartbeat and wall_ms() - self.ticker_pushed.get(topic, 0) >= 1000:
                    delta = {"lastPrice": data["lastPrice"]}
                if delta:
                    self.ticker_pushed[topic] = wall_ms()
                    delta["symbol"] = symbol
                    message = {"topic": topic, "type": "delta", "ts": now, "cs": now, "data": delta}
                    self.public.publish(topic, dumps(message))
            elif topic.startswith("kline."):
                _k, interval, symbol = topic.split(".")
                text = self._kline_message(topic, interval, symbol, now, force=False)
                if text is not None:
                    self.public.publish(topic, text)

    def push_klines(self, symbols: set[str]) -> None:
        """Every subscribed candle topic of these symbols, now (a replayed minute was put)."""
        now = self.clock.now_ms()
        for topic in list(self.public.by_topic):
            if topic.startswith("kline.") and topic.rsplit(".", 1)[1] in symbols:
                _k, interval, symbol = topic.split(".")
                text = self._kline_message(topic, interval, symbol, now, force=True)
                if text is not None:
                    self.public.publish(topic, text)

    def _kline_message(self, topic: str, interval: str, symbol: str, now: int, *, force: bool) -> str | None:
        inst = self.engine.instruments[symbol]
        bars = self.engine.klines[symbol].query(interval, None, None, 2)
        if not bars:
            return None
        current = bars[0]
        last_start, last_push = self.klines.get(topic, (current.start, 0))
        wall = wall_ms()
        data: list[dict[str, Any]] = []
        if current.start != last_start and len(bars) > 1:
            data.append(shapes.kline_ws(bars[1], inst, interval, True, now))  # the bar that just closed
        elif not force and wall - last_push < 1000:
            return None
        data.append(shapes.kline_ws(current, inst, interval, False, now))
        self.klines[topic] = (current.start, wall)
        return dumps({"topic": topic, "type": "snapshot", "ts": now, "data": data})


def _diff(old: dict[str, str], new: dict[str, str]) -> list[list[str]]:
    changes = [[p, q] for p, q in new.items() if old.get(p) != q]
    changes.extend([p, "0"] for p in old if p not in new)
    return changes


def publisher_of(venue: Venue) -> Publisher:
    """The venue's streams, which the Bybit face attached (api.app)."""
    streams = venue.streams
    assert isinstance(streams, Publisher)
    return streams
