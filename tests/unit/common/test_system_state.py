from titan_common.reasons import ReasonCode
from titan_common.system_state import (
    MODE_FOR_REASON,
    Mode,
    SystemState,
    mode_for_reasons,
    next_state,
    worst_of,
)


def state(mode: Mode, since: int, *reasons: ReasonCode) -> SystemState:
    return SystemState(mode=mode, reasons=tuple(reasons), since_ms=since)


def test_worst_mode_wins_and_reasons_are_united() -> None:
    result = worst_of(
        [
            state(Mode.NORMAL, 1),
            state(Mode.DEGRADE, 5, ReasonCode.WS_DOWN),
            state(Mode.PAUSE, 9, ReasonCode.DB_UNAVAILABLE),
        ],
        now_ms=100,
    )
    assert result.mode is Mode.PAUSE
    assert set(result.reasons) == {ReasonCode.WS_DOWN, ReasonCode.DB_UNAVAILABLE}
    assert result.since_ms == 9


def test_since_is_the_earliest_among_services_at_the_worst_mode() -> None:
    result = worst_of(
        [state(Mode.PAUSE, 30, ReasonCode.KILL_SWITCH), state(Mode.PAUSE, 20, ReasonCode.DB_UNAVAILABLE)], 100
    )
    assert result.since_ms == 20


def test_all_normal_is_normal() -> None:
    result = worst_of([state(Mode.NORMAL, 3), state(Mode.NORMAL, 7)], 100)
    assert result.mode is Mode.NORMAL
    assert result.reasons == ()
    assert result.allows_new_entries


def test_no_services_is_not_healthy_it_fails_closed() -> None:
    result = worst_of([], now_ms=42)
    assert result.mode is Mode.PAUSE
    assert result.reasons == (ReasonCode.SERVICE_DOWN,)
    assert not result.allows_new_entries


def test_exit_outranks_pause() -> None:
    assert worst_of([state(Mode.PAUSE, 1), state(Mode.EXIT, 2)], 3).mode is Mode.EXIT


def test_mode_for_reasons() -> None:
    assert mode_for_reasons([]) is Mode.NORMAL
    assert mode_for_reasons([ReasonCode.WS_DOWN]) is Mode.DEGRADE
    assert mode_for_reasons([ReasonCode.WS_DOWN, ReasonCode.KILL_SWITCH]) is Mode.PAUSE
    # approval codes are per-signal verdicts and imply no mode
    assert mode_for_reasons([ReasonCode.EDGE_TOO_LOW]) is Mode.NORMAL


def test_next_state_moves_since_only_when_the_mode_changes() -> None:
    start = state(Mode.NORMAL, 10)
    degraded = next_state(start, [ReasonCode.WS_DOWN], now_ms=20)
    assert (degraded.mode, degraded.since_ms) == (Mode.DEGRADE, 20)
    still = next_state(degraded, [ReasonCode.WS_DOWN, ReasonCode.RATE_LIMIT], now_ms=30)
    assert (still.mode, still.since_ms) == (Mode.DEGRADE, 20)
    assert set(still.reasons) == {ReasonCode.WS_DOWN, ReasonCode.RATE_LIMIT}
    recovered = next_state(still, [], now_ms=40)
    assert (recovered.mode, recovered.since_ms, recovered.reasons) == (Mode.NORMAL, 40, ())


def test_only_normal_allows_new_entries() -> None:
    for mode in Mode:
        assert state(mode, 0).allows_new_entries is (mode is Mode.NORMAL)


def test_every_safety_code_forces_at_least_pause() -> None:
    for code in (
        ReasonCode.DB_UNAVAILABLE,
        ReasonCode.KILL_SWITCH,
        ReasonCode.DRIFT_LIMIT_EXCEEDED,
        ReasonCode.PROTECTION_FAILED,
        ReasonCode.DB_WRITER_QUEUE_FULL,
        ReasonCode.TIMESTAMP_MISMATCH,
    ):
        assert MODE_FOR_REASON[code] is Mode.PAUSE


def test_a_service_can_make_a_code_stricter() -> None:
    assert mode_for_reasons([ReasonCode.CLOCK_DRIFT]) is Mode.DEGRADE  # PAPER
    live = {ReasonCode.CLOCK_DRIFT: Mode.PAUSE}
    assert mode_for_reasons([ReasonCode.CLOCK_DRIFT], overrides=live) is Mode.PAUSE
    assert next_state(state(Mode.NORMAL, 1), [ReasonCode.CLOCK_DRIFT], 5, live).mode is Mode.PAUSE
