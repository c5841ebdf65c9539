# GOVERNANCE PHASE 1 — LOCKED
# Changes need explicit approval and a security review, then `titan governance lock`.
"""The circuit breaker as a pure state machine.

Soft trip (any of):
  - the day's drawdown reaches maxDailyDrawdown (default 7%);
  - `consecutive_losses` losing trades in a row (default 3), counted since the breaker's
    last change, so a reset or a cooldown forgives the losses before it;
  - extreme volatility: |return of volatility_symbol over volatility_window_ms| reaches
    volatility_return (default BTCUSDT, 5 min, 5%), on the move into that state.
  It blocks new entries (the runtime also disarms master arm); positions stay open under
  their stops. It ends by itself after `cooldown_ms` (default 4 h) or by a manual reset.
Hard trip: the day's drawdown reaches hard_drawdown (default 15%), also over a soft trip.
  The runtime flattens everything through execution and pauses. Only a manual reset ends it.

Each drawdown level trips at most once per UTC day: after a reset the day's loss is known
and reviewed, and new entries stay blocked by the DAILY_LOSS_LIMIT veto until the day ends.
The daily drawdown observed is today's only: until the day's first wallet report rebases
the day's start, the caller passes None, so yesterday's loss never trips the new day.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum
from typing import Any

from titan_common.config import TradingConfig


class Level(StrEnum):
    SOFT = "SOFT"
    HARD = "HARD"


class Action(StrEnum):
    TRIP = "TRIP"
    RESET = "RESET"
    COOLDOWN_END = "COOLDOWN_END"


class Trigger(StrEnum):
    DAILY_DRAWDOWN = "DAILY_DRAWDOWN"
    CONSECUTIVE_LOSSES = "CONSECUTIVE_LOSSES"
    VOLATILITY = "VOLATILITY"
    HARD_DRAWDOWN = "HARD_DRAWDOWN"
    MANUAL = "MANUAL"
    COOLDOWN = "COOLDOWN"


@dataclass(frozen=True)
class BreakerState:
    active: bool = False
    level: Level | None = None
    trigger: Trigger | None = None
    reason: str = ""
    tripped_at_ms: int | None = None
    cooldown_until_ms: int | None = None  # None while HARD: only a manual reset ends it
    changed_ms: int = 0  # the last trip/reset/cooldown end; losses count from here
    soft_drawdown_day: str | None = None  # the UTC day a drawdown last tripped SOFT
    hard_drawdown_day: str | None = None
    volatility_extreme: bool = False  # the last volatility reading was extreme

    def as_dict(self) -> dict[str, Any]:
        return {
            "active": self.active,
            "level": self.level.value if self.level else None,
            "trigger": self.trigger.value if self.trigger else None,
            "reason": self.reason,
            "tripped_at_ms": self.tripped_at_ms,
            "cooldown_until_ms": self.cooldown_until_ms,
            "changed_ms": self.changed_ms,
            "soft_drawdown_day": self.soft_drawdown_day,
            "hard_drawdown_day": self.hard_drawdown_day,
            "volatility_extreme": self.volatility_extreme,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> BreakerState:
        return cls(
            active=bool(raw.get("active", False)),
            level=Level(raw["level"]) if raw.get("level") else None,
            trigger=Trigger(raw["trigger"]) if raw.get("trigger") else None,
            reason=str(raw.get("reason", "")),
            tripped_at_ms=raw.get("tripped_at_ms"),
            cooldown_until_ms=raw.get("cooldown_until_ms"),
            changed_ms=int(raw.get("changed_ms", 0)),
            soft_drawdown_day=raw.get("soft_drawdown_day"),
            hard_drawdown_day=raw.get("hard_drawdown_day"),
            volatility_extreme=bool(raw.get("volatility_extreme", False)),
        )


@dataclass(frozen=True)
class Transition:
    action: Action
    level: Level
    trigger: Trigger
    reason: str
    state: BreakerState  # the state after it


@dataclass(frozen=True)
class Observation:
    """What the breaker looks at, all computed by the caller at `now_ms`."""

    now_ms: int
    day: str  # the UTC day of now_ms
    daily_drawdown: Decimal | None = None  # of a NAV of `day`; None before its first report
    consecutive_losses: int = 0
    volatility_return: Decimal | None = None  # signed return over the window, None if unknown


def consecutive_losses(pnls_oldest_first: Sequence[Decimal]) -> int:
    """Losing trades at the end of the list, in a row."""
    count = 0
    for pnl in reversed(pnls_oldest_first):
        if pnl >= 0:
            break
        count += 1
    return count


def step(state: BreakerState, seen: Observation, config: TradingConfig) -> tuple[BreakerState, list[Transition]]:
    """The breaker after one observation, and what happened (in order)."""
    rules = config.breaker
    transitions: list[Transition] = []

    def trip(current: BreakerState, level: Level, trigger: Trigger, reason: str, **latch: Any) -> BreakerState:
        cooldown = None if level is Level.HARD else seen.now_ms + rules.cooldown_ms
        after = replace(
            current,
            active=True,
            level=level,
            trigger=trigger,
            reason=reason,
            tripped_at_ms=seen.now_ms,
            cooldown_until_ms=cooldown,
            changed_ms=seen.now_ms,
            **latch,
        )
        transitions.append(Transition(Action.TRIP, level, trigger, reason, after))
        return after

    if (
        state.active
        and state.level is Level.SOFT
        and state.cooldown_until_ms is not None
        and seen.now_ms >= state.cooldown_until_ms
    ):
        ended = replace(state, active=False, changed_ms=seen.now_ms)
        transitions.append(Transition(Action.COOLDOWN_END, Level.SOFT, Trigger.COOLDOWN, "cooldown elapsed", ended))
        state = ended

    drawdown = seen.daily_drawdown
    if (
        drawdown is not None
        and drawdown >= rules.hard_drawdown
        and state.hard_drawdown_day != seen.day
        and not (state.active and state.level is Level.HARD)
    ):
        state = trip(
            state,
            Level.HARD,
            Trigger.HARD_DRAWDOWN,
            f"daily drawdown {drawdown:.2%} reached the hard level {rules.hard_drawdown:.2%}",
            hard_drawdown_day=seen.day,
            soft_drawdown_day=seen.day,
        )

    extreme = seen.volatility_return is not None and abs(seen.volatility_return) >= rules.volatility_return
    rising = extreme and not state.volatility_extreme
    if seen.volatility_return is not None:
        state = replace(state, volatility_extreme=extreme)

    if not state.active:
        max_drawdown = config.risk_tuner.max_daily_drawdown
        if drawdown is not None and drawdown >= max_drawdown and state.soft_drawdown_day != seen.day:
            state = trip(
                state,
                Level.SOFT,
                Trigger.DAILY_DRAWDOWN,
                f"daily drawdown {drawdown:.2%} reached maxDailyDrawdown {max_drawdown:.2%}",
                soft_drawdown_day=seen.day,
            )
        elif seen.consecutive_losses >= rules.consecutive_losses:
            state = trip(
                state, Level.SOFT, Trigger.CONSECUTIVE_LOSSES, f"{seen.consecutive_losses} consecutive losing trades"
            )
        elif rising:
            assert seen.volatility_return is not None
            state = trip(
                state,
                Level.SOFT,
                Trigger.VOLATILITY,
                f"{rules.volatility_symbol} moved {seen.volatility_return:.2%} within "
                f"{rules.volatility_window_ms // 60_000} min",
            )
    return state, transitions


def reset(state: BreakerState, now_ms: int, reason: str) -> tuple[BreakerState, Transition | None]:
    """A manual reset: the breaker stops blocking. It does not re-arm anything."""
    if not state.active:
        return state, None
    assert state.level is not None
    after = replace(state, active=False, changed_ms=now_ms, reason=reason)
    return after, Transition(Action.RESET, state.level, Trigger.MANUAL, reason, after)
