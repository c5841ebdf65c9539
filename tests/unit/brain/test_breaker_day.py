"""The breaker's day (no I/O): the daily drawdown is taken only from a NAV of today.

NAV rebases the day's start at the first wallet report after midnight, which comes up to
TITAN_WALLET_POLL_S (10 s) later. Until then the NAV still holds yesterday's loss; taken as
today's, it tripped SOFT at 00:00:01 after a -8% day (latching the new day, so a real 7%
loss later that day did not trip), and after a -16% day that was reset it flattened
everything (HARD) in the first seconds of the next. These tests walk through 23:59:59,
00:00:00 and 00:00:09 UTC exactly as the brain's breaker check does (the state's
observation, then the pure step).
"""

from __future__ import annotations

from decimal import Decimal as D

from titan_brain.core.breaker import BreakerState, Level, Transition, Trigger, reset, step
from titan_brain.core.evaluate import evaluate_detailed
from titan_brain.runtime.state import BrainState
from titan_brain.settings import BrainSettings
from titan_common.config import ActiveConfig, TradingConfig
from titan_common.messages import Correlation, Side, Signal
from titan_common.reasons import ReasonCode
from titan_common.system_state import Mode

MIDNIGHT = 1_767_312_000_000  # 2026-01-02T00:00:00Z
SECOND, HOUR = 1_000, 3_600_000
YESTERDAY, TODAY = "2026-01-01", "2026-01-02"


def brain_state() -> BrainState:
    settings = BrainSettings(database_url="postgresql://u@h/db", redis_url="redis://h:6379/0", exchange="acct")
    return BrainState(settings=settings, config=ActiveConfig("t", TradingConfig(), 0, "t"))


def check(state: BrainState, now: int) -> list[Transition]:
    """The breaker check of runtime/breaker.py without its I/O."""
    state.breaker, transitions = step(state.breaker, state.breaker_observation(now), state.config.config)
    return transitions


def report(state: BrainState, equity: str, at: int) -> list[Transition]:
    state.observe_equity(D(equity), at)
    return check(state, at)


def a_day_closing_at(state: BrainState, close: str) -> None:
    """Yesterday: opened at 10,000, fell to `close`, tripped, was reset after review, and
    kept reporting `close` until 23:59:55."""
    start = MIDNIGHT - 24 * HOUR
    assert report(state, "10000", start + 5 * SECOND) == []
    tripped = report(state, close, start + 15 * HOUR)
    assert [t.state.active for t in tripped] == [True]
    state.breaker, _ = reset(state.breaker, start + 16 * HOUR, "reviewed")
    for at in range(start + 16 * HOUR, MIDNIGHT - 4 * SECOND, 5 * HOUR):
        assert report(state, close, at) == []
    assert report(state, close, MIDNIGHT - 5 * SECOND) == []


def entry(at: int) -> Signal:
    return Signal(
        signal_id=f"sig-{at}", ts_ms=at, correlation=Correlation(run_id="unit"), source="scavenger",
        symbol="BTCUSDT", side=Side.BUY, trap_type="LIQUIDATION", entry_price=D(100), entry_low=D(100),
        entry_high=D(100), stop_loss=D(98), take_profits=(D(106),), confidence=D("0.8"), ttl_ms=30_000,
    )  # fmt: skip


def entry_reasons(state: BrainState, at: int) -> tuple[ReasonCode, ...]:
    book = state.portfolio(at, mode=Mode.NORMAL, armed=True)
    return evaluate_detailed(entry(at), book, state.config.config, state.market(at)).decision.reasons


def test_after_a_minus_8_percent_day_the_new_day_starts_clean_and_still_trips_on_its_own_loss() -> None:
    state = brain_state()
    a_day_closing_at(state, "9200")
    assert state.breaker.soft_drawdown_day == YESTERDAY

    # 23:59:59: yesterday's 8% already tripped yesterday
    assert state.fresh_daily_drawdown(MIDNIGHT - SECOND) == D("0.08")
    assert check(state, MIDNIGHT - SECOND) == []
    # 00:00:00: the NAV is still yesterday's (its last report 23:59:55 is fresh): its 8% is
    # not today's loss. Taken as today's, it would trip and latch the new day
    assert state.nav.daily_drawdown == D("0.08")
    assert state.fresh_daily_drawdown(MIDNIGHT) is None
    assert check(state, MIDNIGHT) == []
    assert check(state, MIDNIGHT + 8 * SECOND) == []
    # entries wait for the day's first report (not DAILY_LOSS_LIMIT on yesterday's loss)
    assert entry_reasons(state, MIDNIGHT + SECOND) == (ReasonCode.EQUITY_UNKNOWN,)
    # 00:00:09: the day's first report rebases the start at yesterday's close: no loss today
    assert report(state, "9200", MIDNIGHT + 9 * SECOND) == []
    assert state.nav.day_start_equity == D(9200)
    assert state.fresh_daily_drawdown(MIDNIGHT + 9 * SECOND) == 0
    assert not state.breaker.active
    assert state.breaker.soft_drawdown_day == YESTERDAY  # the new day is not used up
    assert entry_reasons(state, MIDNIGHT + 10 * SECOND) == ()

    # a real 7% loss later in the day trips SOFT
    assert report(state, "8600", MIDNIGHT + 11 * HOUR) == []  # 6.5%
    [trip] = report(state, "8556", MIDNIGHT + 12 * HOUR)  # 7% of 9,200
    assert (trip.level, trip.trigger) == (Level.SOFT, Trigger.DAILY_DRAWDOWN)
    assert state.breaker.soft_drawdown_day == TODAY


def test_after_a_reset_minus_16_percent_day_midnight_brings_no_hard_flatten() -> None:
    state = brain_state()
    a_day_closing_at(state, "8400")
    assert (state.breaker.hard_drawdown_day, state.breaker.soft_drawdown_day) == (YESTERDAY, YESTERDAY)
    assert not state.breaker.active  # reset after review

    assert check(state, MIDNIGHT - SECOND) == []  # 23:59:59
    # 00:00:00: yesterday's 16% would be a HARD trip on a day whose latch is clear
    assert state.nav.daily_drawdown == D("0.16")
    assert check(state, MIDNIGHT) == []
    assert check(state, MIDNIGHT + 5 * SECOND) == []
    assert report(state, "8400", MIDNIGHT + 9 * SECOND) == []  # 00:00:09, the first report
    assert not state.breaker.active
    assert state.breaker.hard_drawdown_day == YESTERDAY

    # the new day's own losses: 7% trips SOFT, 15% trips HARD
    [soft] = report(state, "7812", MIDNIGHT + 10 * HOUR)  # 7% of 8,400
    assert (soft.level, soft.trigger) == (Level.SOFT, Trigger.DAILY_DRAWDOWN)
    [hard] = report(state, "7140", MIDNIGHT + 11 * HOUR)  # 15%
    assert (hard.level, hard.trigger) == (Level.HARD, Trigger.HARD_DRAWDOWN)
    assert state.breaker.hard_drawdown_day == TODAY


def test_losses_in_a_row_still_trip_before_the_days_first_report() -> None:
    state = brain_state()
    a_day_closing_at(state, "9200")
    for i in range(3):
        state.observe_trade(MIDNIGHT - 3 * SECOND + i * SECOND, D(-10))
    [trip] = check(state, MIDNIGHT)
    assert trip.trigger is Trigger.CONSECUTIVE_LOSSES


def test_a_stale_report_trips_nothing_and_the_latches_survive_their_record() -> None:
    state = brain_state()
    state.observe_equity(D(10000), MIDNIGHT + SECOND)
    state.observe_equity(D(9000), MIDNIGHT + 2 * SECOND)  # 10% down
    later = MIDNIGHT + 2 * SECOND + int(state.settings.equity_max_age_s * 1000) + 1
    assert state.fresh_daily_drawdown(later) is None  # too old to act on
    assert check(state, MIDNIGHT + 3 * SECOND)[0].trigger is Trigger.DAILY_DRAWDOWN
    # what breaker_events stores (the state's dict) gives the same latches back
    restored = BreakerState.from_dict(state.breaker.as_dict())
    assert restored.soft_drawdown_day == TODAY
    assert restored == state.breaker


def test_the_approval_pipeline_sees_the_same_day_rule() -> None:
    state = brain_state()
    state.observe_equity(D(10000), MIDNIGHT - HOUR)
    state.observe_equity(D(9300), MIDNIGHT - 5 * SECOND)  # -7% yesterday
    assert entry_reasons(state, MIDNIGHT - SECOND) == (ReasonCode.DAILY_LOSS_LIMIT,)
    assert entry_reasons(state, MIDNIGHT) == (ReasonCode.EQUITY_UNKNOWN,)
    state.observe_equity(D(9300), MIDNIGHT + 9 * SECOND)  # the day's first report
    assert entry_reasons(state, MIDNIGHT + 10 * SECOND) == ()
    book = state.portfolio(MIDNIGHT + 10 * SECOND, mode=Mode.NORMAL, armed=True)
    assert book.daily_drawdown == 0
