"""Master arm's one writer. Execution is the door every order passes, so it owns the switch
that opens it: the console arms and disarms through execution's API, the brain's breaker
disarms the same way, and a flatten disarms here. Everybody else reads the flag through
`titan_common.flags`.

Arming is refused while the kill switch is engaged, checked in the same transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from titan_common.clock import now_ms
from titan_common.db.models import OperatorAction, SystemFlag
from titan_common.flags import KILL_SWITCH, MASTER_ARM, read_flag, read_master_arm


class KillSwitchEngaged(Exception):
    """Arming refused: an admin must clear the kill switch first."""


async def set_master_arm(
    session: AsyncSession, *, enabled: bool, operator_id: str, reason: str = "", request: dict[str, Any] | None = None
) -> tuple[bool, bool]:
    """Set master arm and record who did it, in the caller's transaction. Returns (previous, now)."""
    if enabled:
        kill_switch = await read_flag(session, KILL_SWITCH)
        if kill_switch and kill_switch.get("engaged"):
            raise KillSwitchEngaged("the kill switch is engaged; an admin must clear it before arming")
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
