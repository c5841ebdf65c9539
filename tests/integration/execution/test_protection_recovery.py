"""Recovery from PROTECTION_FAILED without a restart: an admin clears it after review.

A real execution process. A position whose stop cannot be set is closed for protection and
pauses execution with PROTECTION_FAILED. Only an admin may clear it, with a reason; the
clear is audited with the operator, checks every stop again, and the mode comes back.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.execution.conftest import Sim, running_execution
from titan_common.auth.accounts import add_user
from titan_common.auth.roles import Role
from titan_common.auth.tokens import OPERATOR_HEADER, TOKEN_HEADER
from titan_common.clock import now_ms
from titan_common.db.models import AuditEvent, OperatorAction
from titan_common.settings import DEFAULT_INTERNAL_TOKEN

pytestmark = pytest.mark.integration
PATH = "/api/safety/protection-failed/clear"


def reasons(url: str) -> list[str]:
    return list(httpx.get(f"{url}/health", timeout=5).json()["reasons"])


async def test_an_admin_clears_protection_failed_after_review(
    clean_sim: Sim, sessions: async_sessionmaker[AsyncSession], database_url: str, redis_url: str, tmp_path: Path
) -> None:
    started = now_ms()
    async with sessions() as session, session.begin():
        await add_user(session, "pf-operator", "pf-operator-pass", Role.OPERATOR)
    async with running_execution(clean_sim, database_url, redis_url, tmp_path, redis_db_index=14) as execution:
        clean_sim.control("POST", "/faults", {"fail_paths": ["/v5/position/trading-stop"]})
        clean_sim.control("POST", "/positions", {"symbol": "ETHUSDT", "side": "Buy", "size": "0.10"})
        deadline = time.monotonic() + 30
        while "PROTECTION_FAILED" not in reasons(execution.url):
            assert time.monotonic() < deadline, "PROTECTION_FAILED never raised"
            await asyncio.sleep(0.3)
        clean_sim.control("DELETE", "/faults")

        url = execution.url + PATH
        assert httpx.post(url, json={"reason": "reviewed"}, timeout=10).status_code == 401
        as_operator = httpx.post(url, json={"reason": "reviewed"}, auth=("pf-operator", "pf-operator-pass"), timeout=10)
        assert as_operator.status_code == 403
        admin = {TOKEN_HEADER: DEFAULT_INTERNAL_TOKEN, OPERATOR_HEADER: "pf-admin"}
        no_reason = httpx.post(url, json={}, headers=admin, timeout=10)
        assert no_reason.status_code == 422
        assert set(no_reason.json()) == {"error"}
        assert "PROTECTION_FAILED" in reasons(execution.url)

        cleared = httpx.post(url, json={"reason": "stops checked by hand"}, headers=admin, timeout=30)
        assert cleared.status_code == 200, cleared.text
        body = cleared.json()
        assert body["cleared"] is True
        assert body["was_set"] is True
        assert "PROTECTION_FAILED" not in reasons(execution.url)
    async with sessions() as session:  # this test's rows only: the session's database is shared
        action = await session.scalar(
            select(OperatorAction).where(
                OperatorAction.action == "PROTECTION_FAILED_CLEAR", OperatorAction.ts_ms >= started
            )
        )
        audit = await session.scalar(
            select(AuditEvent).where(
                AuditEvent.event_type == "PROTECTION_FAILED_CLEAR_REQUESTED", AuditEvent.ts_ms >= started
            )
        )
    assert action is not None
    assert action.operator_id == "pf-admin"
    assert action.request == {"reason": "stops checked by hand"}
    assert audit is not None
    assert audit.operator_id == "pf-admin"
