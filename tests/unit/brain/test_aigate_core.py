"""The AI gate's pure rules: strict parsing, MODIFY only reduces risk, the failure policy."""

from __future__ import annotations

import json
from decimal import Decimal as D
from typing import Any

import pytest

from tests.unit.brain.builders import market, portfolio, signal
from titan_brain.core.aigate import (
    ANSWER_SCHEMA,
    FailureAction,
    GateModify,
    GateVerdict,
    input_hash,
    judge,
    modified_decision_id,
    on_failure,
    redact,
    rules_answer,
)
from titan_brain.core.evaluate import evaluate
from titan_common.config import TradingConfig
from titan_common.messages import Decision, Side, Verdict
from titan_common.reasons import ReasonCode

APPROVED = evaluate(signal(), portfolio(), TradingConfig(), market())  # 90.58381267 units, stop 98, entry 100
SHORT = evaluate(signal(side=Side.SELL, stop="102", targets=("94",)), portfolio(), TradingConfig(), market())


def answer(verdict: str = "ALLOW", reasons: list[str] | None = None, **modify: Any) -> str:
    change = None
    if modify:
        change = {name: None for name in GateModify.model_fields} | modify
    return json.dumps({"verdict": verdict, "reasons": reasons or [], "modify": change, "comment": "test"})


def test_allow_passes_the_decision_through() -> None:
    outcome = judge(APPROVED, answer())
    assert outcome.verdict is GateVerdict.ALLOW
    assert outcome.decision == APPROVED


def test_block_vetoes_with_the_gates_reason_codes() -> None:
    outcome = judge(APPROVED, answer("BLOCK", ["EDGE_TOO_LOW"]))
    assert outcome.verdict is GateVerdict.BLOCK
    assert outcome.decision is not None
    assert outcome.decision.verdict is Verdict.VETO
    assert outcome.decision.reasons == (ReasonCode.EDGE_TOO_LOW,)
    assert outcome.decision.qty == 0


@pytest.mark.parametrize(
    ("text", "failure"),
    [
        ("this is not json", ReasonCode.AIGATE_PARSE_FAIL),
        ('{"verdict": "ALLOW"', ReasonCode.AIGATE_PARSE_FAIL),
        ('{"verdict": "ALLOW"}', ReasonCode.AIGATE_SCHEMA_INVALID),
        ('{"verdict": "MAYBE", "reasons": [], "modify": null, "comment": ""}', ReasonCode.AIGATE_SCHEMA_INVALID),
        (
            '{"verdict": "ALLOW", "reasons": [], "modify": null, "comment": "", "x": 1}',
            ReasonCode.AIGATE_SCHEMA_INVALID,
        ),
        ('["ALLOW"]', ReasonCode.AIGATE_SCHEMA_INVALID),
        (answer("BLOCK", []), ReasonCode.AIGATE_SCHEMA_INVALID),
        (answer("MODIFY"), ReasonCode.AIGATE_SCHEMA_INVALID),
        (answer("MODIFY", qty="lots"), ReasonCode.AIGATE_SCHEMA_INVALID),
        (answer("BLOCK", ["TOO_RISKY"]), ReasonCode.AIGATE_REASON_UNKNOWN),
        (answer("ALLOW", ["MASTER_DISARMED", "VIBES"]), ReasonCode.AIGATE_REASON_UNKNOWN),
    ],
)
def test_malformed_answers_fail_with_their_reason_code(text: str, failure: ReasonCode) -> None:
    outcome = judge(APPROVED, text)
    assert outcome.failure is failure
    assert outcome.decision is None
    assert outcome.verdict is None


def test_modify_that_lowers_qty_is_applied_as_a_new_decision() -> None:
    outcome = judge(APPROVED, answer("MODIFY", qty="40"))
    assert outcome.verdict is GateVerdict.MODIFY
    modified = outcome.decision
    assert modified is not None
    assert modified.qty == D(40)
    assert modified.risk_usd == D(80)
    assert modified.stop_loss == APPROVED.stop_loss
    assert modified.decision_id == modified_decision_id(APPROVED.signal_id) != APPROVED.decision_id
    assert modified.correlation.decision_id == modified.decision_id


@pytest.mark.parametrize(
    ("decision", "stop"), [(APPROVED, "99"), (APPROVED, "98"), (SHORT, "101")], ids=["buy", "same", "sell"]
)
def test_modify_that_tightens_the_stop_is_applied(decision: Decision, stop: str) -> None:
    outcome = judge(decision, answer("MODIFY", stop_loss=stop))
    assert outcome.decision is not None
    assert outcome.decision.stop_loss == D(stop)
    assert outcome.decision.qty == decision.qty


@pytest.mark.parametrize(
    ("decision", "change"),
    [
        (APPROVED, {"qty": "100.001"}),
        (APPROVED, {"qty": "0"}),
        (APPROVED, {"stop_loss": "97"}),  # looser
        (APPROVED, {"stop_loss": "100"}),  # at the entry: no protection
        (SHORT, {"stop_loss": "103"}),
        (APPROVED, {"symbol": "ETHUSDT"}),
        (APPROVED, {"side": "Sell"}),
        (APPROVED, {"signal_id": "other"}),
        (APPROVED, {"decision_id": "other"}),
        (APPROVED, {"qty": "50", "stop_loss": "96"}),  # one bad change spoils the whole MODIFY
    ],
)
def test_modify_that_adds_risk_or_changes_identity_is_rejected(decision: Decision, change: dict[str, str]) -> None:
    outcome = judge(decision, answer("MODIFY", **change))
    assert outcome.failure is ReasonCode.AIGATE_MODIFY_INVALID
    assert outcome.decision is None


def test_unchanged_identity_fields_may_be_repeated() -> None:
    same = {"symbol": "BTCUSDT", "side": "Buy", "signal_id": APPROVED.signal_id, "decision_id": APPROVED.decision_id}
    outcome = judge(APPROVED, answer("MODIFY", qty="10", **same))
    assert outcome.decision is not None
    assert outcome.decision.qty == D(10)


@pytest.mark.parametrize(
    ("live", "ai_dec", "managing", "action"),
    [
        (True, 2, False, FailureAction.BLOCK_AND_PAUSE),
        (True, 2, True, FailureAction.BLOCK_AND_PAUSE),
        (True, 1, False, FailureAction.SKIP),
        (False, 2, False, FailureAction.SKIP),
        (False, 0, True, FailureAction.EXIT),
        (True, 0, True, FailureAction.EXIT),
    ],
)
def test_failure_policy(live: bool, ai_dec: int, managing: bool, action: FailureAction) -> None:
    assert on_failure(live=live, ai_dec=ai_dec, managing=managing) is action


def test_rules_provider_is_deterministic() -> None:
    def verdict(confidence: str) -> GateVerdict:
        return rules_answer(
            APPROVED, signal(confidence=D(confidence)), block_below=D("0.5"), reduce_below=D("0.7")
        ).verdict

    assert verdict("0.49") is GateVerdict.BLOCK
    assert verdict("0.5") is GateVerdict.MODIFY
    assert verdict("0.7") is GateVerdict.ALLOW
    halved = rules_answer(APPROVED, signal(confidence=D("0.6")), block_below=D("0.5"), reduce_below=D("0.7"))
    outcome = judge(APPROVED, halved.model_dump_json())
    assert outcome.decision is not None
    assert outcome.decision.qty == APPROVED.qty / 2


def test_schema_is_strict_for_structured_outputs() -> None:
    assert ANSWER_SCHEMA["additionalProperties"] is False
    assert set(ANSWER_SCHEMA["required"]) == set(ANSWER_SCHEMA["properties"])
    modify_object = ANSWER_SCHEMA["properties"]["modify"]["anyOf"][1]
    assert set(modify_object["required"]) == set(modify_object["properties"])


def test_input_hash_is_canonical_and_redaction_masks_secrets() -> None:
    assert input_hash({"a": 1, "b": [1, 2]}) == input_hash({"b": [1, 2], "a": 1})
    assert input_hash({"a": 1}) != input_hash({"a": 2})
    cleaned = redact({"api_key": "sk-123", "nested": {"Authorization": "Bearer x", "ok": "y" * 10}}, max_chars=5)
    assert cleaned == {"api_key": "***", "nested": {"Authorization": "***", "ok": "yyyyy...[5 more]"}}
