"""A position someone opens on the exchange arrives first as fills on the private stream.
It is adopted at once: flagged, given a stop, alerted on, and the service runs manage-only
(RECONCILE_DRIFT) until the follow-up reconcile finds everything clean."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.execution.conftest import Sim, running_execution
from tests.processes import wait_for_health
from titan_common.db.models import Alert, PositionRow
from titan_common.exchanges.bybit import BybitAdapter, BybitConfig

pytestmark = pytest.mark.integration


async def test_foreign_fills_are_adopted_protected_and_alerted(
    clean_sim: Sim, sessions: async_sessionmaker[AsyncSession], database_url: str, redis_url: str, tmp_path: Path
) -> None:
    async with running_execution(clean_sim, database_url, redis_url, tmp_path, redis_db_index=15) as execution:
        await asyncio.sleep(1.0)  # the private stream is subscribed
        clean_sim.control("POST", "/positions", {"symbol": "DOGEUSDT", "side": "Sell", "size": "500"})
        # the periodic reconcile is 60 s away: seeing drift within seconds means the stream path caught it
        deadline = time.monotonic() + 5
        reasons: list[str] = []
        while time.monotonic() < deadline and "RECONCILE_DRIFT" not in reasons:
            reasons = httpx.get(f"{execution.url}/health", timeout=5).json()["reasons"]
            await asyncio.sleep(0.1)
        assert "RECONCILE_DRIFT" in reasons  # manage-only: no new entries

        adapter = BybitAdapter(BybitConfig(clean_sim.url, clean_sim.api_key, clean_sim.api_secret))
        try:
            live = next(p for p in await adapter.positions() if p.symbol == "DOGEUSDT")
        finally:
            await adapter.close()
        assert live.stop_loss is not None
        assert live.stop_loss > live.avg_price  # a short's stop sits above its entry
        async with sessions() as session:
            row = await session.scalar(
                select(PositionRow).where(
                    PositionRow.exchange == execution.env["TITAN_EXCHANGE"], PositionRow.symbol == "DOGEUSDT"
                )
            )
            alert = await session.scalar(
                select(Alert).where(Alert.message.like("DOGEUSDT: fill from an order Titan did not send%"))
            )
        assert row is not None
        assert row.adopted is True
        assert row.stop_loss == live.stop_loss
        assert alert is not None
        body = wait_for_health(execution.url, timeout=20)  # the follow-up reconcile is clean
        assert body["mode"] == "NORMAL"
