"""Sizing with costs: the loss at the stop, taker fees and slippage on the entry and on the
exit included, stays within the risk budget; COST_TOO_HIGH refuses a stop too close for
its costs; the decision shows its costs, also after the AI gate changes qty or stop."""

from __future__ import annotations

import json
from decimal import ROUND_DOWN
from decimal import Decimal as D

from tests.unit.brain.builders import market, portfolio, signal
from titan_brain.core.aigate import judge
from titan_brain.core.evaluate import evaluate, evaluate_detailed
from titan_brain.core.sizing import loss_at_stop, round_trip_costs, with_costs
from titan_common.config import TradingConfig
from titan_common.messages import Verdict
from titan_common.reasons import ReasonCode

CONFIG = TradingConfig()
FEES_ONLY = CONFIG.model_copy(update={"slippage_allowance": D(0)})
GRID = D("0.00000001")


def test_one_cost_function_prices_both_legs() -> None:
    costs = round_trip_costs(D(100), D("99.8"), CONFIG)
    assert costs.fees == D("0.00055") * D("199.8")
    assert costs.slippage == D("0.0005") * D("199.8")
    assert loss_at_stop(D(100), D("99.8"), CONFIG) == D("0.2") + D("0.00105") * D("199.8")
    assert round_trip_costs(D(100), D(-5), CONFIG).total == D("0.00105") * 100  # no negative exit leg


def test_the_issues_example_loses_no_more_than_the_budget_at_the_stop() -> None:
    # equity 3,000 in phase 1 (2%: a 60-dollar budget), entry 100, stop 99.8. Sized by the
    # stop alone this was 300 units (30,000 notional): 33 dollars of taker fees, so about 93
    # lost at the stop, 3.1% of equity
    account, trade = portfolio(equity="3000"), signal(stop="99.8")
    evaluation = evaluate_detailed(trade, account, FEES_ONLY, market())
    decision = evaluation.decision
    assert decision.verdict is Verdict.APPROVE
    unit_loss = D("0.2") + D("0.00055") * D("199.8")  # 0.30989
    assert decision.qty == (D(60) / unit_loss).quantize(GRID, rounding=ROUND_DOWN) == D("193.61708993")
    assert decision.risk_with_costs_usd == decision.qty * unit_loss
    assert decision.risk_with_costs_usd is not None
    assert D("59.99") < decision.risk_with_costs_usd <= 60
    assert decision.expected_fees_usd == decision.qty * D("0.00055") * D("199.8")  # about 21.28
    assert evaluation.sizing is not None
    shown = evaluation.sizing.as_dict()
    assert shown["fees_usd"] == str(decision.expected_fees_usd)
    assert D(str(shown["slippage_usd"])) == 0
    assert shown["risk_with_costs_usd"] == str(decision.risk_with_costs_usd)

    # with the default slippage allowance as well, costs are 0.20979 a unit against a 0.2
    # stop: more than half the loss at the stop, so the stop is too close for its costs
    assert evaluate(trade, account, CONFIG, market()).reasons == (ReasonCode.COST_TOO_HIGH,)
    # an operator who accepts a larger share gets it sized within the budget, slippage too
    loose = CONFIG.model_copy(update={"max_cost_share": D("0.6")})
    sized = evaluate(trade, account, loose, market())
    assert sized.verdict is Verdict.APPROVE
    assert sized.qty == (D(60) / (D("0.2") + D("0.00105") * D("199.8"))).quantize(GRID, rounding=ROUND_DOWN)
    assert sized.risk_with_costs_usd is not None
    assert sized.risk_with_costs_usd <= 60


def test_cost_too_high_at_its_boundary() -> None:
    # fees 0.05% + slippage 0.05% on 1,001 in and 999 out: 2 of costs on a 2 stop, exactly half
    config = CONFIG.model_copy(update={"taker_fee_rate": D("0.0005")})
    at_half = signal(entry="1001", stop="999", targets=("1100",))
    assert evaluate(at_half, portfolio(), config, market()).verdict is Verdict.APPROVE
    closer = signal(entry="1001", stop="999.01", targets=("1100",))
    decision = evaluate(closer, portfolio(), config, market())
    assert decision.reasons == (ReasonCode.COST_TOO_HIGH,)
    assert decision.expected_fees_usd is None
    assert decision.risk_with_costs_usd is None
    allowed = config.model_copy(update={"max_cost_share": D("0.6")})
    assert evaluate(closer, portfolio(), allowed, market()).verdict is Verdict.APPROVE


def test_costs_are_shown_again_after_the_ai_gate_changes_the_decision() -> None:
    approved = evaluate(signal(), portfolio(), CONFIG, market())
    change = {"qty": "40", "stop_loss": "99", "symbol": None, "side": None, "signal_id": None, "decision_id": None}
    outcome = judge(approved, json.dumps({"verdict": "MODIFY", "reasons": [], "modify": change, "comment": ""}))
    assert outcome.decision is not None
    modified = with_costs(outcome.decision, CONFIG)
    assert modified.risk_usd == D(40)
    assert modified.expected_fees_usd == 40 * D("0.00055") * 199
    assert modified.risk_with_costs_usd == 40 * (1 + D("0.00105") * 199)
    blocked = judge(approved, '{"verdict": "BLOCK", "reasons": ["EDGE_TOO_LOW"], "modify": null, "comment": ""}')
    assert blocked.decision is not None
    refused = with_costs(blocked.decision, CONFIG)
    assert (refused.expected_fees_usd, refused.risk_with_costs_usd) == (None, None)


def test_costs_ride_on_the_decision_message_and_are_optional() -> None:
    approved = evaluate(signal(), portfolio(), CONFIG, market())
    wire = approved.model_dump(mode="json")
    assert wire["expected_fees_usd"] == str(approved.expected_fees_usd)
    assert type(approved).model_validate_json(approved.model_dump_json()) == approved
    # a decision written before these fields existed still reads
    del wire["expected_fees_usd"], wire["risk_with_costs_usd"]
    old = type(approved).model_validate_json(json.dumps(wire))
    assert (old.expected_fees_usd, old.risk_with_costs_usd) == (None, None)
