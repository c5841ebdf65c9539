from decimal import Decimal

import pytest
from pydantic import ValidationError

from titan_common.messages import (
    Control,
    ControlCommand,
    Correlation,
    Decision,
    Event,
    OrderIntent,
    Side,
    Signal,
    Verdict,
    client_order_id_for,
    new_id,
)
from titan_common.reasons import ReasonCode

CORR = Correlation(run_id="run-1", signal_id="s1")


def signal(**overrides: object) -> Signal:
    fields: dict[str, object] = {
        "signal_id": "s1",
        "ts_ms": 1_700_000_000_000,
        "correlation": CORR,
        "source": "scavenger",
        "symbol": "BTCUSDT",
        "side": Side.BUY,
        "trap_type": "LIQUIDATION",
        "entry_price": Decimal("50000.5"),
        "entry_low": Decimal("49990"),
        "entry_high": Decimal("50010"),
        "stop_loss": Decimal("49500"),
        "take_profits": (Decimal("51500"),),
        "confidence": Decimal("0.8"),
        "ttl_ms": 5000,
    }
    fields.update(overrides)
    return Signal(**fields)  # type: ignore[arg-type]


def intent(**overrides: object) -> OrderIntent:
    intent_id = new_id()
    fields: dict[str, object] = {
        "intent_id": intent_id,
        "client_order_id": client_order_id_for(intent_id),
        "ts_ms": 1,
        "correlation": CORR,
        "symbol": "BTCUSDT",
        "side": Side.SELL,
        "qty": Decimal("0.010"),
        "stop_loss": Decimal("51000"),
        "ttl_ms": 3000,
    }
    fields.update(overrides)
    return OrderIntent(**fields)  # type: ignore[arg-type]


def test_signal_round_trips_with_decimals_as_strings_and_int_ms() -> None:
    original = signal()
    raw = original.model_dump_json()
    assert '"entry_price":"50000.5"' in raw
    assert '"ts_ms":1700000000000' in raw
    assert Signal.model_validate_json(raw) == original


def test_extra_fields_are_forbidden() -> None:
    raw = signal().model_dump_json().replace('"source"', '"surprise":1,"source"')
    with pytest.raises(ValidationError, match="Extra inputs"):
        Signal.model_validate_json(raw)


def test_float_money_is_rejected() -> None:
    raw = signal().model_dump_json().replace('"50000.5"', "50000.5")
    with pytest.raises(ValidationError, match="strings"):
        Signal.model_validate_json(raw)


def test_time_must_be_an_integer() -> None:
    raw = signal().model_dump_json().replace('"ts_ms":1700000000000', '"ts_ms":"1700000000000"')
    with pytest.raises(ValidationError):
        Signal.model_validate_json(raw)


def test_entry_price_must_lie_in_its_zone() -> None:
    with pytest.raises(ValidationError, match="entry_price"):
        signal(entry_price=Decimal("60000"))


def test_client_order_id_is_derived_valid_and_stable() -> None:
    intent_id = new_id()
    cid = client_order_id_for(intent_id)
    assert cid == client_order_id_for(intent_id)
    assert len(cid) <= 36
    with pytest.raises(ValidationError, match="derived"):
        intent(client_order_id="t-something-else")


def test_entry_intent_without_stop_is_rejected() -> None:
    with pytest.raises(ValidationError, match="stop_loss"):
        intent(stop_loss=None)


def test_intent_round_trip() -> None:
    original = intent()
    assert OrderIntent.model_validate_json(original.model_dump_json()) == original


def test_veto_needs_a_reason_and_approval_needs_size_and_stop() -> None:
    base = {"decision_id": "d", "signal_id": "s", "ts_ms": 1, "correlation": CORR, "symbol": "X", "side": Side.BUY}
    with pytest.raises(ValidationError, match="reason"):
        Decision(verdict=Verdict.VETO, **base)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="qty"):
        Decision(verdict=Verdict.APPROVE, **base)  # type: ignore[arg-type]
    veto = Decision(verdict=Verdict.VETO, reasons=(ReasonCode.MASTER_DISARMED,), **base)  # type: ignore[arg-type]
    assert Decision.model_validate_json(veto.model_dump_json()) == veto


def test_event_and_control_round_trip() -> None:
    event = Event(ts_ms=5, service="brain", event_type="MODE_CHANGE", reason_code=ReasonCode.WS_DOWN, payload={"a": 1})
    assert Event.model_validate_json(event.model_dump_json()) == event
    control = Control(ts_ms=5, command=ControlCommand.PAUSE, operator_id="ops")
    assert Control.model_validate_json(control.model_dump_json()) == control
