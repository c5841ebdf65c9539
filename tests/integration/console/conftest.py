"""One live stack for the console's integration tests, and accounts of every role."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.console.stack import ADMIN, Stack, running_stack
from titan_common.auth.accounts import UserExists, add_user
from titan_common.auth.roles import Role
from titan_common.db.engine import make_engine, make_sessionmaker

# name -> (password, role). titan_admin/your_password is the operator manual's account.
ACCOUNTS = {
    "viewer-1": ("viewer-password", Role.VIEWER),
    "operator-1": ("operator-password", Role.OPERATOR),
    "admin-1": ("admin-password", Role.ADMIN),
    "titan_admin": ("your_password", Role.ADMIN),
}


async def create_accounts(database_url: str, accounts: dict[str, tuple[str, Role]]) -> None:
    engine = make_engine(database_url, pool_size=1)
    sessions: async_sessionmaker[AsyncSession] = make_sessionmaker(engine)
    try:
        for name, (password, role) in accounts.items():
            try:
                async with sessions() as session, session.begin():
                    await add_user(session, name, password, role)
            except UserExists:
                pass
    finally:
        await engine.dispose()


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("console-stack")
    with running_stack(root, database_url) as live:
        # after the console has started, so that it bootstraps admin/password (PAPER) itself;
        # it does only on an empty users table, and a test that ran earlier in this session's
        # database may have added someone: then the runbook's admin/password is made here
        asyncio.run(create_accounts(database_url, {ADMIN[0]: (ADMIN[1], Role.ADMIN), **ACCOUNTS}))
        yield live


def auth_of(name: str) -> tuple[str, str]:
    if name == "admin":
        return ADMIN
    return name, ACCOUNTS[name][0]


@pytest.fixture
def console(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.console, timeout=60) as client:
        yield client


@pytest.fixture
def clean_state(stack: Stack) -> Iterator[Stack]:
    """No kill switch, disarmed, no positions or orders before and after the test."""

    def reset() -> None:
        with httpx.Client(base_url=stack.console, timeout=60, auth=ADMIN) as client:
            state = client.get("/api/console/kill-switch").json()
            if state.get("engaged"):
                client.post("/api/console/kill-switch/recover", json={"reason": "test cleanup"}).raise_for_status()
            client.post("/api/console/flatten-all", json={"operator_id": "test-cleanup"}).raise_for_status()
            if (client.get("/api/status").json().get("circuitBreaker") or {}).get("active"):
                client.post("/api/circuit-breaker/reset", json={"reason": "test cleanup"})
            client.post("/api/console/master-arm", json={"enabled": False}).raise_for_status()

    reset()
    yield stack
    reset()
