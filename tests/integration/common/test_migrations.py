"""Migrations on a real, empty Postgres database: up to head, again (no-op), down to base."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from tests.conftest import create_database, drop_database
from titan_common.db import migrate
from titan_common.db.models import Base
from titan_common.settings import plain_database_url

pytestmark = pytest.mark.integration


async def _tables(url: str) -> set[str]:
    conn = await asyncpg.connect(plain_database_url(url))
    try:
        rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {r["tablename"] for r in rows}
    finally:
        await conn.close()


@pytest.fixture
def empty_database(postgres_server_url: str):  # type: ignore[no-untyped-def]
    name = f"titan_mig_{uuid.uuid4().hex[:8]}"
    url = create_database(postgres_server_url, name)
    yield url
    drop_database(postgres_server_url, name)


def test_upgrade_to_head_twice_then_down_to_base(empty_database: str) -> None:
    assert migrate.current_revision(empty_database) is None
    migrate.upgrade(empty_database)
    assert migrate.current_revision(empty_database) == migrate.head_revision()
    tables = asyncio.run(_tables(empty_database))
    assert set(Base.metadata.tables) <= tables
    migrate.upgrade(empty_database)  # safe to run twice
    assert migrate.current_revision(empty_database) == migrate.head_revision()
    migrate.downgrade(empty_database, "base")
    assert migrate.current_revision(empty_database) is None
    assert asyncio.run(_tables(empty_database)) <= {"alembic_version"}


async def test_audit_tables_are_append_only(database_url: str) -> None:
    conn = await asyncpg.connect(plain_database_url(database_url))
    try:
        await conn.execute(
            "INSERT INTO audit_events (event_id, ts_ms, service, severity, event_type, payload) "
            "VALUES ($1, 1, 'test', 'INFO', 'T', '{}')",
            "append-only-probe",
        )
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await conn.execute("UPDATE audit_events SET severity = 'ERROR' WHERE event_id = 'append-only-probe'")
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await conn.execute("DELETE FROM audit_events WHERE event_id = 'append-only-probe'")
        # retention is the one sanctioned delete, and only inside its own transaction
        async with conn.transaction():
            await conn.execute("SET LOCAL titan.retention = 'on'")
            await conn.execute("DELETE FROM audit_events WHERE event_id = 'append-only-probe'")
        # outside that transaction the guard is back
        await conn.execute(
            "INSERT INTO operator_actions (ts_ms, operator_id, action, request, result, success) "
            "VALUES (1, 'ops', 'PROBE', '{}', '{}', true)"
        )
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("DELETE FROM operator_actions WHERE operator_id = 'ops'")
    finally:
        await conn.close()


async def test_models_and_migrations_agree(database_url: str) -> None:
    """Autogenerate against a database at head finds nothing: no model change lacks a migration."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy.ext.asyncio import create_async_engine

    from titan_common.settings import normalise_database_url

    engine = create_async_engine(normalise_database_url(database_url))
    try:
        async with engine.connect() as conn:
            differences = await conn.run_sync(lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata))
    finally:
        await engine.dispose()
    assert differences == []
