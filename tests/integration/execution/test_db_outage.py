"""Acceptance (f): with Postgres unreachable no order is placed and the service pauses with
DB_UNAVAILABLE; when Postgres returns it recovers by itself and trading resumes.

A real Postgres (embedded) is stopped and started again under the test.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.execution.conftest import Sim, entry
from titan_common.db import migrate
from titan_common.embedded import EmbeddedPostgres
from titan_common.exchanges.bybit import BybitAdapter, BybitConfig
from titan_common.messages import IntentState
from titan_common.reasons import ReasonCode
from titan_common.service import ServiceRuntime
from titan_common.settings import CommonSettings
from titan_common.system_state import Mode
from titan_execution.runtime.engine import EngineConfig, ExecutionEngine
from titan_execution.runtime.master_arm import set_master_arm

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]


@dataclass
class Outage:
    server: EmbeddedPostgres
    url: str
    runtime: ServiceRuntime
    engine: ExecutionEngine


@pytest.fixture
async def outage(clean_sim: Sim, tmp_path: Path) -> AsyncIterator[Outage]:
    data_dir = ROOT / "var" / f"test-pg-outage-{uuid.uuid4().hex[:6]}"
    server = EmbeddedPostgres(data_dir)
    url = await asyncio.to_thread(server.start)
    await asyncio.to_thread(migrate.upgrade, url)
    runtime = ServiceRuntime(
        name="execution",
        settings=CommonSettings(database_url=url, var_dir=tmp_path, heartbeat_interval_s=0.2),
        needs_redis=False,
    )
    await runtime.start()
    assert runtime.sessions is not None
    adapter = BybitAdapter(BybitConfig(clean_sim.url, clean_sim.api_key, clean_sim.api_secret))
    engine = ExecutionEngine(
        config=EngineConfig(exchange="outage", run_id="outage-test"),
        sessions=runtime.sessions,
        adapter=adapter,
        mode=lambda: runtime.state.mode,
    )
    await engine.load()
    async with runtime.sessions() as session, session.begin():
        await set_master_arm(session, enabled=True, operator_id="outage-test")
    try:
        yield Outage(server, url, runtime, engine)
    finally:
        await runtime.shutdown()
        await adapter.close()
        await asyncio.to_thread(server.stop)
        shutil.rmtree(data_dir, ignore_errors=True)


async def test_no_order_while_postgres_is_down_then_recovery(outage: Outage, clean_sim: Sim) -> None:
    runtime, engine = outage.runtime, outage.engine
    assert runtime.state.mode is Mode.NORMAL

    await asyncio.to_thread(outage.server.stop)
    await runtime.check_dependencies()
    assert runtime.state.mode is Mode.PAUSE
    assert ReasonCode.DB_UNAVAILABLE in runtime.state.reasons
    assert runtime.health()["status"] == "unhealthy"

    refused = entry("ETHUSDT", "0.10", "100", ttl_ms=120_000)
    with pytest.raises(OSError, match=r"(?i)connect|no such file"):  # refused before anything is sent
        await engine.handle_intent(refused)
    assert clean_sim.orders_for(refused.client_order_id) == 0  # no audit row, no order

    assert await asyncio.to_thread(outage.server.start) == outage.url
    # recovery by itself: once the ping answers and the audit writer has flushed what it held
    for _ in range(100):
        await runtime.check_dependencies()
        if runtime.state.mode is Mode.NORMAL:
            break
        await asyncio.sleep(0.2)
    assert runtime.state.mode is Mode.NORMAL
    assert runtime.state.reasons == ()

    # the refused intent was never acked on the stream, so it is redelivered and now goes out, once
    outcome = await engine.handle_intent(refused)
    assert outcome.state is IntentState.CONFIRMED
    assert clean_sim.orders_for(refused.client_order_id) == 1
