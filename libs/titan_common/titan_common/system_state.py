"""System state: NORMAL < DEGRADE < PAUSE < EXIT, with the reason codes that put it there.

Pure functions only. A service derives its own mode from its active reason codes
(`mode_for_reasons`), and the system state is the worst of every service's state
(`worst_of`). The console shows that aggregate first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import IntEnum, StrEnum

from pydantic import BaseModel, ConfigDict, Field

from titan_common.reasons import ReasonCode


class Mode(StrEnum):
    NORMAL = "NORMAL"
    DEGRADE = "DEGRADE"
    PAUSE = "PAUSE"
    EXIT = "EXIT"


class _Severity(IntEnum):
    NORMAL = 0
    DEGRADE = 1
    PAUSE = 2
    EXIT = 3


def severity(mode: Mode) -> int:
    return int(_Severity[mode.value])


# What each operational reason code forces the mode to, at least. Approval codes are
# per-signal verdicts, not states, so they are absent and imply nothing.
MODE_FOR_REASON: dict[ReasonCode, Mode] = {
    ReasonCode.DB_UNAVAILABLE: Mode.PAUSE,
    ReasonCode.DB_WRITER_BACKPRESSURE: Mode.DEGRADE,
    ReasonCode.DB_WRITER_QUEUE_HIGH: Mode.DEGRADE,
    ReasonCode.DB_WRITER_QUEUE_FULL: Mode.PAUSE,
    ReasonCode.REDIS_UNAVAILABLE: Mode.PAUSE,
    ReasonCode.WS_DOWN: Mode.DEGRADE,
    ReasonCode.WS_RECONNECTING: Mode.DEGRADE,
    ReasonCode.RATE_LIMIT: Mode.DEGRADE,
    ReasonCode.REST_THROTTLED: Mode.DEGRADE,
    ReasonCode.TIMESTAMP_MISMATCH: Mode.PAUSE,
    ReasonCode.API_LAG: Mode.DEGRADE,
    ReasonCode.CLOCK_DRIFT: Mode.DEGRADE,
    ReasonCode.RECONCILE_DRIFT: Mode.DEGRADE,
    ReasonCode.DRIFT_LIMIT_EXCEEDED: Mode.PAUSE,
    ReasonCode.PROTECTION_FAILED: Mode.PAUSE,
    ReasonCode.DISK_LOW_DEGRADE: Mode.DEGRADE,
    ReasonCode.DISK_LOW_PAUSE: Mode.PAUSE,
    ReasonCode.RISK_CHURN_LIMIT_HIT: Mode.DEGRADE,
    ReasonCode.RISK_CANCEL_REPLACE_LIMIT_HIT: Mode.DEGRADE,
    ReasonCode.KILL_SWITCH: Mode.PAUSE,
    ReasonCode.OPERATOR_PAUSE: Mode.PAUSE,
    ReasonCode.STARTUP_RECOVER: Mode.DEGRADE,
    ReasonCode.SERVICE_DOWN: Mode.PAUSE,
    ReasonCode.SHUTDOWN: Mode.EXIT,
}


class SystemState(BaseModel):
    """One service's (or the whole system's) state."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Mode = Mode.NORMAL
    reasons: tuple[ReasonCode, ...] = Field(default_factory=tuple)
    since_ms: int

    @property
    def allows_new_entries(self) -> bool:
        return self.mode is Mode.NORMAL


def worse(a: Mode, b: Mode) -> Mode:
    return a if severity(a) >= severity(b) else b


def mode_for_reasons(
    reasons: Iterable[ReasonCode],
    floor: Mode = Mode.NORMAL,
    overrides: Mapping[ReasonCode, Mode] | None = None,
) -> Mode:
    """The least severe mode that every active reason code allows.

    `overrides` lets a service make a code stricter in its context (CLOCK_DRIFT pauses LIVE)."""
    table = {**MODE_FOR_REASON, **(overrides or {})}
    mode = floor
    for reason in reasons:
        mode = worse(mode, table.get(reason, Mode.NORMAL))
    return mode


def next_state(
    current: SystemState,
    reasons: Iterable[ReasonCode],
    now_ms: int,
    overrides: Mapping[ReasonCode, Mode] | None = None,
) -> SystemState:
    """A service's new state for its set of active reasons; since_ms moves only when the mode does."""
    active = tuple(sorted(set(reasons)))
    mode = mode_for_reasons(active, overrides=overrides)
    since = current.since_ms if mode is current.mode else now_ms
    return SystemState(mode=mode, reasons=active, since_ms=since)


def worst_of(states: Iterable[SystemState], now_ms: int) -> SystemState:
    """The system state: the worst mode of all services, every active reason, and since when.

    since_ms is the earliest since_ms among the services at the worst mode: the system has
    been in that mode since the first of them entered it. No services at all is not
    "healthy": it is PAUSE with SERVICE_DOWN, because nothing vouches for the system.
    """
    states = list(states)
    if not states:
        return SystemState(mode=Mode.PAUSE, reasons=(ReasonCode.SERVICE_DOWN,), since_ms=now_ms)
    worst = Mode.NORMAL
    for state in states:
        worst = worse(worst, state.mode)
    since = min(s.since_ms for s in states if s.mode is worst)
    reasons = tuple(sorted({r for s in states for r in s.reasons}))
    return SystemState(mode=worst, reasons=reasons, since_ms=since)
