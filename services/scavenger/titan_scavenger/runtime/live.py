"""Fan-out of the scavenger's events to /ws/scavenger clients (each with a bounded queue)."""

from __future__ import annotations

import asyncio
import logging

from titan_common.messages import Event

log = logging.getLogger(__name__)


class LiveHub:
    def __init__(self, max_queue: int = 1000) -> None:
        self.max_queue = max_queue
        self._clients: set[asyncio.Queue[str]] = set()
        self.latest: dict[str, str] = {}  # event type -> its last JSON, for a client's first view

    @property
    def clients(self) -> int:
        return len(self._clients)

    def subscribe(self) -> asyncio.Queue[str]:
        queue: asyncio.Queue[str] = asyncio.Queue(maxsize=self.max_queue)
        self._clients.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[str]) -> None:
        self._clients.discard(queue)

    def publish(self, event: Event) -> None:
        text = event.model_dump_json()
        self.latest[event.event_type] = text
        for queue in self._clients:
            if queue.full():
                queue.get_nowait()  # a slow client loses its oldest event, never blocks the service
            queue.put_nowait(text)
