from __future__ import annotations

from decimal import Decimal as D

import pytest

from titan_common.messages import Correlation, IntentKind, OrderIntent, Side, client_order_id_for
from titan_common.reasons import ReasonCode
from titan_common.system_state import Mode
from titan_execution.core.filters import (
    FitRefused,
    FittedOrder,
    InstrumentFilters,
    fit_order,
    floor_to_step,
    round_to_tick,
)
from titan_execution.core.validation import ExecutionContext, refusal_reasons

BTC = InstrumentFilters(
    symbol="BTCUSDT",
    tick_size=D("0.10"),
    qty_step=D("0.001"),
    min_qty=D("0.001"),
    max_qty=D("100"),
    min_notional=D("5"),
    max_market_qty=D("50"),
)


def test_floor_and_round() -> None:
    assert floor_to_step(D("0.0129"), D("0.001")) == D("0.012")
    assert floor_to_step(D("7"), D("5")) == D("5")
    assert round_to_tick(D("50000.04"), D("0.10")) == D("50000.0")
    assert round_to_tick(D("50000.06"), D("0.10")) == D("50000.1")
    with pytest.raises(ValueError, match="positive"):
        floor_to_step(D(1), D(0))


def test_qty_is_floored_never_rounded_up() -> None:
    fitted = fit_order(BTC, qty=D("0.01299"), reference_price=D("50000"), stop_loss=D("49500.04"))
    assert isinstance(fitted, FittedOrder)
    assert fitted.qty == D("0.012")
    assert fitted.stop_loss == D("49500.0")


def test_qty_that_floors_to_zero_is_refused() -> None:
    refused = fit_order(BTC, qty=D("0.0009"), reference_price=D("50000"))
    assert isinstance(refused, FitRefused)
    assert refused.reason is ReasonCode.SIZE_ZERO


def test_min_notional() -> None:
    refused = fit_order(BTC, qty=D("0.001"), reference_price=D("4000"))
    assert isinstance(refused, FitRefused)
    assert refused.reason is ReasonCode.BELOW_MIN_NOTIONAL
    # a reduce-only close of dust must always be possible
    assert isinstance(fit_order(BTC, qty=D("0.001"), reference_price=D("4000"), reduce_only=True), FittedOrder)


def test_market_qty_is_capped() -> None:
    fitted = fit_order(BTC, qty=D("80"), reference_price=D("50000"))
    assert isinstance(fitted, FittedOrder)
    assert fitted.qty == D("50")
    limit = fit_order(BTC, qty=D("80"), reference_price=D("50000"), price=D("49999.97"), is_market=False)
    assert isinstance(limit, FittedOrder)
    assert (limit.qty, limit.price) == (D("80"), D("50000.0"))


def make_intent(kind: IntentKind = IntentKind.ENTRY, ts_ms: int = 1000, symbol: str = "BTCUSDT") -> OrderIntent:
    intent_id = f"i{ts_ms}{kind.value}"
    return OrderIntent(
        intent_id=intent_id,
        client_order_id=client_order_id_for(intent_id),
        ts_ms=ts_ms,
        correlation=Correlation(run_id="r"),
        kind=kind,
        symbol=symbol,
        side=Side.BUY,
        qty=D("0.01"),
        stop_loss=D("49000"),
        reduce_only=kind is IntentKind.EXIT,
        ttl_ms=5000,
    )


def ctx(**overrides: object) -> ExecutionContext:
    fields: dict[str, object] = {
        "now_ms": 2000,
        "armed": True,
        "mode": Mode.NORMAL,
        "tradable_symbols": frozenset({"BTCUSDT", "ETHUSDT"}),
        "quarantined_symbols": frozenset(),
        "open_position_symbols": frozenset(),
    }
    fields.update(overrides)
    return ExecutionContext(**fields)  # type: ignore[arg-type]


def test_a_clean_entry_goes() -> None:
    assert refusal_reasons(make_intent(), ctx()) == []


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"armed": False}, ReasonCode.MASTER_DISARMED),
        ({"mode": Mode.DEGRADE}, ReasonCode.MODE_NOT_NORMAL),
        ({"mode": Mode.PAUSE}, ReasonCode.MODE_NOT_NORMAL),
        ({"now_ms": 6001}, ReasonCode.SIGNAL_STALE),
        ({"open_position_symbols": frozenset({"BTCUSDT"})}, ReasonCode.DUPLICATE_POSITION),
        ({"quarantined_symbols": frozenset({"BTCUSDT"})}, ReasonCode.SYMBOL_QUARANTINED),
        ({"tradable_symbols": frozenset({"ETHUSDT"})}, ReasonCode.SYMBOL_QUARANTINED),
        ({"churning_symbols": frozenset({"BTCUSDT"})}, ReasonCode.RISK_CHURN_LIMIT_HIT),
    ],
)
def test_each_rule_refuses_an_entry(overrides: dict[str, object], reason: ReasonCode) -> None:
    assert refusal_reasons(make_intent(), ctx(**overrides)) == [reason]


def test_exits_pass_while_disarmed_and_paused() -> None:
    # (an intent seen twice is refused by the engine's write-ahead row: DUPLICATE_INTENT,
    # tests/integration/execution/test_engine.py)
    exit_intent = make_intent(IntentKind.EXIT)
    assert refusal_reasons(exit_intent, ctx(armed=False, mode=Mode.PAUSE, now_ms=99_999)) == []
