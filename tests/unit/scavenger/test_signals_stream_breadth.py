"""Signals from sprung traps, data freshness, the breadth scanner's pure parts, control messages."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tests.unit.scavenger.test_sprung import T0, trap
from titan_common.messages import Control, ControlCommand, Side
from titan_common.reasons import ReasonCode
from titan_scavenger.core import breadth as B
from titan_scavenger.core.control import ControlAction, effect_of
from titan_scavenger.core.market import BAR_MS, Bar
from titan_scavenger.core.signals import SignalConfig, leverage_hint, signal_for
from titan_scavenger.core.sprung import Sprung
from titan_scavenger.core.stream import StreamHealth, StreamStatus
from titan_scavenger.core.traps import TrapType

CFG = SignalConfig()


def sprung(price: float, side: Side = Side.BUY, **trap_fields: object) -> Sprung:
    return Sprung(trap(side=side, **trap_fields), price, T0, 55, 0.8)  # type: ignore[arg-type]


# --- signals -----------------------------------------------------------------------------


def test_signal_fields_and_three_to_one_from_the_entry() -> None:
    signal = signal_for(sprung(100.04), signal_id="sig-1", ts_ms=T0 + 2, run_id="run", cycle_id="trapmap:1", cfg=CFG)
    assert signal is not None
    assert signal.side is Side.BUY
    assert signal.trap_type == "LIQUIDATION"
    assert signal.source == "scavenger"
    assert (signal.entry_low, signal.entry_price, signal.entry_high) == (D("99.93"), D("100.04"), D("100.15"))
    assert signal.stop_loss == D("99.500")
    risk = signal.entry_price - signal.stop_loss
    assert signal.take_profits == (signal.entry_price + 3 * risk,)
    assert signal.expected_move_pct == D("0.016194")
    assert signal.confidence == D("0.7000")
    assert signal.leverage_hint == 18  # 10% over a 0.54% stop
    assert signal.ttl_ms == 5_000
    assert signal.correlation.run_id == "run"
    assert signal.correlation.cycle_id == "trapmap:1"
    assert signal.correlation.signal_id == "sig-1"


def test_short_signal() -> None:
    signal = signal_for(sprung(99.95, Side.SELL), signal_id="s", ts_ms=T0, run_id="r", cycle_id="c", cfg=CFG)
    assert signal is not None
    assert signal.stop_loss > signal.entry_high
    assert signal.take_profits[0] < signal.entry_low


def test_fixed_target_is_kept_and_a_run_past_it_gives_no_signal() -> None:
    basis = trap()
    basis = type(basis)(**{**basis.__dict__, "trap_type": TrapType.BASIS, "fixed_target": True})
    ok = signal_for(Sprung(basis, 100.1, T0, 50, 1.0), signal_id="s", ts_ms=T0, run_id="r", cycle_id="c", cfg=CFG)
    assert ok is not None
    assert ok.take_profits == basis.targets
    gone = signal_for(Sprung(basis, 101.6, T0, 50, 1.0), signal_id="s", ts_ms=T0, run_id="r", cycle_id="c", cfg=CFG)
    assert gone is None  # the target (101.5) is already behind the entry


def test_stop_inside_the_entry_zone_gives_no_signal() -> None:
    assert signal_for(sprung(99.55), signal_id="s", ts_ms=T0, run_id="r", cycle_id="c", cfg=CFG) is None


def test_leverage_hint_bounds() -> None:
    assert leverage_hint(0.01, CFG) == 10
    assert leverage_hint(0.001, CFG) == 20
    assert leverage_hint(0.5, CFG) == 1
    assert leverage_hint(0.0, CFG) == 1


# --- stream freshness --------------------------------------------------------------------


def test_stream_starting_live_stale_and_stable_again() -> None:
    health = StreamHealth(started_ms=0, stale_after_ms=5_000, stable_for_ms=3_000)
    assert health.evaluate(1_000) is StreamStatus.STARTING
    assert health.evaluate(6_000) is StreamStatus.DOWN  # nothing ever came
    health.on_data(6_500)
    assert health.evaluate(6_600) is StreamStatus.DOWN  # flowing, not yet for 3 s
    for t in range(7_000, 9_600, 500):
        health.on_data(t)
    assert health.evaluate(9_600) is StreamStatus.LIVE
    health.on_data(10_000)
    assert health.evaluate(15_001) is StreamStatus.DOWN  # stale
    health.on_data(15_500)
    assert health.evaluate(16_000) is StreamStatus.DOWN
    for t in range(16_000, 18_600, 500):
        health.on_data(t)
    assert health.evaluate(18_600) is StreamStatus.LIVE
    assert health.downs == 2


def test_a_reconnect_is_down_until_stable() -> None:
    health = StreamHealth(started_ms=0, stale_after_ms=5_000, stable_for_ms=3_000)
    health.on_data(100)
    assert health.evaluate(200) is StreamStatus.LIVE
    health.on_reconnect(300)
    health.on_data(400)
    assert health.evaluate(500) is StreamStatus.DOWN
    for t in range(500, 3_500, 200):
        health.on_data(t)
    assert health.evaluate(3_500) is StreamStatus.LIVE


def test_lagging_data_is_not_fresh() -> None:
    health = StreamHealth(started_ms=0, stale_after_ms=5_000, max_lag_ms=2_000)
    health.on_data(1_000, exchange_ts_ms=900)
    health.on_data(4_000, exchange_ts_ms=1_000)  # 3 s behind: ignored
    assert health.last_data_ms == 1_000
    assert health.evaluate(6_500) is StreamStatus.DOWN


# --- breadth scanner -----------------------------------------------------------------------

SLOT = 1_700_001_000_000 // 900_000 * 900_000


def bars_for(closes: list[float], *, slot: int = SLOT, skip: int | None = None) -> list[Bar]:
    """Closed 15-min bars ending at the slot, plus the bar open at it (which must be ignored)."""
    n = len(closes)
    out = [Bar(slot - (n - i) * BAR_MS, c, c + 1, c - 1, c, 10) for i, c in enumerate(closes) if i != skip]
    return [*out, Bar(slot, 999, 999, 999, 999, 1)]


def test_slot_and_cycle_id() -> None:
    assert B.slot_start(SLOT + 899_999, 900_000) == SLOT
    assert B.slot_start(SLOT + 900_000, 900_000) == SLOT + 900_000
    assert B.cycle_id_for("bybit", 1_700_000_100_000 // 900_000 * 900_000) == "breadth:bybit:2023-11-14T22:15Z"


@pytest.mark.parametrize(
    ("offset", "rtt", "expected"),
    [
        (0, 10.0, None),
        (999, 10.0, None),
        (1_500, 10.0, ReasonCode.TIMESTAMP_MISMATCH),
        (-1_500, 10.0, ReasonCode.TIMESTAMP_MISMATCH),
        (None, 10.0, ReasonCode.TIMESTAMP_MISMATCH),
        (0, 2_500.0, ReasonCode.API_LAG),
    ],
)
def test_abort_reasons(offset: int | None, rtt: float, expected: ReasonCode | None) -> None:
    assert B.abort_reason(offset, rtt, timestamp_tolerance_ms=1_000, api_lag_ms=2_000) == expected


def test_scan_and_breadth() -> None:
    rising = B.scan_symbol("UP", bars_for([float(100 + i) for i in range(21)]), SLOT, BAR_MS, 20)
    falling = B.scan_symbol("DOWN", bars_for([float(200 - i) for i in range(21)]), SLOT, BAR_MS, 20)
    gappy = B.scan_symbol("GAP", bars_for([float(100 + i) for i in range(21)], skip=5), SLOT, BAR_MS, 20)
    assert rising.last is not None
    assert rising.last.start_ms == SLOT - BAR_MS  # the bar open at the slot is not used
    assert rising.aligned
    assert rising.new_high
    assert rising.above_sma
    assert falling.new_low
    assert gappy.missing_bars == 1
    report = B.breadth([rising, falling, gappy], lookback=20)
    assert (report.advancers, report.decliners, report.unchanged) == (2, 1, 0)
    assert report.regime == "RISK_ON"
    assert report.integrity["symbols_with_gaps"] == ["GAP"]
    assert report.integrity["missing_bars"] == 1
    assert report.integrity["misaligned_symbols"] == []
    stale = B.scan_symbol("OLD", bars_for([100.0] * 21, slot=SLOT - BAR_MS)[:-1], SLOT, BAR_MS, 20)
    assert not stale.aligned
    empty = B.scan_symbol("NONE", [], SLOT, BAR_MS, 20)
    assert B.breadth([empty], lookback=20).regime == "NO_DATA"


def test_payload_has_all_five_sections() -> None:
    body = B.payload(integrity={"a": 1}, timing={}, health={}, verdict={"status": "OK"}, financials={})
    assert list(body) == ["integrity", "timing", "health", "verdict", "financials"]


# --- control -------------------------------------------------------------------------------


def control(command: ControlCommand, target: str = "all") -> Control:
    return Control(ts_ms=T0, command=command, operator_id="ops", target=target)  # type: ignore[arg-type]


def test_control_effects() -> None:
    assert effect_of(control(ControlCommand.PAUSE)).reason is ReasonCode.OPERATOR_PAUSE
    assert effect_of(control(ControlCommand.PAUSE, "scavenger")).action is ControlAction.PAUSE
    assert effect_of(control(ControlCommand.PAUSE, "brain")).action is ControlAction.IGNORE
    assert effect_of(control(ControlCommand.KILL_SWITCH)).reason is ReasonCode.KILL_SWITCH
    assert effect_of(control(ControlCommand.RESUME, "scavenger")).action is ControlAction.RESUME
    assert effect_of(control(ControlCommand.CONFIG_CHANGED, "brain")).action is ControlAction.RELOAD_CONFIG
    assert effect_of(control(ControlCommand.ARM)).action is ControlAction.IGNORE
