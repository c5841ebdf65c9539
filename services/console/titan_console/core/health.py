"""The aggregate health: one status for the whole system, from what every part reports. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from titan_common.system_state import Mode


class Overall(StrEnum):
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"


@dataclass(frozen=True)
class ServiceView:
    """What the console knows of one service: its /health answer and its heartbeat."""

    answered: bool  # its /health answered at all
    status: str | None  # "ok" | "degraded" | "unhealthy" from its /health
    heartbeat: bool  # its heartbeat key is present in Redis
    failing: frozenset[str] = frozenset()  # the names of its checks that failed
    mode: str | None = None  # its own mode


def service_status(view: ServiceView) -> str:
    """One word per service for the table: ok, degraded, unhealthy or down.

    A service unhealthy only because Redis is unreachable is degraded here: it is up, fails
    closed (no signal reaches it, so no entry) and serves the emergency actions over HTTP."""
    if view.answered and view.status == "unhealthy" and view.failing == {"redis"} and view.mode != Mode.EXIT.value:
        return "degraded"
    if view.answered and view.status in ("ok", "degraded", "unhealthy"):
        return view.status
    return "degraded" if view.heartbeat else "down"


def overall(
    services: Mapping[str, ServiceView],
    *,
    database_ok: bool,
    redis_ok: bool,
    exchange_connected: bool | None,
    system_mode: Mode,
    snapshot_age_ms: int | None = None,
    snapshot_max_age_ms: int = 5_000,
) -> tuple[Overall, list[str]]:
    """The status and the reasons for it, most serious first.

    unhealthy: the console's own Postgres is down, a service is down or reports unhealthy
               (other than only for Redis), or the system is in EXIT;
    degraded:  Redis is unreachable (heartbeats and events stop, so the snapshot ages and
               no signal reaches the brain: new entries are blocked, the emergency actions
               still work over HTTP), a service is degraded (or answers only by heartbeat),
               the exchange is not connected, the system mode is not NORMAL, or the
               snapshot is older than `snapshot_max_age_ms`;
    healthy:   everything else."""
    bad: list[str] = []
    weak: list[str] = []
    if not database_ok:
        bad.append("postgres unreachable")
    if not redis_ok:
        weak.append(
            "redis unreachable: no heartbeats or events"
            + (f" for {snapshot_age_ms} ms" if snapshot_age_ms is not None else "")
            + ", new entries blocked"
        )
    for name, view in sorted(services.items()):
        word = service_status(view)
        if word in ("down", "unhealthy"):
            bad.append(f"{name} {word}")
        elif word == "degraded":
            weak.append(f"{name} degraded")
    if system_mode is Mode.EXIT:
        bad.append("system mode EXIT")
    elif system_mode is not Mode.NORMAL:
        weak.append(f"system mode {system_mode.value}")
    if exchange_connected is not True:
        weak.append("exchange not connected" if exchange_connected is False else "exchange state unknown")
    if snapshot_age_ms is not None and snapshot_age_ms > snapshot_max_age_ms:
        weak.append(f"snapshot is {snapshot_age_ms} ms old")
    if bad:
        return Overall.UNHEALTHY, bad + weak
    if weak:
        return Overall.DEGRADED, weak
    return Overall.HEALTHY, []
