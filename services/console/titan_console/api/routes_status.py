"""Health, status and the operations panel (reads)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from titan_common import metrics
from titan_common.clock import now_ms
from titan_console.api import answers
from titan_console.api.answers import route
from titan_console.api.deps import access, authorize, get_console
from titan_console.core import ops_panel
from titan_console.core.access import Access
from titan_console.runtime import reads
from titan_console.runtime.context import Console
from titan_console.runtime.health import aggregate

router = APIRouter(dependencies=[Depends(authorize)])


@router.get("/health", openapi_extra=access(Access.PUBLIC), responses={200: {"model": answers.Answer}})
async def health(console: Console = Depends(get_console)) -> JSONResponse:
    """The aggregate: every service, Postgres, Redis and the exchange (public, like any
    load balancer probe; it carries no secrets)."""
    body = await aggregate(console)
    body.pop("bodies", None)
    return JSONResponse(body, status_code=503 if body["status"] == "unhealthy" else 200)


@router.get("/openapi.json", include_in_schema=False)
async def openapi(request: Request) -> JSONResponse:
    """The console's OpenAPI, under the rule of every other read (FastAPI's own would bypass
    `authorize`, so the app has none)."""
    return JSONResponse(request.app.openapi())


@router.get("/metrics", response_class=PlainTextResponse)
async def prometheus_metrics(console: Console = Depends(get_console)) -> Response:
    runtime = console.runtime
    if runtime.audit is not None:
        metrics.AUDIT_QUEUE_PCT.labels(runtime.name).set(runtime.audit.queue_pct)
        metrics.AUDIT_LAG_MS.labels(runtime.name).set(runtime.audit.lag_ms)
    payload, content_type = metrics.render_latest()
    return Response(payload, media_type=content_type)


@router.get("/api/status", **route(answers.Status))
async def status(console: Console = Depends(get_console)) -> dict[str, Any]:
    """What the manual's "Orders Not Executing" diagnosis reads: masterArm,
    circuitBreaker and bybitConnected, plus the mode and its reason codes. From the snapshot:
    master arm and the breaker as the last event (or this console's own action) left them."""
    summary = await aggregate(console)
    exchanges = summary["exchanges"]
    return {
        "masterArm": console.state.master_arm is True,
        "circuitBreaker": console.state.breaker or {"active": None, "source": "unknown"},
        # the runbook's bybitConnected, and <venue>Connected for every venue that runs
        "bybitConnected": exchanges.get("bybit", {}).get("connected") is True,
        **{f"{venue}Connected": view["connected"] is True for venue, view in exchanges.items()},
        "mode": summary["mode"],
        "reasonCodes": summary["reasons"],
        "since_ms": summary["since_ms"],
        "killSwitch": bool(console.state.kill_switch.get("engaged")),
        "systemMode": summary["system_mode"],
        "health": summary["status"],
        "services": {name: s["status"] for name, s in summary["services"].items()},
        "warnings": console.warnings,
        "as_of_ms": summary["as_of_ms"],
        "age_ms": summary["age_ms"],
    }


@router.get("/api/console/system-status", **route(answers.Answer))
async def system_status(console: Console = Depends(get_console)) -> dict[str, Any]:
    summary = await aggregate(console)
    summary.pop("bodies", None)
    return {
        "mode": summary["mode"],
        "reasonCodes": summary["reasons"],
        "since_ms": summary["since_ms"],
        "status": summary["status"],
        "problems": summary["problems"],
        "masterArm": console.state.master_arm,
        "killSwitch": console.state.kill_switch,
        "services": summary["services"],
        "database": summary["database"],
        "redis": summary["redis"],
        "exchanges": summary["exchanges"],
        "websocket": console.hub.stats(),
        "as_of_ms": summary["as_of_ms"],
        "age_ms": summary["age_ms"],
    }


@router.get("/api/console/operations", **route(answers.Answer))
async def operations(console: Console = Depends(get_console)) -> dict[str, Any]:
    """The 24/7 panel, sections in the fixed reading order of operations-rules-live.md."""
    summary = await aggregate(console)
    bodies = summary.pop("bodies")
    alerts, stages, storage, intents, reconcile = await asyncio.gather(
        reads.alerts(console),
        reads.stage_changes(console),
        reads.storage(console, bodies),
        reads.intents(console),
        console.upstream.try_json("execution", "/api/state/reconciliation-status"),
    )
    settings = console.settings
    sections = {
        "mode": {
            "mode": summary["mode"],
            "reason_codes": summary["reasons"],
            "since_ms": summary["since_ms"],
            "services": summary["services"],
        },
        "alerts": alerts,
        "stage_changes": stages,
        "storage": storage,
        "intents": intents,
        "reconcile": reconcile or {"status": "UNKNOWN", "note": "execution did not answer"},
        "churn": ops_panel.churn(
            console.state.churn_samples,
            now_ms(),
            limit_10s=settings.churn_limit_10s,
            limit_60s=settings.churn_limit_60s,
        ),
    }
    return {"order": list(ops_panel.PANEL_SECTIONS), **{name: sections[name] for name in ops_panel.PANEL_SECTIONS}}


@router.get("/ws", **route(answers.Answer))
async def websocket_info(console: Console = Depends(get_console)) -> dict[str, Any]:
    """`curl -i .../ws` (the manual's diagnosis) answers here; browsers upgrade on /ws/console."""
    return {"websocket": "/ws/console", "upgrade": "required for streaming", **console.hub.stats()}
