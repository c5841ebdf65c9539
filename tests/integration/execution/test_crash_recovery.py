"""Acceptance (a): execution is SIGKILLed after committing SENT_UNKNOWN and before the ack.

Two ways the world can be when that happens, and both end with nothing sent twice:
- the venue executed the order and its answer was lost (`drop_response`): after a restart
  the order exists exactly once, the intent is resolved, and the position is protected;
- the request never reached the venue (it hung in `latency_ms` when the client died): the
  intent is declared NOT_FOUND after repeated lookups, and no order exists.

Execution runs as a real process; the intent travels on the real Redis stream.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from decimal import Decimal as D
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.execution.conftest import Sim, arm, entry, running_execution
from titan_common.bus import INTENTS, StreamProducer
from titan_common.db.models import OrderIntentRow
from titan_common.exchanges.bybit import BybitAdapter, BybitConfig
from titan_common.messages import IntentState

pytestmark = pytest.mark.integration


async def wait_for_state(
    sessions: async_sessionmaker[AsyncSession], intent_id: str, states: set[IntentState], timeout: float
) -> IntentState:
    deadline = time.monotonic() + timeout
    state = None
    while time.monotonic() < deadline:
        async with sessions() as session:
            row = await session.get(OrderIntentRow, intent_id)
        state = IntentState(row.state) if row else None
        if state in states:
            return state
        await asyncio.sleep(0.05)
    raise AssertionError(f"intent {intent_id} stayed {state}, wanted {states}")


@pytest.mark.parametrize(
    ("fault", "order_arrives"),
    [({"drop_response": True}, True), ({"latency_ms": 3000}, False)],
    ids=["answer-lost", "request-lost"],
)
async def test_kill_after_write_ahead_then_restart_never_sends_twice(
    fault: dict[str, object],
    order_arrives: bool,
    clean_sim: Sim,
    sessions: async_sessionmaker[AsyncSession],
    database_url: str,
    redis_url: str,
    tmp_path: Path,
) -> None:
    async with running_execution(
        clean_sim, database_url, redis_url, tmp_path, redis_db_index=11, TITAN_RUN_ID="crash-test"
    ) as execution:
        try:
            await arm(sessions, True)
            clean_sim.control("POST", "/faults", fault)
            intent = entry(run_id="crash-test")
            intent_id = intent.intent_id
            await StreamProducer(execution.redis, INTENTS).publish(intent)

            # the write-ahead is committed and the HTTP answer has not come (it is held or hanging):
            # kill -9 now. With the answer lost, the venue's private stream may already have
            # moved the intent on by the time we look; the ack itself is still outstanding.
            past_write_ahead = {IntentState.SENT_UNKNOWN, IntentState.CONFIRMED, IntentState.FILLED}
            await wait_for_state(sessions, intent_id, past_write_ahead, timeout=20)
            if order_arrives:
                # the request may still be on its way (a loaded machine): the world this case
                # stands for is the venue holding the order and its answer lost, so wait for it
                deadline = time.monotonic() + 20
                while clean_sim.orders_for(intent.client_order_id) == 0 and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                assert clean_sim.orders_for(intent.client_order_id) == 1
            os.kill(execution.process.pid, signal.SIGKILL)
            execution.process.wait(10)
            clean_sim.control("DELETE", "/faults")

            execution.start()  # the supervisor's restart
            adapter = BybitAdapter(BybitConfig(clean_sim.url, clean_sim.api_key, clean_sim.api_secret))
            try:
                if order_arrives:
                    resolved = {IntentState.CONFIRMED, IntentState.FILLED}
                    assert await wait_for_state(sessions, intent_id, resolved, timeout=30) in resolved
                    assert clean_sim.orders_for(intent.client_order_id) == 1  # exactly once, never resent
                    live = {p.symbol: p for p in await adapter.positions() if p.size > 0}
                    assert live["BTCUSDT"].size == D("0.010")
                    assert live["BTCUSDT"].stop_loss == D(1000)  # protected from the moment it exists
                else:
                    await wait_for_state(sessions, intent_id, {IntentState.NOT_FOUND}, timeout=30)
                    assert clean_sim.orders_for(intent.client_order_id) == 0  # declared missing, not resent
                    assert [p for p in await adapter.positions() if p.size > 0] == []
            finally:
                await adapter.close()
        finally:
            await arm(sessions, False)
