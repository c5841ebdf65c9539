"""The system state as every service reports it: the worst of their heartbeats.

Each service refreshes `titan:hb:<service>` (JSON with mode, reasons, since_ms) under a
TTL. A missing key means the service is gone, which counts as PAUSE with SERVICE_DOWN:
nothing vouches for it, so new entries stop (fail closed).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from redis.asyncio import Redis

from titan_common.bus import heartbeat_key
from titan_common.reasons import ReasonCode
from titan_common.system_state import Mode, SystemState, worst_of

TRADING_SERVICES = ("brain", "execution", "scavenger", "console")


def state_of_beat(beat: Mapping[str, Any] | None, now_ms: int) -> SystemState:
    if beat is None:
        return SystemState(mode=Mode.PAUSE, reasons=(ReasonCode.SERVICE_DOWN,), since_ms=now_ms)
    return SystemState(
        mode=Mode(beat["mode"]),
        reasons=tuple(ReasonCode(r) for r in beat.get("reasons", ())),
        since_ms=int(beat.get("since_ms", now_ms)),
    )


def system_state_of(beats: Mapping[str, Mapping[str, Any] | None], now_ms: int) -> SystemState:
    """Pure: the worst of every service's state, a missing beat counting as SERVICE_DOWN."""
    return worst_of((state_of_beat(beat, now_ms) for beat in beats.values()), now_ms)


async def read_beats(redis: Redis, services: Iterable[str] = TRADING_SERVICES) -> dict[str, dict[str, Any] | None]:
    names = list(services)
    raw = await redis.mget([heartbeat_key(name) for name in names])
    return {name: (json.loads(value) if value else None) for name, value in zip(names, raw, strict=True)}
