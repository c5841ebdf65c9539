"""The simulator's FastAPI app."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI

from titan_common.service import ServiceRuntime, create_service_app
from titan_sim.api import control, rest_market, rest_trade, ws
from titan_sim.api.mexc.app import MexcFace, create_mexc_app
from titan_sim.api.publisher import Publisher
from titan_sim.runtime.venue import Venue
from titan_sim.settings import SimSettings

log = logging.getLogger(__name__)


def create_app(settings: SimSettings) -> FastAPI:
    venue = Venue(settings, streams=Publisher)
    mexc_face = MexcFace(create_mexc_app(venue), settings.bind_address, settings.simulator_mexc_port)

    async def market(runtime: ServiceRuntime) -> None:
        await venue.market_loop(runtime.stop)

    async def setup(runtime: ServiceRuntime) -> None:
        try:
            mexc_face.bind()
        except OSError as exc:
            # loudly: a simulator without its MEXC face would leave MEXC clients hanging
            log.error("MEXC face cannot take port %d: %s", settings.simulator_mexc_port, exc)
            raise RuntimeError(f"MEXC face cannot take port {settings.simulator_mexc_port}: {exc}") from exc
        runtime.add_loop("market", market)
        runtime.add_loop("mexc-face", mexc_face.run)
        runtime.extra_health.append(lambda: _health(venue))
        runtime.extra_health.append(lambda: _mexc_health(mexc_face))

    app = create_service_app(
        "simulator",
        settings,
        routers=[rest_market.router, rest_trade.router, ws.router, control.router],
        setup=setup,
        needs_db=False,
        needs_redis=False,
        guard_mutations=False,
    )
    app.state.venue = venue
    app.state.mexc_face = mexc_face
    return app


def _mexc_health(face: MexcFace) -> dict[str, Any]:
    return {"mexc_face": {"ok": True, "port": face.port, "serving": face.serving}}


def _health(venue: Venue) -> dict[str, Any]:
    return {
        "market": {
            "ok": True,
            "symbols": len(venue.engine.instruments),
            "sim_now_ms": venue.clock.now_ms(),
            "ws_connections": len(venue.public.connections) + len(venue.private.connections),
        }
    }
