"""WebSocket fan-out: one writer task and one bounded queue per connection, topics to sets."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import defaultdict
from typing import Any

from starlette.websockets import WebSocket

log = logging.getLogger(__name__)
QUEUE_LIMIT = 50_000  # a consumer this far behind is dropped rather than slowing everyone


class Connection:
    def __init__(self, websocket: WebSocket, kind: str) -> None:
        self.id = str(uuid.uuid4())
        self.websocket = websocket
        self.kind = kind
        self.topics: set[str] = set()
        self.authed = False
        self.closed = False
        self.queue: asyncio.Queue[str | None] = asyncio.Queue(maxsize=QUEUE_LIMIT)
        self.sent = 0

    def send(self, text: str) -> None:
        if self.closed:
            return
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            log.warning("ws %s: consumer too slow, dropping it", self.id)
            self.abort()

    async def writer(self) -> None:
        while True:
            text = await self.queue.get()
            if text is None or self.closed:
                return
            try:
                await self.websocket.send_text(text)
            except Exception:
                self.closed = True
                return
            self.sent += 1

    def abort(self) -> None:
        """Drop the TCP connection without a close frame, as a network failure would.
        pybit reconnects (and resubscribes) only after an abrupt drop, not after a clean close."""
        self.closed = True
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(None)
        transport = _transport_of(self.websocket)
        if transport is not None:
            transport.abort()
            return
        task = asyncio.get_running_loop().create_task(self.websocket.close(code=1006))
        task.add_done_callback(lambda t: t.exception() if not t.cancelled() else None)


def _transport_of(websocket: WebSocket) -> asyncio.Transport | None:
    # Starlette hands the ASGI server's bound receive method through; uvicorn's protocol
    # object behind it owns the transport. Not part of ASGI, hence the defensive walk.
    for candidate in (websocket._receive, websocket._send):
        owner: Any = getattr(candidate, "__self__", None)
        transport = getattr(owner, "transport", None)
        if isinstance(transport, asyncio.Transport):
            return transport
    return None


class Hub:
    def __init__(self) -> None:
        self.connections: set[Connection] = set()
        self.by_topic: dict[str, set[Connection]] = defaultdict(set)

    def add(self, conn: Connection) -> None:
        self.connections.add(conn)

    def remove(self, conn: Connection) -> None:
        self.connections.discard(conn)
        for topic in conn.topics:
            subs = self.by_topic.get(topic)
            if subs is not None:
                subs.discard(conn)
                if not subs:
                    del self.by_topic[topic]
        conn.topics.clear()

    def subscribe(self, conn: Connection, topic: str) -> None:
        conn.topics.add(topic)
        self.by_topic[topic].add(conn)

    def unsubscribe(self, conn: Connection, topic: str) -> None:
        conn.topics.discard(topic)
        subs = self.by_topic.get(topic)
        if subs is not None:
            subs.discard(conn)
            if not subs:
                del self.by_topic[topic]

    def has(self, topic: str) -> bool:
        return bool(self.by_topic.get(topic))

    def publish(self, topic: str, text: str) -> None:
        for conn in tuple(self.by_topic.get(topic, ())):
            conn.send(text)

    def abort_all(self) -> int:
        count = 0
        for conn in list(self.connections):
            conn.abort()
            count += 1
        return count
