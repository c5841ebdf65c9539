"""The approval pipeline: every veto rule decides at least once, in the documented order."""

from __future__ import annotations

from dataclasses import replace
from decimal import ROUND_DOWN
from decimal import Decimal as D
from typing import Any

import pytest

from tests.unit.brain.builders import NOW, instrument, market, portfolio, position, signal
from titan_brain.core.evaluate import decision_id_for, edge_needed, evaluate, evaluate_detailed
from titan_brain.core.types import Market, Portfolio, pair
from titan_common.config import TradingConfig
from titan_common.messages import Side, Signal, Verdict
from titan_common.reasons import ReasonCode
from titan_common.system_state import Mode

CONFIG = TradingConfig()
# 2% of 10,000 is 200 at risk. A unit stopped out loses the 2-dollar stop plus the taker fee
# (0.055%) and the slippage allowance (0.05%) on the entry and on the exit:
# 2 + 0.00105 x (100 + 98) = 2.2079 per unit, so 200 / 2.2079 units, down to the 1e-8 grid
CLEAN_QTY = D("90.58381267")
GRID = D("0.00000001")


def test_a_clean_signal_is_approved_and_sized_by_its_stop_with_costs() -> None:
    decision = evaluate(signal(), portfolio(), CONFIG, market())
    assert decision.verdict is Verdict.APPROVE
    assert decision.reasons == ()
    assert decision.qty == CLEAN_QTY
    assert decision.risk_usd == CLEAN_QTY * 2  # the price part alone
    assert decision.expected_fees_usd == CLEAN_QTY * D("0.00055") * 198
    assert decision.risk_with_costs_usd == CLEAN_QTY * D("2.2079")
    assert decision.risk_with_costs_usd <= 200
    assert decision.leverage == 2  # 9,058 notional at a 50% margin cap
    assert decision.stop_loss == D(98)
    assert decision.take_profit == D(106)
    assert decision.phase == 1
    assert decision.decision_id == decision_id_for("sig-1")
    assert decision.correlation.signal_id == "sig-1"
    assert decision.correlation.decision_id == decision.decision_id


def _whale(symbol: str) -> Any:
    # 100,000 notional each: two of them use the whole 20x budget of a 10,000 account
    return position(symbol, size="1000", entry="100")


VETOES: list[tuple[ReasonCode, dict[str, Any]]] = [
    (ReasonCode.MODE_NOT_NORMAL, {"portfolio": {"system_mode": Mode.DEGRADE}}),
    (ReasonCode.MODE_NOT_NORMAL, {"portfolio": {"system_mode": Mode.PAUSE}}),
    (ReasonCode.MASTER_DISARMED, {"portfolio": {"master_armed": False}}),
    (ReasonCode.BREAKER_ACTIVE, {"portfolio": {"breaker_active": True}}),
    (ReasonCode.SIGNAL_STALE, {"signal": {"ts_ms": NOW - 40_000, "ttl_ms": 30_000}}),
    (ReasonCode.SIGNAL_INVALID, {"signal": {"stop": "101"}}),
    (ReasonCode.SIGNAL_INVALID, {"signal": {"side": Side.SELL, "stop": "99", "targets": ("90",)}}),
    (ReasonCode.SIGNAL_INVALID, {"signal": {"targets": ("95",)}}),
    (ReasonCode.SIGNAL_INVALID, {"signal": {"ts_ms": NOW + 60_000}}),
    (ReasonCode.SYMBOL_NOT_WHITELISTED, {"signal": {"symbol": "PEPEUSDT"}}),
    (ReasonCode.SYMBOL_QUARANTINED, {"market": {"quarantined": frozenset({"BTCUSDT"})}}),
    (ReasonCode.SYMBOL_QUARANTINED, {"market": {"instruments": {"BTCUSDT": instrument(trading=False)}}}),
    (ReasonCode.DUPLICATE_POSITION, {"portfolio": {"positions": (position("BTCUSDT", Side.SELL),)}}),
    (ReasonCode.DUPLICATE_POSITION, {"portfolio": {"positions": (position("BTCUSDT", pending=True),)}}),
    (
        ReasonCode.MAX_POSITIONS,
        {"portfolio": {"positions": (position("ETHUSDT"), position("SOLUSDT"), position("XRPUSDT"))}},
    ),
    (ReasonCode.EQUITY_UNKNOWN, {"portfolio": {"equity": None}}),
    (ReasonCode.EQUITY_UNKNOWN, {"portfolio": {"equity": "0"}}),
    (ReasonCode.DAILY_LOSS_LIMIT, {"portfolio": {"equity": "9300", "day_start": "10000"}}),
    (ReasonCode.EDGE_TOO_LOW, {"signal": {"targets": ()}}),
    (ReasonCode.EDGE_TOO_LOW, {"signal": {"expected_move_pct": D("0.002")}}),
    # a 0.1 stop: 0.00105 x 199.9 = 0.21 of costs per unit, 68% of the loss at the stop
    (ReasonCode.COST_TOO_HIGH, {"signal": {"stop": "99.9"}}),
    (ReasonCode.LEVERAGE_CAP, {"portfolio": {"positions": (_whale("ETHUSDT"), _whale("SOLUSDT"))}}),
    (ReasonCode.SIZE_ZERO, {"market": {"instruments": {"BTCUSDT": instrument(min_notional="50000")}}}),
    # 2% of a 100-dollar account over a 99.99 stop is 2 dollars of notional, under the 5 minimum
    (ReasonCode.SIZE_ZERO, {"signal": {"stop": "0.01"}, "portfolio": {"equity": "100"}}),
]


def _scenario(changes: dict[str, Any]) -> tuple[Signal, Portfolio, Market]:
    return (
        signal(**changes.get("signal", {})),
        portfolio(**changes.get("portfolio", {})),
        market(**changes.get("market", {})),
    )


@pytest.mark.parametrize(("reason", "changes"), VETOES, ids=[f"{r}-{i}" for i, (r, _) in enumerate(VETOES)])
def test_each_rule_decides_a_veto(reason: ReasonCode, changes: dict[str, Any]) -> None:
    sig, book, mkt = _scenario(changes)
    decision = evaluate(sig, book, CONFIG, mkt)
    assert decision.verdict is Verdict.VETO
    assert decision.reasons == (reason,)
    assert decision.qty == 0
    assert decision.stop_loss is None


def test_the_first_failing_rule_decides_in_the_documented_order() -> None:
    """Start with every rule failing; fix them one at a time: each in turn decides."""
    config = CONFIG.model_copy(update={"asset_whitelist": ("BTCUSDT",)})
    sig_args: dict[str, Any] = {"symbol": "PEPEUSDT", "ts_ms": NOW - 40_000, "stop": "101", "targets": ()}
    book_args: dict[str, Any] = {
        "system_mode": Mode.PAUSE,
        "master_armed": False,
        "breaker_active": True,
        "positions": (position("PEPEUSDT"), _whale("ETHUSDT"), _whale("SOLUSDT"), position("XRPUSDT")),
        "equity": None,
    }
    mkt = market(quarantined=frozenset({"PEPEUSDT"}), instruments={"PEPEUSDT": instrument("PEPEUSDT", "1e9")})
    fixes: list[tuple[ReasonCode, Any]] = [
        (ReasonCode.MODE_NOT_NORMAL, lambda: book_args.update(system_mode=Mode.NORMAL)),
        (ReasonCode.MASTER_DISARMED, lambda: book_args.update(master_armed=True)),
        (ReasonCode.BREAKER_ACTIVE, lambda: book_args.update(breaker_active=False)),
        (ReasonCode.SIGNAL_STALE, lambda: sig_args.update(ts_ms=NOW - 1_000)),
        (ReasonCode.SIGNAL_INVALID, lambda: sig_args.update(stop="99.9")),
        (ReasonCode.SYMBOL_NOT_WHITELISTED, lambda: None),
        (ReasonCode.SYMBOL_QUARANTINED, lambda: None),
        (ReasonCode.DUPLICATE_POSITION, lambda: book_args.update(positions=book_args["positions"][1:])),
        (ReasonCode.MAX_POSITIONS, lambda: book_args.update(positions=book_args["positions"][:2])),
        (ReasonCode.EQUITY_UNKNOWN, lambda: book_args.update(equity="10000", day_start="11000")),
        (ReasonCode.DAILY_LOSS_LIMIT, lambda: book_args.update(day_start="10000")),
        (ReasonCode.EDGE_TOO_LOW, lambda: sig_args.update(targets=("106",))),
        (ReasonCode.COST_TOO_HIGH, lambda: sig_args.update(stop="98")),
        (ReasonCode.LEVERAGE_CAP, lambda: book_args.update(positions=(position("ETHUSDT"), position("SOLUSDT")))),
        (ReasonCode.SIZE_ZERO, lambda: None),
    ]
    for reason, fix in fixes:
        decision = evaluate(signal(**sig_args), portfolio(**book_args), config, mkt)
        assert decision.reasons[0] is reason, f"expected {reason}, got {decision.reasons}"
        fix()
        if reason is ReasonCode.SYMBOL_NOT_WHITELISTED:
            config = config.model_copy(update={"asset_whitelist": ("BTCUSDT", "PEPEUSDT")})
        if reason is ReasonCode.SYMBOL_QUARANTINED:
            mkt = replace(mkt, quarantined=frozenset())
        if reason is ReasonCode.SIZE_ZERO:
            mkt = replace(mkt, instruments={})
    final = evaluate(signal(**sig_args), portfolio(**book_args), config, mkt)
    assert final.verdict is Verdict.APPROVE


def test_a_correlated_position_on_the_same_side_halves_the_size() -> None:
    correlated = market(correlations={pair("BTCUSDT", "ETHUSDT"): 0.85})
    alone = evaluate(signal(), portfolio(positions=(position("ETHUSDT", size="0.1"),)), CONFIG, market())
    halved = evaluate(signal(), portfolio(positions=(position("ETHUSDT", size="0.1"),)), CONFIG, correlated)
    assert halved.verdict is Verdict.APPROVE
    assert halved.reasons == (ReasonCode.CORRELATION_REDUCED,)
    assert halved.qty == (alone.qty / 2).quantize(GRID, rounding=ROUND_DOWN)


@pytest.mark.parametrize(
    ("side", "corr"), [(Side.SELL, 0.95), (Side.BUY, 0.8), (Side.BUY, 0.5)], ids=["opposite-side", "at-0.8", "low"]
)
def test_no_halving_for_opposite_sides_or_correlation_not_above_threshold(side: Side, corr: float) -> None:
    mkt = market(correlations={pair("BTCUSDT", "ETHUSDT"): corr})
    decision = evaluate(signal(), portfolio(positions=(position("ETHUSDT", side, size="0.1"),)), CONFIG, mkt)
    assert decision.reasons == ()
    assert decision.qty == CLEAN_QTY


def test_expected_move_from_the_signal_wins_over_the_target() -> None:
    big_target_small_move = signal(targets=("150",), expected_move_pct=D("0.001"))
    assert evaluate(big_target_small_move, portfolio(), CONFIG, market()).reasons == (ReasonCode.EDGE_TOO_LOW,)
    # the move must pay 2x the round trip's costs: 2 x 0.00105 x (100 + 100.42) / 100 = 0.42088%
    below = signal(expected_move_pct=D("0.0042"))
    assert evaluate(below, portfolio(), CONFIG, market()).reasons == (ReasonCode.EDGE_TOO_LOW,)
    above = signal(expected_move_pct=D("0.0043"))
    assert evaluate(above, portfolio(), CONFIG, market()).verdict is Verdict.APPROVE
    # a sell's exit is below its entry, so its exit costs a little less
    assert edge_needed(signal(side=Side.SELL, stop="102"), D("0.01"), CONFIG) == 2 * D("0.00105") * D("1.99")


def test_sizing_detail_names_the_binding_cap() -> None:
    config = CONFIG.model_copy(update={"max_position_pct": D("0.2")})
    evaluation = evaluate_detailed(signal(stop="99.75"), portfolio(), config, market())
    assert evaluation.sizing is not None
    # a 0.25 stop and 0.2097375 of costs: 200 / 0.4597375 units (43,503 notional); the
    # 20%-margin-at-20x cap allows 40,000
    assert evaluation.sizing.binding.value == "POSITION"
    assert evaluation.decision.qty == D(400)
    assert evaluation.decision.leverage == 20
    assert evaluation.decision.risk_usd == D(100)
    assert evaluation.decision.risk_with_costs_usd == D("183.895")


def test_instrument_step_and_min_qty_are_respected() -> None:
    mkt = market(instruments={"BTCUSDT": instrument(qty_step="0.01")})
    decision = evaluate(signal(stop="97"), portfolio(equity="1000"), CONFIG, mkt)
    # 20 / (3 + 0.00105 x 197) = 6.2366.. -> 6.23
    assert decision.qty == D("6.23")


def test_a_veto_names_every_blocking_switch_the_first_deciding() -> None:
    after_a_trip = portfolio(master_armed=False, breaker_active=True)
    decision = evaluate(signal(), after_a_trip, CONFIG, market())
    assert decision.reasons == (ReasonCode.MASTER_DISARMED, ReasonCode.BREAKER_ACTIVE)
    everything = portfolio(system_mode=Mode.PAUSE, master_armed=False, breaker_active=True)
    assert evaluate(signal(), everything, CONFIG, market()).reasons == (
        ReasonCode.MODE_NOT_NORMAL,
        ReasonCode.MASTER_DISARMED,
        ReasonCode.BREAKER_ACTIVE,
    )
    # a signal-level problem is not added to a switch veto
    assert evaluate(signal(stop="101"), portfolio(master_armed=False), CONFIG, market()).reasons == (
        ReasonCode.MASTER_DISARMED,
    )
