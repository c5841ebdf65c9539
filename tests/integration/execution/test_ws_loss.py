"""Acceptance (e): the private WebSocket drops in the middle of fills. The fills are
recovered through REST with no duplicate fill rows, intents still reach FILLED (their lost
order reports are re-asked over REST), and the service ends NORMAL.

pybit reconnects within milliseconds here, usually before WS_DOWN can be observed; the
WS_DOWN path (DEGRADE, fast REST polling, reconcile on reconnect) is in watch_stream."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.execution.conftest import Sim, arm, entry, running_execution
from tests.processes import metric_value, wait_for_health
from titan_common.bus import INTENTS, StreamProducer
from titan_common.db.models import FillRow, OrderIntentRow
from titan_common.exchanges.bybit import BybitAdapter, BybitConfig
from titan_common.exchanges.types import ExecType

pytestmark = pytest.mark.integration


async def test_fills_during_a_stream_drop_are_recovered_once(
    clean_sim: Sim, sessions: async_sessionmaker[AsyncSession], database_url: str, redis_url: str, tmp_path: Path
) -> None:
    async with running_execution(
        clean_sim, database_url, redis_url, tmp_path, redis_db_index=13, TITAN_WS_STABLE_S="2"
    ) as execution:
        adapter = BybitAdapter(BybitConfig(clean_sim.url, clean_sim.api_key, clean_sim.api_secret))
        try:
            await arm(sessions, True)
            producer = StreamProducer(execution.redis, INTENTS)
            first = entry("BTCUSDT", "0.010", "0.1")
            await producer.publish(first)
            await asyncio.sleep(1.0)
            # the stream drops; the next orders fill while it is down or reconnecting
            dropped = clean_sim.control("POST", "/faults", {"ws_disconnect": True})
            assert int(str(dropped["ws_disconnected"])) >= 1  # our private socket really went down
            later = [entry("ETHUSDT", "0.10", "0.1"), entry("SOLUSDT", "1", "0.1")]
            for item in later:
                await producer.publish(item)
            all_intents = [first, *later]
            deadline = time.monotonic() + 45
            while time.monotonic() < deadline:
                async with sessions() as session:
                    states = (
                        await session.scalars(
                            select(OrderIntentRow.state).where(
                                OrderIntentRow.intent_id.in_([i.intent_id for i in all_intents])
                            )
                        )
                    ).all()
                if len(states) == 3 and set(states) == {"FILLED"}:
                    break
                await asyncio.sleep(0.3)
            assert sorted(states) == ["FILLED"] * 3
            # every execution the venue made for our orders is recorded exactly once. An intent's
            # FILLED comes from its re-asked order report; its fills from the executions catch-up,
            # which on a loaded machine may land a poll later: wait for them, bounded
            ours = {i.client_order_id for i in all_intents}
            deadline = time.monotonic() + 30
            while True:
                venue = [
                    e for e in await adapter.executions_since(first.ts_ms - 5_000) if e.exec_type is ExecType.TRADE
                ]
                venue_ids = sorted(e.exec_id for e in venue if e.client_order_id in ours)
                async with sessions() as session:
                    recorded = sorted(
                        (
                            await session.scalars(
                                select(FillRow.exec_id).where(FillRow.exchange == execution.env["TITAN_EXCHANGE"])
                            )
                        ).all()
                    )
                    per_exec = (
                        await session.execute(
                            select(FillRow.exec_id, func.count())
                            .where(FillRow.exchange == execution.env["TITAN_EXCHANGE"])
                            .group_by(FillRow.exec_id)
                        )
                    ).all()
                if recorded == venue_ids or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.5)
            assert recorded == venue_ids
            assert all(count == 1 for _exec_id, count in per_exec)
            body = wait_for_health(execution.url, timeout=30)  # stable again: WS_DOWN cleared
            assert body["mode"] == "NORMAL"
            # the reconnect is counted, and it caused a reconcile (REST decides what the stream missed)
            metrics_text = httpx.get(execution.url + "/metrics").text
            assert metric_value(metrics_text, "titan_execution_ws_reconnects_total") >= 1
            status = httpx.get(execution.url + "/api/state/reconciliation-status").json()
            # ...which found no drift: fills in flight are caught up over REST before the
            # snapshot, so Titan's own fresh positions are never "adopted" (and then doubled)
            after_reconnect = [run["status"] for run in status["recent"] if run["trigger"] == "WS_RECONNECT"]
            assert after_reconnect
            assert set(after_reconnect) == {"OK"}
        finally:
            await arm(sessions, False)
            await adapter.close()
