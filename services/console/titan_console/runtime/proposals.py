"""AI Quant's proposals, decided by an operator: approving one appends its change as a new
config version (the usual config path: bounds, advisory lock, audit, CONFIG_CHANGED to the
brain and the scavenger) and marks it APPROVED in the same transaction; rejecting records
the reason. A proposal whose base config is no longer active is marked STALE, never applied.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from titan_common.auth.roles import role_for_live
from titan_common.clock import now_ms
from titan_common.config import TradingConfig
from titan_common.db.engine import transaction
from titan_common.db.models import ConfigVersion, OperatorAction, Proposal
from titan_common.db.proposals import ProposalStatus, decide, pending_for_update
from titan_common.events import EventType, ProposalDecided, payload_of
from titan_common.reasons import ReasonCode
from titan_console.core import config_edit
from titan_console.errors import ConsoleError
from titan_console.runtime import config_store, metrics
from titan_console.runtime.actions import emit_audited
from titan_console.runtime.authenticator import Principal
from titan_console.runtime.context import Console


def _sessions(console: Console) -> async_sessionmaker[AsyncSession]:
    if console.runtime.sessions is None:
        raise ConsoleError(503, ReasonCode.DB_UNAVAILABLE.value, "the database is not connected")
    return console.runtime.sessions


async def _pending(console: Console, proposal_id: int) -> Proposal:
    async with _sessions(console)() as session:
        row = await session.get(Proposal, proposal_id)
    if row is None:
        raise ConsoleError(404, "PROPOSAL_NOT_FOUND", f"no proposal {proposal_id}")
    if row.status != ProposalStatus.PENDING.value:
        raise ConsoleError(409, "PROPOSAL_DECIDED", f"proposal {proposal_id} is {row.status} already")
    return row


async def _mark(
    console: Console, who: Principal, proposal_id: int, status: ProposalStatus, note: dict[str, Any]
) -> bool:
    async with transaction(_sessions(console)) as session:
        await pending_for_update(session, proposal_id)
        moved = await decide(session, proposal_id, status, decided_by=who.username, decided_ms=now_ms(), note=note)
        session.add(_action(who, f"PROPOSAL_{status.value}", proposal_id, note, moved))
    return moved


def _action(who: Principal, action: str, proposal_id: int, result: dict[str, Any], success: bool) -> OperatorAction:
    return OperatorAction(
        ts_ms=now_ms(),
        operator_id=who.username,
        action=action,
        request={"proposal_id": proposal_id},
        result=result,
        success=success,
    )


async def approve(console: Console, who: Principal, proposal_id: int) -> dict[str, Any]:
    """Apply the proposal's change as a new config version whose summary names it."""
    if not who.role.at_least(role_for_live(console.live, raises_risk=True)):
        raise ConsoleError(403, "ADMIN_REQUIRED", "in LIVE only an admin may approve a proposal")
    row = await _pending(console, proposal_id)
    payload = row.payload or {}
    base = str(payload.get("base_version", ""))
    request = payload.get("request")

    def edit(config: TradingConfig, _history: list[ConfigVersion]) -> tuple[TradingConfig, str | None]:
        return config_edit.apply_proposal(config, request), None

    async def approved(session: AsyncSession, tag: str) -> None:
        await pending_for_update(session, proposal_id)
        note = {"version_tag": tag, "by": who.username}
        if not await decide(session, proposal_id, ProposalStatus.APPROVED, decided_by=who.username,
                            decided_ms=now_ms(), note=note):  # fmt: skip
            raise ConsoleError(409, "PROPOSAL_DECIDED", f"proposal {proposal_id} was decided meanwhile")

    try:
        answer = await config_store.change(
            console, who, action="PROPOSAL_APPROVE", request={"proposal_id": proposal_id, "change": request},
            edit=edit, expect_version=base, summary_prefix=f"proposal {proposal_id} ({row.title}): ", on_saved=approved,
        )  # fmt: skip
    except ConsoleError as exc:
        if exc.code == "CONFIG_STALE":
            await _mark(console, who, proposal_id, ProposalStatus.STALE, {"why": str(exc)})
            raise ConsoleError(409, "PROPOSAL_STALE", f"proposal {proposal_id} is stale: {exc}") from None
        raise
    if not answer.get("changed"):  # its change is in the active config already: nothing to apply
        await _mark(console, who, proposal_id, ProposalStatus.STALE, {"why": "the active config has it already"})
        raise ConsoleError(409, "PROPOSAL_STALE", f"proposal {proposal_id} changes nothing in the active config")
    decided = ProposalDecided(proposal_id=proposal_id, status="APPROVED", version_tag=answer["version_tag"])
    emit_audited(console, EventType.PROPOSAL_DECIDED, who, payload=payload_of(decided))
    return {**answer, "proposal_id": proposal_id, "status": ProposalStatus.APPROVED.value}


async def reject(console: Console, who: Principal, proposal_id: int, reason: str) -> dict[str, Any]:
    text = reason.strip()
    if not text:
        raise ConsoleError(422, "VALIDATION_ERROR", "a rejection needs a reason")
    await _pending(console, proposal_id)
    note = {"reason": text[:500], "by": who.username}
    if not await _mark(console, who, proposal_id, ProposalStatus.REJECTED, note):
        raise ConsoleError(409, "PROPOSAL_DECIDED", f"proposal {proposal_id} was decided meanwhile")
    metrics.OPERATOR_ACTIONS.labels("PROPOSAL_REJECT", "ok").inc()
    decided = ProposalDecided(proposal_id=proposal_id, status="REJECTED", reason=text[:500])
    emit_audited(console, EventType.PROPOSAL_DECIDED, who, payload=payload_of(decided))
    return {"success": True, "proposal_id": proposal_id, "status": ProposalStatus.REJECTED.value, "reason": text}
