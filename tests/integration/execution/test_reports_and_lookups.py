"""What execution concludes from the venue's answers, and from the lack of one.

- A send still on the wire is never looked up, so it can never be declared NOT_FOUND.
- Only retCodes known to be refusals end an intent as FAILED_TERMINAL; an unknown one leaves
  its outcome unknown, resolved by query and never resent.
- An order report older than the one on record changes nothing, and never raises.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.execution.conftest import Sim, entry
from titan_common.db.models import OrderIntentRow, OrderRow
from titan_common.exchanges import OrderStatus
from titan_common.messages import IntentState
from titan_execution.runtime.engine import ExecutionEngine

pytestmark = pytest.mark.integration


async def intent_row(sessions: async_sessionmaker[AsyncSession], intent_id: str) -> OrderIntentRow:
    async with sessions() as session:
        row = await session.scalar(select(OrderIntentRow).where(OrderIntentRow.intent_id == intent_id))
    assert row is not None
    return row


async def test_a_send_in_flight_is_never_looked_up(
    engine: ExecutionEngine, clean_sim: Sim, sessions: async_sessionmaker[AsyncSession]
) -> None:
    clean_sim.control("POST", "/faults", {"latency_ms": 1500})
    intent = entry("ETHUSDT", "0.10", "1")
    sending = asyncio.create_task(engine.handle_intent(intent))
    try:
        while intent.intent_id not in engine.in_flight:
            assert not sending.done(), sending
            await asyncio.sleep(0.01)
        for _ in range(4):  # more than not_found_after lookups, with no minimum age
            assert await engine.resolve_unknown() == 0
        row = await intent_row(sessions, intent.intent_id)
        assert (row.state, row.lookup_attempts) == ("SENT_UNKNOWN", 0)
    finally:
        outcome = await sending
        clean_sim.control("DELETE", "/faults")
    assert outcome.state in (IntentState.CONFIRMED, IntentState.FILLED)
    assert clean_sim.orders_for(intent.client_order_id) == 1


async def test_an_unknown_ret_code_leaves_the_outcome_unknown_and_is_resolved_by_query(
    engine: ExecutionEngine, clean_sim: Sim, sessions: async_sessionmaker[AsyncSession]
) -> None:
    clean_sim.control("POST", "/faults", {"fail_paths": ["/v5/order/create"], "ret_code": 170999})
    intent = entry("ETHUSDT", "0.10", "1")
    outcome = await engine.handle_intent(intent)
    clean_sim.control("DELETE", "/faults")
    assert outcome.state is IntentState.SENT_UNKNOWN  # not FAILED_TERMINAL: the code proves nothing
    for _ in range(engine.config.not_found_after):
        await engine.resolve_unknown()
    row = await intent_row(sessions, intent.intent_id)
    assert row.state == "NOT_FOUND"  # asked, never resent
    assert clean_sim.orders_for(intent.client_order_id) == 0


async def test_a_stale_order_report_changes_nothing(
    engine: ExecutionEngine, clean_sim: Sim, sessions: async_sessionmaker[AsyncSession]
) -> None:
    intent = entry("ETHUSDT", "0.10", "1")
    await engine.handle_intent(intent)
    report = await engine.adapter.order_by_client_id("ETHUSDT", intent.client_order_id)
    assert report is not None
    assert report.status is OrderStatus.FILLED
    assert await engine.apply_order_update(report) is IntentState.FILLED
    late = replace(report, status=OrderStatus.NEW, cum_exec_qty=report.qty * 0, updated_ms=report.updated_ms - 1_000)
    assert await engine.apply_order_update(late) is IntentState.FILLED  # ignored, no raise
    async with sessions() as session:
        order = await session.scalar(select(OrderRow).where(OrderRow.client_order_id == intent.client_order_id))
    assert order is not None
    assert order.status == OrderStatus.FILLED  # the record is not rolled back either
    contradicting = replace(report, status=OrderStatus.NEW, updated_ms=report.updated_ms + 1_000)
    assert await engine.apply_order_update(contradicting) is IntentState.FILLED  # logged, no raise
    assert (await intent_row(sessions, intent.intent_id)).state == "FILLED"
