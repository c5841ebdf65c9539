"""The engine's pool against a real Postgres that restarts: no ping per transaction on a busy
pool, and a connection idle past PING_AFTER_IDLE_S is pinged, so a restart is met with a
fresh connection instead of an error."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

from titan_common.db import engine as db_engine
from titan_common.db.engine import make_engine
from titan_common.embedded import EmbeddedPostgres

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]


async def test_an_idle_connection_is_pinged_and_a_restart_costs_no_error(monkeypatch: pytest.MonkeyPatch) -> None:
    data_dir = ROOT / "var" / f"test-pg-ping-{uuid.uuid4().hex[:6]}"
    server = EmbeddedPostgres(data_dir)
    url = server.start()
    monkeypatch.setattr(db_engine, "PING_AFTER_IDLE_S", 0.2)
    engine = make_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            first_pid = await conn.scalar(text("SELECT pg_backend_pid()"))
        async with engine.connect() as conn:  # at once: the same connection, not pinged
            assert await conn.scalar(text("SELECT pg_backend_pid()")) == first_pid

        await asyncio.to_thread(server.stop)
        assert await asyncio.to_thread(server.start) == url
        await asyncio.sleep(0.3)  # idle past the bound: the next checkout pings, finds it dead
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT 1")) == 1  # a fresh connection, no error
            assert await conn.scalar(text("SELECT pg_backend_pid()")) != first_pid
    finally:
        await engine.dispose()
        await asyncio.to_thread(server.stop)
        shutil.rmtree(data_dir, ignore_errors=True)
