"""The console's FastAPI app: every route behind `authorize`, the UI and /ws/console."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.routing import Route
from starlette.staticfiles import StaticFiles

from titan_common.service import create_service_app, error_body
from titan_console import runtime
from titan_console.api import routes_auth, routes_config, routes_console, routes_status, routes_ui, ws
from titan_console.errors import ConsoleError
from titan_console.settings import ConsoleSettings


def create_app(settings: ConsoleSettings) -> FastAPI:
    app = create_service_app("console", settings, setup=runtime.setup, title="Titan console")
    # The shared /health and /metrics are replaced: the console's /health is the aggregate,
    # and its /metrics passes the same access rules as every other route. FastAPI's own
    # /docs, /redoc and /openapi.json would bypass those rules: the console serves its
    # OpenAPI from a route of its own (routes_status), behind `authorize` like every read.
    replaced = {"/health", "/metrics", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"}
    app.router.routes = [r for r in app.router.routes if not (isinstance(r, APIRoute | Route) and r.path in replaced)]
    app.openapi_url = app.docs_url = app.redoc_url = None
    for router in (
        routes_status.router,
        routes_console.router,
        routes_config.router,
        routes_auth.router,
        routes_ui.router,
        ws.router,
    ):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=routes_ui.STATIC), name="static")

    @app.exception_handler(ConsoleError)
    async def _console_error(_request: Request, exc: ConsoleError) -> JSONResponse:
        return JSONResponse(
            error_body(exc.status, exc.code, exc.message, exc.details), status_code=exc.status, headers=exc.headers
        )

    return app
