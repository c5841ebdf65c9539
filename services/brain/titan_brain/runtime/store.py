"""The brain's Postgres reads and writes. Every write happens in the caller's transaction."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, literal_column, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from titan_brain.core.breaker import Action, BreakerState, Transition
from titan_brain.core.types import OpenPosition
from titan_common.db.intents import CREATED, insert_intents_if_absent, intent_values
from titan_common.db.models import (
    BreakerEvent,
    DecisionRow,
    EquitySnapshot,
    OrderIntentRow,
    PositionRow,
    TradeRow,
)
from titan_common.messages import Decision, IntentState, OrderIntent, Side, Signal, Verdict
from titan_common.reasons import ReasonCode

# a stale signal is EXPIRED; any other veto VETOED
STATUS_OF = {Verdict.APPROVE: "APPROVED", Verdict.VETO: "VETOED"}
PENDING = "PENDING"


def signal_status(decision: Decision) -> str:
    if decision.verdict is Verdict.VETO and decision.reasons[:1] == (ReasonCode.SIGNAL_STALE,):
        return "EXPIRED"
    return STATUS_OF[decision.verdict]


@dataclass(frozen=True)
class Existing:
    """A decision already on record for a signal, and its intent if it approved one."""

    signal_id: str
    decision_id: str
    verdict: str
    intent: OrderIntent | None
    intent_state: str | None

    @property
    def should_republish(self) -> bool:
        # CREATED: committed but maybe never published (a crash between commit and XADD);
        # execution dedups by intent_id, so publishing the same intent again is safe
        return self.intent is not None and self.intent_state == CREATED


async def existing_decisions(session: AsyncSession, signal_ids: Sequence[str]) -> dict[str, Existing]:
    if not signal_ids:
        return {}
    rows = await session.execute(
        select(
            DecisionRow.signal_id,
            DecisionRow.decision_id,
            DecisionRow.verdict,
            DecisionRow.payload["intent"],
            OrderIntentRow.state,
        )
        .outerjoin(OrderIntentRow, OrderIntentRow.decision_id == DecisionRow.decision_id)
        .where(DecisionRow.signal_id.in_(list(signal_ids)))
    )
    found = {}
    for signal_id, decision_id, verdict, intent_json, intent_state in rows:
        intent = OrderIntent.model_validate_json(json.dumps(intent_json)) if intent_json else None
        found[signal_id] = Existing(signal_id, decision_id, verdict, intent, intent_state)
    return found


@dataclass(frozen=True)
class Record:
    """One signal's outcome, ready to be written."""

    signal: Signal
    decision: Decision
    intent: OrderIntent | None
    detail: dict[str, Any]


# One statement per table for a whole batch: each column goes as one array (unnest), and
# the JSON columns as the JSON text pydantic writes. SQLAlchemy's per-row parameter
# processing and json.dumps were most of the brain's write cost (docs/decisions.md).
# PENDING -> the decision's status; a row someone already decided is left alone.
_UPSERT_SIGNALS = text(
    """
    INSERT INTO signals (signal_id, ts_ms, source, symbol, side, trap_type, status, payload)
    SELECT signal_id, ts_ms, source, symbol, side, trap_type, status, payload::jsonb
    FROM unnest(CAST(:signal_id AS text[]), CAST(:ts_ms AS bigint[]), CAST(:source AS text[]),
                CAST(:symbol AS text[]), CAST(:side AS text[]), CAST(:trap_type AS text[]),
                CAST(:status AS text[]), CAST(:payload AS text[]))
         AS batch(signal_id, ts_ms, source, symbol, side, trap_type, status, payload)
    ON CONFLICT (signal_id) DO UPDATE SET status = excluded.status WHERE signals.status = :pending
    """
)
# signal_id is unique: a decision someone else inserted first stays, and is not returned
_INSERT_DECISIONS = text(
    """
    INSERT INTO decisions (decision_id, signal_id, ts_ms, verdict, reasons, symbol, side, qty, leverage,
                           risk_usd, phase, payload)
    SELECT decision_id, signal_id, ts_ms, verdict, reasons::jsonb, symbol, side, qty, leverage, risk_usd,
           phase, payload::jsonb
    FROM unnest(CAST(:decision_id AS text[]), CAST(:signal_id AS text[]), CAST(:ts_ms AS bigint[]),
                CAST(:verdict AS text[]), CAST(:reasons AS text[]), CAST(:symbol AS text[]),
                CAST(:side AS text[]), CAST(:qty AS numeric[]), CAST(:leverage AS integer[]),
                CAST(:risk_usd AS numeric[]), CAST(:phase AS integer[]), CAST(:payload AS text[]))
         AS batch(decision_id, signal_id, ts_ms, verdict, reasons, symbol, side, qty, leverage, risk_usd,
                  phase, payload)
    ON CONFLICT DO NOTHING
    RETURNING signal_id
    """
)


def json_object(members: dict[str, str]) -> str:
    """A JSON object from members that are JSON texts already."""
    return "{" + ",".join(f"{json.dumps(key)}:{value}" for key, value in members.items()) + "}"


def decision_payload(record: Record) -> str:
    """The decision row's payload: the decision, its intent and the evaluation's detail."""
    members = {
        "decision": record.decision.model_dump_json(),
        "intent": record.intent.model_dump_json() if record.intent else "null",
    }
    members.update({key: json.dumps(value) for key, value in record.detail.items()})
    return json_object(members)


async def write_records(
    session: AsyncSession, records: Sequence[Record], account_of: Callable[[str], str] = lambda venue: venue
) -> set[str]:
    """Upsert the signals, insert the decisions and their intents. Returns the signal ids
    whose decision this call inserted (the others were decided by someone else first)."""
    if not records:
        return set()
    signals = [r.signal for r in records]
    await session.execute(
        _UPSERT_SIGNALS,
        {
            "signal_id": [s.signal_id for s in signals],
            "ts_ms": [s.ts_ms for s in signals],
            "source": [s.source[:32] for s in signals],
            "symbol": [s.symbol for s in signals],
            "side": [s.side.value for s in signals],
            "trap_type": [s.trap_type[:32] for s in signals],
            "status": [signal_status(r.decision) for r in records],
            "payload": [s.model_dump_json() for s in signals],
            "pending": PENDING,
        },
    )
    decisions = [r.decision for r in records]
    inserted = await session.execute(
        _INSERT_DECISIONS,
        {
            "decision_id": [d.decision_id for d in decisions],
            "signal_id": [r.signal.signal_id for r in records],
            "ts_ms": [d.ts_ms for d in decisions],
            "verdict": [d.verdict.value for d in decisions],
            "reasons": [json.dumps([reason.value for reason in d.reasons]) for d in decisions],
            "symbol": [d.symbol for d in decisions],
            "side": [d.side.value for d in decisions],
            "qty": [d.qty for d in decisions],
            "leverage": [d.leverage for d in decisions],
            "risk_usd": [d.risk_usd for d in decisions],
            "phase": [d.phase for d in decisions],
            "payload": [decision_payload(r) for r in records],
        },
    )
    won = set(inserted.scalars())
    intent_rows = [
        # the intent belongs to the account of its venue (execution of that venue places it)
        intent_values(r.intent, r.decision.decision_id, exchange=account_of(r.intent.exchange))
        for r in records
        if r.intent is not None and r.signal.signal_id in won
    ]
    await insert_intents_if_absent(session, intent_rows)
    return won


# --- start-up reads -----------------------------------------------------------------


def open_positions(rows: Sequence[PositionRow]) -> list[OpenPosition]:
    return [
        OpenPosition(
            symbol=row.symbol,
            side=Side(row.side),
            size=row.size,
            entry_price=row.avg_entry,
            mark_price=row.mark_price,
            exchange=row.exchange,
        )
        for row in rows
        if row.side in (Side.BUY.value, Side.SELL.value)
    ]


def trade_results(rows: Sequence[TradeRow]) -> list[tuple[int, Decimal]]:
    """(closed at, net P&L): the table's pnl is gross; TRADE_CLOSED carries it after fees, and
    so does the brain."""
    return [(int(row.closed_ms), row.pnl - row.fees) for row in rows]


async def open_entry_intents(
    session: AsyncSession, since_ms: int, accounts: Sequence[str]
) -> list[tuple[OrderIntentRow, Decimal | None]]:
    """The accounts' entry intents that may still become positions (not yet sent, or sent and
    unresolved), with the entry price of the decision that made them."""
    rows = await session.execute(
        select(OrderIntentRow, DecisionRow.payload["decision"]["entry_price"].astext)
        .outerjoin(DecisionRow, DecisionRow.decision_id == OrderIntentRow.decision_id)
        .where(
            OrderIntentRow.kind == "ENTRY",
            OrderIntentRow.exchange.in_(list(accounts)),
            OrderIntentRow.state.in_((CREATED, IntentState.SENT_UNKNOWN.value, IntentState.CONFIRMED.value)),
            OrderIntentRow.expires_at_ms >= since_ms,
        )
    )
    return [(row, Decimal(entry) if entry else None) for row, entry in rows]


async def last_snapshot(session: AsyncSession, exchange: str) -> EquitySnapshot | None:
    return await session.scalar(
        select(EquitySnapshot).where(EquitySnapshot.exchange == exchange).order_by(EquitySnapshot.ts_ms.desc()).limit(1)
    )


async def high_watermark(session: AsyncSession, exchange: str) -> Decimal | None:
    value = await session.scalar(
        select(func.max(EquitySnapshot.high_watermark)).where(EquitySnapshot.exchange == exchange)
    )
    return Decimal(value) if value is not None else None


async def recent_decision_rows(session: AsyncSession, limit: int) -> list[DecisionRow]:
    rows = await session.scalars(select(DecisionRow).order_by(DecisionRow.ts_ms.desc()).limit(limit))
    return list(rows)


# --- breaker events ---------------------------------------------------------------------

BREAKER_STATE_ACTIONS = (Action.TRIP.value, Action.RESET.value, Action.COOLDOWN_END.value)
FLATTENED = "FLATTENED"


def breaker_event(transition: Transition, ts_ms: int, operator_id: str | None, extra: dict[str, Any]) -> BreakerEvent:
    return BreakerEvent(
        ts_ms=ts_ms,
        action=transition.action.value,
        level=transition.level.value,
        reason=transition.reason,
        operator_id=operator_id,
        payload={"trigger": transition.trigger.value, "state": transition.state.as_dict(), **extra},
    )


async def last_breaker_state(session: AsyncSession) -> tuple[BreakerState, bool]:
    """The breaker as its last recorded change left it, and whether a hard trip's flatten
    is on record after that trip."""
    last = await session.scalar(
        select(BreakerEvent)
        .where(BreakerEvent.action.in_(BREAKER_STATE_ACTIONS))
        .order_by(BreakerEvent.id.desc())
        .limit(1)
    )
    if last is None:
        return BreakerState(), False
    state = BreakerState.from_dict(dict(last.payload.get("state", {})))
    flattened = await session.scalar(
        select(func.count())
        .select_from(BreakerEvent)
        .where(BreakerEvent.action == FLATTENED, BreakerEvent.id > last.id)
    )
    return state, bool(flattened)


# --- reads for the API ---------------------------------------------------------------


async def approval_counts(session: AsyncSession, since_ms: int) -> list[tuple[int | None, str, str | None, int]]:
    """(phase, verdict, deciding reason, count) over decisions since `since_ms`."""
    reason = DecisionRow.reasons.op("->>")(literal_column("0"))
    rows = await session.execute(
        select(DecisionRow.phase, DecisionRow.verdict, reason, func.count())
        .where(DecisionRow.ts_ms >= since_ms)
        .group_by(DecisionRow.phase, DecisionRow.verdict, reason)
    )
    return [(phase, verdict, why, int(count)) for phase, verdict, why, count in rows]


def summary_of(decision: dict[str, Any], intent_id: str | None, aigate: str | None) -> dict[str, Any]:
    """One decision as the dashboard and GET /decisions show it (from its JSON form)."""
    return {
        "decisionId": decision.get("decision_id"),
        "signalId": decision.get("signal_id"),
        "ts": decision.get("ts_ms"),
        "verdict": decision.get("verdict"),
        "reasons": list(decision.get("reasons", [])),
        "symbol": decision.get("symbol"),
        "side": decision.get("side"),
        "qty": decision.get("qty"),
        "leverage": decision.get("leverage"),
        "riskUsd": decision.get("risk_usd"),
        "expectedFeesUsd": decision.get("expected_fees_usd"),
        "riskWithCostsUsd": decision.get("risk_with_costs_usd"),
        "entryPrice": decision.get("entry_price"),
        "stopLoss": decision.get("stop_loss"),
        "takeProfit": decision.get("take_profit"),
        "phase": decision.get("phase"),
        "intentId": intent_id,
        "aiGate": aigate,
    }


def decision_summary(row: DecisionRow) -> dict[str, Any]:
    payload = row.payload or {}
    intent = payload.get("intent") or {}
    return summary_of(
        payload.get("decision", {}), intent.get("intent_id"), (payload.get("aigate") or {}).get("verdict")
    )


def approval_body(
    rows: Sequence[tuple[int | None, str, str | None, int]], since_ms: int, hours: float, current_phase: int | None
) -> dict[str, Any]:
    """Approval rates per phase over the window, with the reasons that decided the vetoes."""

    def empty() -> dict[str, Any]:
        return {"total": 0, "approved": 0, "vetoed": 0, "approvalRate": None, "approvalPct": None, "vetoReasons": {}}

    phases = {str(n): empty() for n in (1, 2, 3)}
    overall = empty()
    for phase, verdict, reason, count in rows:
        for bucket in (phases.setdefault(str(phase or 1), empty()), overall):
            bucket["total"] += count
            if verdict == Verdict.APPROVE.value:
                bucket["approved"] += count
            else:
                bucket["vetoed"] += count
                key = reason or "UNKNOWN"
                bucket["vetoReasons"][key] = bucket["vetoReasons"].get(key, 0) + count
    for bucket in [*phases.values(), overall]:
        if bucket["total"]:
            bucket["approvalRate"] = round(bucket["approved"] / bucket["total"], 4)
            bucket["approvalPct"] = round(100 * bucket["approved"] / bucket["total"], 2)
        bucket["vetoReasons"] = dict(sorted(bucket["vetoReasons"].items(), key=lambda kv: -kv[1]))
    return {
        "window_hours": hours,
        "since_ms": since_ms,
        "current_phase": current_phase,
        "overall": overall,
        "phases": phases,
    }
