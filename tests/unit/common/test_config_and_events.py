from decimal import Decimal as D

import pytest
from pydantic import ValidationError

from titan_common.config import RiskTuner, TradingConfig, version_tag_for
from titan_common.events import EventType, PositionUpdate, WalletUpdate, parse_payload, payload_of
from titan_common.messages import Event


def test_defaults_are_the_documented_ones() -> None:
    config = TradingConfig()
    assert config.risk_tuner.max_daily_drawdown == D("0.07")
    assert [p.max_leverage for p in config.phases] == [20, 5, 2]
    assert config.phase(2).enter_at_equity == D(5000)
    assert config.breaker.hard_drawdown == D("0.15")


def test_operator_numbers_become_exact_decimals() -> None:
    tuner = RiskTuner.model_validate({"maxRiskPerTrade": 0.02, "maxDailyDrawdown": 0.05, "maxLeverage": 20})
    assert tuner.max_risk_per_trade == D("0.02")


@pytest.mark.parametrize(
    ("field", "value"), [("maxRiskPerTrade", 0.06), ("maxDailyDrawdown", 0.02), ("maxLeverage", 51)]
)
def test_risk_bounds_name_the_field(field: str, value: float) -> None:
    with pytest.raises(ValidationError) as info:
        RiskTuner.model_validate({field: value})
    assert info.value.errors()[0]["loc"] == (field,)


def test_a_phase_risk_outside_its_range_is_refused() -> None:
    raw = TradingConfig().model_dump(mode="json")
    raw["phases"][0]["risk_pct"] = "0.04"
    with pytest.raises(ValidationError, match="outside"):
        TradingConfig.model_validate(raw)


def test_config_round_trips_through_json() -> None:
    config = TradingConfig()
    assert TradingConfig.model_validate(config.model_dump(mode="json")) == config


def test_version_tags_are_iso_utc_seconds() -> None:
    assert version_tag_for(1734085800000) == "2024-12-13T10:30:00Z"


def test_event_payloads_round_trip() -> None:
    wallet = WalletUpdate(
        exchange="bybit", equity=D("1000.5"), wallet_balance=D(1000), available_balance=D(900),
        unrealised_pnl=D("0.5"), initial_margin=D(100),
    )  # fmt: skip
    event = Event(ts_ms=1, service="execution", event_type=EventType.WALLET_UPDATE, payload=payload_of(wallet))
    assert event.payload["equity"] == "1000.5"  # money is a string in JSON
    assert parse_payload(event) == wallet
    flat = PositionUpdate(
        exchange="bybit", symbol="BTCUSDT", side=None, size=D(0), avg_entry=D(0), realised_pnl=D(1), fees=D(0)
    )
    event = Event(ts_ms=1, service="execution", event_type=EventType.POSITION_UPDATE, payload=payload_of(flat))
    assert parse_payload(event) == flat
    assert parse_payload(Event(ts_ms=1, service="x", event_type="SOMETHING_ELSE")) is None


def test_system_state_is_the_worst_beat_and_a_missing_one_pauses() -> None:
    from titan_common.heartbeats import system_state_of
    from titan_common.reasons import ReasonCode
    from titan_common.system_state import Mode

    normal = {"mode": "NORMAL", "reasons": [], "since_ms": 5}
    degraded = {"mode": "DEGRADE", "reasons": ["WS_DOWN"], "since_ms": 7}
    assert system_state_of({"brain": normal, "execution": normal}, 10).mode is Mode.NORMAL
    state = system_state_of({"brain": normal, "execution": degraded}, 10)
    assert (state.mode, state.reasons, state.since_ms) == (Mode.DEGRADE, (ReasonCode.WS_DOWN,), 7)
    state = system_state_of({"brain": normal, "scavenger": None}, 10)
    assert (state.mode, state.reasons) == (Mode.PAUSE, (ReasonCode.SERVICE_DOWN,))
