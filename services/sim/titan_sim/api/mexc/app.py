"""The MEXC spot v3 face: its own FastAPI app on its own port, served by a second uvicorn
server inside the simulator's process and event loop, on the same `Venue`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI

from titan_common.logging import best_effort
from titan_common.service import ServiceRuntime
from titan_sim.api.mexc import market, trade
from titan_sim.runtime.venue import Venue

log = logging.getLogger(__name__)
STOP_GRACE_S = 1  # in-flight requests (a held drop_response) get this long when serving stops


def create_mexc_app(venue: Venue) -> FastAPI:
    app = FastAPI(title="Titan simulator: MEXC spot v3 face", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.venue = venue
    for router in (market.router, market.contract_router, trade.router):
        app.include_router(router)
    return app


class _FaceServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # the simulator's own server owns SIGTERM/SIGINT; this one stops with the runtime
        yield


class MexcFace:
    """Serves the face on (host, port); `stop()` closes the port (clients see the venue
    down, connections refused) and `start()` serves again on the same port."""

    def __init__(self, app: FastAPI, host: str, port: int) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._sock: socket.socket | None = None
        self._server: _FaceServer | None = None
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    @property
    def serving(self) -> bool:
        return self._task is not None and not self._task.done()

    def bind(self) -> None:
        """Take the port now (raises OSError when it is taken): the simulator must not run
        without its MEXC face."""
        if self._sock is not None:
            return
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
            sock.listen(2048)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        self._sock = sock

    async def start(self) -> None:
        async with self._lock:
            if self.serving:
                return
            self.bind()
            assert self._sock is not None
            config = uvicorn.Config(
                self.app,
                log_config=None,
                access_log=False,
                lifespan="off",
                timeout_graceful_shutdown=STOP_GRACE_S,
            )
            self._server = _FaceServer(config)
            self._task = asyncio.get_running_loop().create_task(self._server.serve(sockets=[self._sock]))
            # uvicorn exposes start-up only as a flag
            while not self._server.started and not self._task.done():  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            if self._task.done():
                self._task.result()  # raises what stopped it
            log.info("MEXC face serving on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        async with self._lock:
            if self._server is None or self._task is None:
                return
            self._server.should_exit = True
            with best_effort(log, "stopping the MEXC face", OSError, RuntimeError):
                await self._task
            if self._sock is not None:
                self._sock.close()  # uvicorn closed it already; closing twice is harmless
            self._sock, self._server, self._task = None, None, None
            log.info("MEXC face stopped serving on %s:%d", self.host, self.port)

    async def run(self, runtime: ServiceRuntime) -> None:
        """The runtime loop: serve until the simulator stops."""
        await self.start()
        await runtime.stop.wait()
        await self.stop()
