# GOVERNANCE PHASE 1 — LOCKED
# Changes need explicit approval and a security review, then `titan governance lock`.
"""The AI gate's pure half: the answer schema, what a MODIFY may change, and the policy
when the gate fails.

The gate sees an approved decision and answers ALLOW, MODIFY or BLOCK. Its answer is
parsed strictly: not JSON is AIGATE_PARSE_FAIL, JSON of the wrong shape is
AIGATE_SCHEMA_INVALID, a reason that is not one of Titan's codes is AIGATE_REASON_UNKNOWN.
A MODIFY may only reduce risk (a smaller qty, a tighter stop); anything else is
AIGATE_MODIFY_INVALID. A failed gate never lets the original decision through unexamined:
in LIVE with AI_DEC=2 the decision is blocked and the brain pauses; otherwise the
deterministic fallback applies (hunting: skip the entry; managing: exit the position).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from titan_common.messages import Decision, Side, Signal, Verdict
from titan_common.reasons import ReasonCode

_MODIFIED_NAMESPACE = uuid.UUID("0c3f7a52-1d2e-4b8f-9f3a-6e5d4c3b2a19")
GATE_FAILURES = (
    ReasonCode.AIGATE_TIMEOUT,
    ReasonCode.AIGATE_PARSE_FAIL,
    ReasonCode.AIGATE_SCHEMA_INVALID,
    ReasonCode.AIGATE_REASON_UNKNOWN,
    ReasonCode.AIGATE_MODIFY_INVALID,
    ReasonCode.AIGATE_ERROR,
)


class GateVerdict(StrEnum):
    ALLOW = "ALLOW"
    MODIFY = "MODIFY"
    BLOCK = "BLOCK"


class GateModify(BaseModel):
    """Fields a MODIFY names; null means unchanged. Only qty and stop_loss may change."""

    model_config = ConfigDict(extra="forbid", strict=True)
    qty: str | None
    stop_loss: str | None
    symbol: str | None
    side: str | None
    signal_id: str | None
    decision_id: str | None


class GateAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    verdict: GateVerdict
    reasons: list[str]
    modify: GateModify | None
    comment: str


_NULLABLE_STRING = {"type": ["string", "null"]}
# The JSON schema the model must answer in (OpenAI structured outputs, strict mode: every
# property required, nulls for "unchanged", no other properties).
ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["verdict", "reasons", "modify", "comment"],
    "properties": {
        "verdict": {"type": "string", "enum": [v.value for v in GateVerdict]},
        "reasons": {"type": "array", "items": {"type": "string"}},
        "modify": {
            "anyOf": [
                {"type": "null"},
                {
                    "type": "object",
                    "additionalProperties": False,
                    "required": list(GateModify.model_fields),
                    "properties": {name: _NULLABLE_STRING for name in GateModify.model_fields},
                },
            ]
        },
        "comment": {"type": "string"},
    },
}


@dataclass(frozen=True)
class GateOutcome:
    """What the gate decided: a decision to go forward with, or the failure's reason code."""

    verdict: GateVerdict | None
    decision: Decision | None  # None when the gate failed
    failure: ReasonCode | None = None
    detail: str = ""


def vetoed(decision: Decision, *reasons: ReasonCode) -> Decision:
    """The same decision, refused for `reasons`."""
    refused = decision.model_copy(
        update={"verdict": Verdict.VETO, "reasons": reasons, "qty": Decimal(0), "leverage": 0,
                "risk_usd": Decimal(0), "stop_loss": None, "take_profit": None}
    )  # fmt: skip
    return Decision.model_validate(refused.model_dump())


def parse_answer(text: str) -> GateAnswer | GateOutcome:
    """The model's answer, or a failed outcome naming what was wrong with it."""
    try:
        json.loads(text)
    except (json.JSONDecodeError, TypeError) as exc:
        return GateOutcome(None, None, ReasonCode.AIGATE_PARSE_FAIL, f"not JSON: {exc}")
    try:
        # strict JSON validation: strings stay strings, numbers are not coerced
        answer = GateAnswer.model_validate_json(text)
    except ValidationError as exc:
        return GateOutcome(None, None, ReasonCode.AIGATE_SCHEMA_INVALID, str(exc.errors()[0].get("msg", "invalid")))
    known = {code.value for code in ReasonCode}
    unknown = [reason for reason in answer.reasons if reason not in known]
    if unknown:
        return GateOutcome(None, None, ReasonCode.AIGATE_REASON_UNKNOWN, f"unknown reason codes {unknown[:5]}")
    return answer


def modified_decision_id(signal_id: str) -> str:
    """A MODIFY makes a new decision; its id is derived, so a redelivery names it again."""
    return uuid.uuid5(_MODIFIED_NAMESPACE, signal_id).hex


def _decimal(text: str) -> Decimal | None:
    try:
        value = Decimal(text)
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() else None


def apply_answer(decision: Decision, answer: GateAnswer) -> GateOutcome:
    """The decision after a parsed answer, enforcing that a MODIFY only reduces risk."""
    reasons = tuple(ReasonCode(r) for r in answer.reasons)
    if answer.verdict is GateVerdict.ALLOW:
        return GateOutcome(GateVerdict.ALLOW, decision, detail=answer.comment)
    if answer.verdict is GateVerdict.BLOCK:
        if not reasons:
            return GateOutcome(None, None, ReasonCode.AIGATE_SCHEMA_INVALID, "BLOCK without a reason code")
        return GateOutcome(GateVerdict.BLOCK, vetoed(decision, *reasons), detail=answer.comment)

    change = answer.modify
    if change is None:
        return GateOutcome(None, None, ReasonCode.AIGATE_SCHEMA_INVALID, "MODIFY without a modify object")

    def invalid(why: str) -> GateOutcome:
        return GateOutcome(None, None, ReasonCode.AIGATE_MODIFY_INVALID, why)

    immutable = {
        "symbol": decision.symbol,
        "side": decision.side.value,
        "signal_id": decision.signal_id,
        "decision_id": decision.decision_id,
    }
    for name, current in immutable.items():
        proposed = getattr(change, name)
        if proposed is not None and proposed != current:
            return invalid(f"{name} may not change ({current} -> {proposed})")
    assert decision.stop_loss is not None
    assert decision.entry_price is not None
    qty, stop = decision.qty, decision.stop_loss
    if change.qty is not None:
        proposed_qty = _decimal(change.qty)
        if proposed_qty is None:
            return GateOutcome(None, None, ReasonCode.AIGATE_SCHEMA_INVALID, f"qty {change.qty!r} is not a number")
        if proposed_qty > decision.qty:
            return invalid(f"qty may only shrink ({decision.qty} -> {proposed_qty})")
        if proposed_qty <= 0:
            return invalid("qty must stay above zero (BLOCK to refuse)")
        qty = proposed_qty
    if change.stop_loss is not None:
        proposed_stop = _decimal(change.stop_loss)
        if proposed_stop is None:
            return GateOutcome(
                None, None, ReasonCode.AIGATE_SCHEMA_INVALID, f"stop_loss {change.stop_loss!r} is not a number"
            )
        entry = decision.entry_price
        tighter = stop <= proposed_stop < entry if decision.side is Side.BUY else entry < proposed_stop <= stop
        if not tighter:
            return invalid(f"stop may only tighten ({stop} -> {proposed_stop}, entry {entry})")
        stop = proposed_stop
    new_id = modified_decision_id(decision.signal_id)
    modified = decision.model_copy(
        update={
            "decision_id": new_id,
            "correlation": decision.correlation.model_copy(update={"decision_id": new_id}),
            "qty": qty,
            "stop_loss": stop,
            "risk_usd": qty * abs(decision.entry_price - stop),
        }
    )
    return GateOutcome(GateVerdict.MODIFY, Decision.model_validate(modified.model_dump()), detail=answer.comment)


def judge(decision: Decision, answer_text: str) -> GateOutcome:
    """Parse an answer and apply it to the decision."""
    parsed = parse_answer(answer_text)
    if isinstance(parsed, GateOutcome):
        return parsed
    return apply_answer(decision, parsed)


class FailureAction(StrEnum):
    BLOCK_AND_PAUSE = "BLOCK_AND_PAUSE"  # LIVE with AI_DEC=2: the gate is mandatory
    SKIP = "SKIP"  # hunting: no position, so do not enter
    EXIT = "EXIT"  # managing: a position is open, so close it


def on_failure(*, live: bool, ai_dec: int, managing: bool) -> FailureAction:
    if live and ai_dec >= 2:
        return FailureAction.BLOCK_AND_PAUSE
    return FailureAction.EXIT if managing else FailureAction.SKIP


def rules_answer(decision: Decision, signal: Signal, *, block_below: Decimal, reduce_below: Decimal) -> GateAnswer:
    """The deterministic provider: block weak signals, halve middling ones, allow the rest."""
    if signal.confidence < block_below:
        return GateAnswer(
            verdict=GateVerdict.BLOCK,
            reasons=[ReasonCode.EDGE_TOO_LOW.value],
            modify=None,
            comment=f"confidence {signal.confidence} below {block_below}",
        )
    if signal.confidence < reduce_below:
        return GateAnswer(
            verdict=GateVerdict.MODIFY,
            reasons=[],
            modify=GateModify(
                qty=str(decision.qty / 2), stop_loss=None, symbol=None, side=None, signal_id=None, decision_id=None
            ),
            comment=f"confidence {signal.confidence} below {reduce_below}: half size",
        )
    return GateAnswer(verdict=GateVerdict.ALLOW, reasons=[], modify=None, comment="confidence sufficient")


def gate_input(decision: Decision, signal: Signal, context: dict[str, Any]) -> dict[str, Any]:
    """What the gate is shown: the decision, the signal and a summary of the account."""
    return {
        "decision": decision.model_dump(mode="json"),
        "signal": signal.model_dump(mode="json"),
        "context": context,
    }


def input_hash(payload: dict[str, Any]) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


_SECRET_WORDS = ("key", "token", "secret", "password", "authorization")


def redact(value: Any, max_chars: int = 2000) -> Any:
    """A copy safe for the audit trail: secret-looking fields masked, long strings cut."""
    if isinstance(value, dict):
        return {
            k: ("***" if any(w in str(k).lower() for w in _SECRET_WORDS) else redact(v, max_chars))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v, max_chars) for v in value]
    if isinstance(value, str) and len(value) > max_chars:
        return value[:max_chars] + f"...[{len(value) - max_chars} more]"
    return value
