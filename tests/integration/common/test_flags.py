from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from titan_common.db.models import OperatorAction
from titan_common.flags import read_master_arm
from titan_execution.runtime.master_arm import set_master_arm

pytestmark = pytest.mark.integration


async def test_master_arm_is_off_until_set_and_every_change_is_recorded(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        assert await read_master_arm(session) is False  # no row: disarmed
    async with sessions() as session, session.begin():
        assert await set_master_arm(session, enabled=True, operator_id="ops-1") == (False, True)
    async with sessions() as session, session.begin():
        assert await set_master_arm(session, enabled=False, operator_id="ops-2", reason="test") == (True, False)
    async with sessions() as session:
        assert await read_master_arm(session) is False
        actions = (await session.scalars(select(OperatorAction).where(OperatorAction.action == "MASTER_ARM"))).all()
    assert [(a.operator_id, a.result["master_arm"]) for a in actions][-2:] == [("ops-1", True), ("ops-2", False)]
