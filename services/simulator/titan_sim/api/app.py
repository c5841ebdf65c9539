"""The simulator's FastAPI app."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from titan_common.service import ServiceRuntime, create_service_app
from titan_sim.api import control, rest_market, rest_trade, ws
from titan_sim.runtime.venue import Venue
from titan_sim.settings import SimSettings


def create_app(settings: SimSettings) -> FastAPI:
    venue = Venue(settings)

    async def market(runtime: ServiceRuntime) -> None:
        await venue.market_loop(runtime.stop)

    async def setup(runtime: ServiceRuntime) -> None:
        runtime.add_loop("market", market)
        runtime.extra_health.append(lambda: _health(venue))

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
    return app


def _health(venue: Venue) -> dict[str, Any]:
    return {
        "market": {
            "ok": True,
            "symbols": len(venue.engine.instruments),
            "sim_now_ms": venue.clock.now_ms(),
            "ws_connections": len(venue.public.connections) + len(venue.private.connections),
        }
    }
