"""The /ws/console clients and what is sent to them.

Each client has a bounded queue drained by its own sender task, so one slow browser can
never hold up the others or the event loop: when its queue is full it is disconnected
(it reconnects and gets a fresh STATE_UPDATE within a second).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from titan_common.clock import now_ms
from titan_common.logging import best_effort
from titan_console.runtime import metrics

log = logging.getLogger(__name__)
# what closing a browser's socket can fail with: already closed, or the peer gone
WS_CLOSE_ERRORS: tuple[type[Exception], ...] = (RuntimeError, OSError, WebSocketDisconnect)

QUEUE_SIZE = 512


def encode(message: dict[str, Any]) -> str:
    """JSON with Decimals as strings (money is never a float on the wire)."""

    def default(value: Any) -> Any:
        if isinstance(value, Decimal):
            return format(value.normalize(), "f")
        raise TypeError(f"not JSON serialisable: {type(value).__name__}")

    return json.dumps(message, default=default, separators=(",", ":"))


@dataclass(eq=False)
class Client:
    websocket: WebSocket
    username: str
    role: str
    connected_ms: int = field(default_factory=now_ms)
    queue: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    overflowed: bool = False


class Hub:
    def __init__(self) -> None:
        self.clients: set[Client] = set()
        self.messages_sent = 0
        self.connections_total = 0
        self.dropped_slow_clients = 0
        self.events_received = 0
        self.last_event_ms: int | None = None
        self.subscribed = False
        self._sent_times: deque[float] = deque(maxlen=10_000)

    def add(self, client: Client) -> None:
        self.clients.add(client)
        self.connections_total += 1
        metrics.WS_CLIENTS.set(len(self.clients))

    def remove(self, client: Client) -> None:
        self.clients.discard(client)
        metrics.WS_CLIENTS.set(len(self.clients))

    def send(self, client: Client, message: dict[str, Any]) -> None:
        self._enqueue(client, encode(message))

    def broadcast(self, message: dict[str, Any]) -> None:
        if not self.clients:
            return
        text = encode(message)
        for client in list(self.clients):
            self._enqueue(client, text)

    def _enqueue(self, client: Client, text: str) -> None:
        try:
            client.queue.put_nowait(text)
        except asyncio.QueueFull:
            if not client.overflowed:
                client.overflowed = True
                self.dropped_slow_clients += 1
                log.warning("ws client %s too slow; disconnecting it", client.username)
                with contextlib.suppress(asyncio.QueueFull):
                    client.queue.put_nowait("")  # wakes the sender, which then closes

    async def pump(self, client: Client) -> None:
        """Send the client's queue until it closes or overflows."""
        while True:
            text = await client.queue.get()
            if client.overflowed:
                with best_effort(log, "closing an overflowed websocket", *WS_CLOSE_ERRORS, level=logging.DEBUG):
                    await client.websocket.close(code=1013)
                return
            await client.websocket.send_text(text)
            self.messages_sent += 1
            metrics.WS_MESSAGES.inc()
            self._sent_times.append(time.monotonic())

    def stats(self) -> dict[str, Any]:
        cutoff = time.monotonic() - 60.0
        while self._sent_times and self._sent_times[0] < cutoff:
            self._sent_times.popleft()
        return {
            "endpoint": "/ws/console",
            "active": self.subscribed,
            "clients": len(self.clients),
            "connections_total": self.connections_total,
            "messages_sent_total": self.messages_sent,
            "messages_last_60s": len(self._sent_times),
            "messages_per_s": round(len(self._sent_times) / 60.0, 3),
            "events_received_total": self.events_received,
            "last_event_ms": self.last_event_ms,
            "dropped_slow_clients": self.dropped_slow_clients,
        }
