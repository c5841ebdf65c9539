"""The circuit breaker state machine: each trigger, cooldown, escalation, reset, latches."""

from __future__ import annotations

from decimal import Decimal as D

from tests.unit.brain.builders import NOW
from titan_brain.core.breaker import (
    Action,
    BreakerState,
    Level,
    Observation,
    Trigger,
    consecutive_losses,
    reset,
    step,
)
from titan_common.config import BreakerConfig, TradingConfig

CONFIG = TradingConfig()
HOUR = 3_600_000
TODAY, TOMORROW = "2026-01-01", "2026-01-02"


def seen(at: int = NOW, day: str = TODAY, **values: object) -> Observation:
    return Observation(now_ms=at, day=day, **values)  # type: ignore[arg-type]


def test_quiet_observations_change_nothing() -> None:
    state, transitions = step(BreakerState(), seen(daily_drawdown=D("0.069"), consecutive_losses=2), CONFIG)
    assert transitions == []
    assert not state.active


def test_soft_trip_on_daily_drawdown_with_a_four_hour_cooldown() -> None:
    state, transitions = step(BreakerState(), seen(daily_drawdown=D("0.07")), CONFIG)
    assert [(t.action, t.level, t.trigger) for t in transitions] == [(Action.TRIP, Level.SOFT, Trigger.DAILY_DRAWDOWN)]
    assert state.active
    assert state.cooldown_until_ms == NOW + 4 * HOUR
    assert "7.00%" in state.reason
    # still active just before the cooldown ends, inactive at it
    state, transitions = step(state, seen(NOW + 4 * HOUR - 1, daily_drawdown=D("0.07")), CONFIG)
    assert state.active
    assert transitions == []
    state, transitions = step(state, seen(NOW + 4 * HOUR, daily_drawdown=D("0.07")), CONFIG)
    assert [t.action for t in transitions] == [Action.COOLDOWN_END]
    assert not state.active  # and no re-trip the same day: the day's drawdown already tripped


def test_drawdown_trips_again_on_a_new_day() -> None:
    state, _ = step(BreakerState(), seen(daily_drawdown=D("0.08")), CONFIG)
    state, _ = reset(state, NOW + 1, "reviewed")
    state, transitions = step(state, seen(NOW + 2, daily_drawdown=D("0.08")), CONFIG)
    assert transitions == []
    state, transitions = step(state, seen(NOW + 24 * HOUR, TOMORROW, daily_drawdown=D("0.08")), CONFIG)
    assert [t.trigger for t in transitions] == [Trigger.DAILY_DRAWDOWN]


def test_soft_trip_on_consecutive_losses() -> None:
    assert consecutive_losses([D(5), D(-1), D(-2), D(-3)]) == 3
    assert consecutive_losses([D(-1), D(-2), D(0)]) == 0  # a flat trade breaks the run
    assert consecutive_losses([]) == 0
    state, transitions = step(BreakerState(), seen(consecutive_losses=3), CONFIG)
    assert [(t.level, t.trigger) for t in transitions] == [(Level.SOFT, Trigger.CONSECUTIVE_LOSSES)]
    assert state.changed_ms == NOW  # losses now count from the trip


def test_soft_trip_on_the_move_into_extreme_volatility_only() -> None:
    state, transitions = step(BreakerState(), seen(volatility_return=D("-0.051")), CONFIG)
    assert [t.trigger for t in transitions] == [Trigger.VOLATILITY]
    state, _ = reset(state, NOW + 1, "reviewed")
    # still extreme after the reset: no re-trip until it calms and spikes again
    state, transitions = step(state, seen(NOW + 2, volatility_return=D("0.06")), CONFIG)
    assert transitions == []
    state, transitions = step(state, seen(NOW + 3, volatility_return=D("0.01")), CONFIG)
    assert transitions == []
    state, transitions = step(state, seen(NOW + 4, volatility_return=D("0.05")), CONFIG)
    assert [t.trigger for t in transitions] == [Trigger.VOLATILITY]


def test_volatility_threshold_is_configurable() -> None:
    config = CONFIG.model_copy(update={"breaker": BreakerConfig(volatility_return=D("0.02"))})
    assert step(BreakerState(), seen(volatility_return=D("0.021")), config)[0].active
    assert not step(BreakerState(), seen(volatility_return=D("0.021")), CONFIG)[0].active


def test_hard_trip_escalates_a_soft_one_and_has_no_cooldown() -> None:
    soft, _ = step(BreakerState(), seen(daily_drawdown=D("0.08")), CONFIG)
    hard, transitions = step(soft, seen(NOW + HOUR, daily_drawdown=D("0.15")), CONFIG)
    assert [(t.action, t.level) for t in transitions] == [(Action.TRIP, Level.HARD)]
    assert hard.level is Level.HARD
    assert hard.cooldown_until_ms is None
    later, transitions = step(hard, seen(NOW + 30 * HOUR, TOMORROW, daily_drawdown=D("0.2")), CONFIG)
    assert later.active
    assert transitions == []  # no cooldown, no second hard trip while hard


def test_hard_trip_straight_from_calm() -> None:
    state, transitions = step(BreakerState(), seen(daily_drawdown=D("0.20")), CONFIG)
    assert [(t.level, t.trigger) for t in transitions] == [(Level.HARD, Trigger.HARD_DRAWDOWN)]
    assert state.soft_drawdown_day == TODAY  # no extra soft trip for the same drawdown after a reset


def test_reset_ends_a_trip_and_is_harmless_when_inactive() -> None:
    state, _ = step(BreakerState(), seen(daily_drawdown=D("0.16")), CONFIG)
    after, transition = reset(state, NOW + 5, "manual review done")
    assert transition is not None
    assert (transition.action, transition.level, transition.trigger) == (Action.RESET, Level.HARD, Trigger.MANUAL)
    assert not after.active
    assert after.changed_ms == NOW + 5
    again, nothing = reset(after, NOW + 6, "again")
    assert nothing is None
    assert again is after
    # the day's hard level does not re-trip after the reset
    state, transitions = step(after, seen(NOW + 7, daily_drawdown=D("0.16")), CONFIG)
    assert transitions == []


def test_state_round_trips_through_its_record() -> None:
    state, _ = step(BreakerState(), seen(daily_drawdown=D("0.08"), volatility_return=D("0.01")), CONFIG)
    assert BreakerState.from_dict(state.as_dict()) == state
    assert BreakerState.from_dict({}) == BreakerState()
