"""Persisted operator switches. Master arm is off unless a row says otherwise (fail closed)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from titan_common.clock import now_ms
from titan_common.db.models import OperatorAction, SystemFlag

MASTER_ARM = "master_arm"


async def read_flag(session: AsyncSession, name: str) -> dict[str, Any] | None:
    # the value column alone: read on every intent and every batch of signals, and an ORM
    # entity (identity map, attribute state) costs more than the query
    value = await session.scalar(select(SystemFlag.value).where(SystemFlag.name == name))
    return dict(value) if value is not None else None


async def read_master_arm(session: AsyncSession) -> bool:
    value = await read_flag(session, MASTER_ARM)
    return bool(value and value.get("enabled") is True)


async def set_master_arm(
    session: AsyncSession, *, enabled: bool, operator_id: str, reason: str = "", request: dict[str, Any] | None = None
) -> tuple[bool, bool]:
    """Set master arm and record who did it, in the caller's transaction. Returns (previous, now)."""
    previous = await read_master_arm(session)
    ts = now_ms()
    values = {
        "name": MASTER_ARM,
        "value": {"enabled": enabled, "reason": reason},
        "updated_ms": ts,
        "updated_by": operator_id,
    }
    statement = insert(SystemFlag).values(**values)
    await session.execute(statement.on_conflict_do_update(index_elements=["name"], set_=values))
    session.add(
        OperatorAction(
            ts_ms=ts,
            operator_id=operator_id,
            action="MASTER_ARM",
            request=request or {"enabled": enabled, "reason": reason},
            result={"previous_state": previous, "master_arm": enabled},
            success=True,
        )
    )
    return previous, enabled
