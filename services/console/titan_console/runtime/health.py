"""The aggregate /health, /api/status and the operations panel answer from a snapshot.

Every other service's /health is asked at once by one background loop (`refresh_healths`,
every `snapshot_interval_s`), never per request; each answer composes that snapshot with
what the console knows first-hand at that moment (its own state and reasons, master arm,
the kill switch, the heartbeats read every second), and says how old the snapshot is
(`as_of_ms`, `age_ms`). Past `snapshot_max_age_s` the status is degraded, and says why."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from typing import Any

from titan_common.clock import now_ms
from titan_common.system_state import SystemState
from titan_console.core.health import ServiceView, overall, service_status
from titan_console.runtime.context import Console


async def _service_health(console: Console, name: str) -> tuple[dict[str, Any] | None, float | None]:
    started = time.perf_counter()
    try:
        response = await console.upstream.call(name, "GET", "/health")
        body = response.json()
    except Exception:
        return None, None
    latency = (time.perf_counter() - started) * 1000
    return (body if isinstance(body, dict) else None), latency


async def refresh_healths(console: Console) -> None:
    """Every other service's /health body (None when it did not answer), into the snapshot.
    Execution and the scavenger are one process per venue: `execution`, then `execution-<venue>`."""
    asked = now_ms()
    others = [name for name in console.settings.trading_processes if name != "console"]
    answers = await asyncio.gather(*(_service_health(console, name) for name in others))
    bodies: dict[str, dict[str, Any] | None] = {}
    for name, (body, latency) in zip(others, answers, strict=True):
        bodies[name] = None if body is None else {**body, "latency_ms": round(latency or 0.0, 2)}
    console.state.note_healths(bodies, asked)


def service_view(body: dict[str, Any] | None, *, heartbeat: bool) -> ServiceView:
    """What the aggregate needs of one service's /health answer."""
    if body is None:
        return ServiceView(False, None, heartbeat=heartbeat)
    checks = body.get("checks") if isinstance(body.get("checks"), dict) else {}
    failing = frozenset(name for name, check in checks.items() if isinstance(check, dict) and check.get("ok") is False)
    return ServiceView(True, body.get("status"), heartbeat=heartbeat, failing=failing, mode=body.get("mode"))


def exchange_view(execution: dict[str, Any] | None) -> dict[str, Any]:
    """A venue as its execution's /health tells it: connected, ready, its account, how its
    state arrives (a private stream, or REST polling) and the last reconcile."""
    checks = (execution or {}).get("checks") or {}
    exchange = checks.get("exchange") if isinstance(checks.get("exchange"), dict) else {}
    return {
        # None: its execution did not answer, so the venue's state is unknown
        "connected": exchange.get("connected") if execution else None,
        "ready": exchange.get("ready") if execution else None,
        "name": exchange.get("name"),
        "feed": exchange.get("feed"),
        "stops": exchange.get("stops"),
        "mode": (execution or {}).get("mode"),
        "reasons": (execution or {}).get("reasons", []),
        "last_reconcile": checks.get("last_reconcile"),
    }


# concurrent readers share one composition for at most this long (and never across a change
# of what the console knows: an operator's own action is in the very next answer)
MEMO_S = 0.05


@dataclass(frozen=True)
class Memo:
    version: int
    own: SystemState  # the console's own state then (replaced, never changed in place)
    at: float
    body: dict[str, Any]


async def aggregate(console: Console) -> dict[str, Any]:
    """The aggregate from the snapshot (asked afresh only before the loop's first round).
    Under a burst of readers it is composed once per change of what the console knows, and
    at most every MEMO_S; `age_ms` is always of the moment of the answer."""
    if console.state.healths_ms is None:
        await refresh_healths(console)
    if console.state.beats_ok is None:
        await console.state.refresh_system()
    state, at = console.state, time.monotonic()
    memo: Memo | None = state.aggregate_memo
    unchanged = memo is not None and memo.version == state.version and memo.own is console.runtime.state
    if memo is not None and unchanged and at - memo.at < MEMO_S:
        return {**memo.body, "age_ms": now_ms() - memo.body["as_of_ms"]}
    version, own = state.version, console.runtime.state
    body = _compose(console)
    state.aggregate_memo = Memo(version, own, at, body)
    return dict(body)


def _compose(console: Console) -> dict[str, Any]:
    now = now_ms()
    state = console.state
    # the snapshot is as old as its oldest part: the services' answers or the heartbeats
    as_of = min(state.healths_ms or now, state.beats_ms or now)
    bodies = {**state.healths, "console": console.runtime.health()}
    system = state.system_now(now)
    beats = state.beats
    views = {name: service_view(body, heartbeat=beats.get(name) is not None) for name, body in bodies.items()}
    views["console"] = service_view(bodies["console"], heartbeat=True)
    checks = console.runtime.checks
    database_ok = bool(checks.get("db") and checks["db"].ok)
    # Redis is down as soon as the heartbeats cannot be read, not only at the next ping
    redis_ok = bool(checks.get("redis") and checks["redis"].ok) and state.beats_ok is True
    exchanges = {
        venue: exchange_view(bodies.get(service)) for venue, service in console.settings.execution_services.items()
    }
    # the first venue's connection decides the overall status; every venue shows its own
    connected = exchanges[console.settings.venues[0]]["connected"]
    status, why = overall(
        views,
        database_ok=database_ok,
        redis_ok=redis_ok,
        exchange_connected=connected,
        system_mode=system.mode,
        snapshot_age_ms=now - as_of,
        snapshot_max_age_ms=int(console.settings.snapshot_max_age_s * 1000),
    )
    services = {}
    for name, body in bodies.items():
        beat = beats.get(name)
        services[name] = {
            "status": service_status(views[name]),
            "reachable": body is not None,
            "ready": bool((body or {}).get("ready")),
            "heartbeat": beat is not None,
            "mode": (body or beat or {}).get("mode"),
            "reasons": (body or beat or {}).get("reasons", []),
            "uptime": (body or {}).get("uptime"),
            "latency_ms": (body or {}).get("latency_ms"),
            "url": console.settings.url_of(name),
        }
    return {
        "status": status.value,
        "problems": why,
        "as_of_ms": as_of,  # when the services were last asked; the console's own parts are now
        "age_ms": now - as_of,
        "service": "console",
        "ready": console.runtime.ready,
        "pid": os.getpid(),
        "uptime": round(console.runtime.uptime_s, 3),
        "mode": system.mode.value,
        "reasons": [r.value for r in system.reasons],
        "since_ms": system.since_ms,
        "system_mode": console.settings.system_mode.value,
        "services": services,
        "database": {"postgres": checks["db"].as_dict() if "db" in checks else {"ok": False}},
        "redis": checks["redis"].as_dict() if "redis" in checks else {"ok": False},
        "exchanges": exchanges,
        "websocket": {"console": console.hub.stats()},
        "bodies": bodies,
    }
