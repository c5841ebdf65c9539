"""AI Quant's proposals: the one place their rows are written and their statuses named.

The console decides them (approve, reject) and lists them; `titan quant propose` files
them. Both go through these functions, so a status is never spelled twice.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from titan_common.db.models import Proposal


class ProposalStatus(StrEnum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    STALE = "STALE"  # its base config is no longer the active one: it was never applied


async def file_proposal(session: AsyncSession, *, title: str, payload: dict[str, Any], created_ms: int) -> int:
    """A new PENDING proposal, in the caller's transaction; returns its id."""
    row = Proposal(created_ms=created_ms, status=ProposalStatus.PENDING.value, title=title[:500], payload=payload)
    session.add(row)
    await session.flush()
    return int(row.id)


async def pending_for_update(session: AsyncSession, proposal_id: int) -> Proposal | None:
    """The proposal, locked for the caller's transaction (two operators deciding at once
    take turns: the second sees the first's decision)."""
    return await session.scalar(select(Proposal).where(Proposal.id == proposal_id).with_for_update())


async def decide(
    session: AsyncSession,
    proposal_id: int,
    status: ProposalStatus,
    *,
    decided_by: str,
    decided_ms: int,
    note: dict[str, Any] | None = None,
) -> bool:
    """Move a PENDING proposal to `status`; False when it was not PENDING any more."""
    row = await session.get(Proposal, proposal_id)
    if row is None or row.status != ProposalStatus.PENDING.value:
        return False
    payload = dict(row.payload or {})
    if note:
        payload["decision"] = note
    result = await session.execute(
        update(Proposal)
        .where(Proposal.id == proposal_id, Proposal.status == ProposalStatus.PENDING.value)
        .values(status=status.value, decided_by=decided_by[:64], decided_ms=decided_ms, payload=payload)
    )
    return bool(getattr(result, "rowcount", 0))
