"""pybit's WebSocket clients (threads with callbacks) bridged into asyncio iterators.

pybit connects in its constructor and runs callbacks on its own thread; each callback
hands the raw message to the event loop with call_soon_threadsafe. The URL comes from
module constants, so they are swapped under a lock just for construction.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import pybit.unified_trading as pybit_trading
from pybit.unified_trading import WebSocket
from websocket import WebSocketException

from titan_common.logging import best_effort

log = logging.getLogger(__name__)
_URL_LOCK = threading.Lock()


def ws_base(endpoint: str) -> str:
    """http(s)://host -> ws(s)://host, the base for /v5/public/{CHANNEL_TYPE} and /v5/private."""
    if endpoint.startswith("https://api"):
        return "wss://stream" + endpoint.removeprefix("https://api")
    return endpoint.replace("https://", "wss://").replace("http://", "ws://")


def open_socket(endpoint: str, channel_type: str, **kwargs: Any) -> WebSocket:
    base = ws_base(endpoint).rstrip("/")
    with _URL_LOCK:
        saved = (pybit_trading.PUBLIC_WSS, pybit_trading.PRIVATE_WSS)
        pybit_trading.PUBLIC_WSS = base + "/v5/public/{CHANNEL_TYPE}"
        pybit_trading.PRIVATE_WSS = base + "/v5/private"
        try:
            return WebSocket(testnet=False, channel_type=channel_type, **kwargs)
        finally:
            pybit_trading.PUBLIC_WSS, pybit_trading.PRIVATE_WSS = saved


def on_reconnect(socket: WebSocket, callback: Callable[[], None]) -> None:
    """Call `callback` (on pybit's thread) each time `socket` reconnects by itself.

    pybit opens the first connection in its constructor and later ones from its error
    handler, each ending in the instance's `_on_open` (looked up at call time), so wrapping
    it after construction sees exactly the reconnects. This leans on pybit's internals,
    pinned in requirements.txt; tests/integration/common covers it against the simulator."""
    opened = socket._on_open

    def reopened() -> None:
        callback()
        opened()

    socket._on_open = reopened


async def bridge(
    connect: Callable[[Callable[[dict[str, Any]], None]], WebSocket], max_queue: int = 100_000
) -> AsyncIterator[dict[str, Any]]:
    """Yield every raw message of a socket built by `connect(callback)`; closes it on exit."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=max_queue)

    def on_message(message: dict[str, Any]) -> None:
        def put() -> None:
            if queue.full():
                log.error("websocket bridge queue full; dropping oldest message")
                queue.get_nowait()
            queue.put_nowait(message)

        loop.call_soon_threadsafe(put)

    socket = await asyncio.to_thread(connect, on_message)
    try:
        while True:
            yield await queue.get()
    finally:
        with best_effort(log, "closing a websocket", OSError, RuntimeError, AttributeError, WebSocketException):
            await asyncio.to_thread(socket.exit)
