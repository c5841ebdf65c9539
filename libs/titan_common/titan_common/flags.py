"""Reading the persisted operator switches. Master arm is off unless a row says otherwise
(fail closed).

Each flag has one writer: `master_arm` execution (its `runtime/master_arm.py`),
`kill_switch` the console, `scavenger_pause` the scavenger.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from titan_common.db.models import SystemFlag

MASTER_ARM = "master_arm"
KILL_SWITCH = "kill_switch"


async def read_flag(session: AsyncSession, name: str) -> dict[str, Any] | None:
    # the value column alone: read on every intent and every batch of signals, and an ORM
    # entity (identity map, attribute state) costs more than the query
    value = await session.scalar(select(SystemFlag.value).where(SystemFlag.name == name))
    return dict(value) if value is not None else None


async def read_master_arm(session: AsyncSession) -> bool:
    value = await read_flag(session, MASTER_ARM)
    return bool(value and value.get("enabled") is True)
