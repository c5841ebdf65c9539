"""The execution engine against the simulator over real HTTP, on real Postgres.

Each test gets its own exchange name in our tables, and a reset simulator.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal as D

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.execution.conftest import Sim, arm, entry
from titan_common.db.models import AuditEvent, OrderIntentRow
from titan_common.messages import IntentState
from titan_common.reasons import ReasonCode
from titan_execution.runtime import store
from titan_execution.runtime.engine import ExecutionEngine

pytestmark = pytest.mark.integration
S = IntentState


async def intent_row(sessions: async_sessionmaker[AsyncSession], intent_id: str) -> OrderIntentRow:
    async with sessions() as session:
        row = await session.get(OrderIntentRow, intent_id)
        assert row is not None
        return row


async def test_armed_entry_is_sent_once_with_its_stop_then_filled(
    engine: ExecutionEngine, clean_sim: Sim, sessions: async_sessionmaker[AsyncSession]
) -> None:
    it = entry()
    outcome = await engine.handle_intent(it)
    assert outcome.state is S.CONFIRMED
    assert clean_sim.orders_for(it.client_order_id) == 1
    order = await engine.adapter.order_by_client_id("BTCUSDT", it.client_order_id)
    assert order is not None
    assert order.stop_loss == D(1000)
    # the audit row of the send was committed (it is what allowed the send)
    async with sessions() as session:
        audit = await session.scalar(
            select(AuditEvent).where(AuditEvent.order_intent_id == it.intent_id, AuditEvent.event_type == "ORDER_SEND")
        )
    assert audit is not None
    assert audit.stage == "SENT_UNKNOWN"
    # the fill arrives (here over REST) and becomes a position; the order report finishes the intent
    for execution in await engine.adapter.executions_since(it.ts_ms - 1000, "BTCUSDT"):
        await engine.on_execution(execution, "REST")
    await engine.apply_order_update(order)
    assert (await intent_row(sessions, it.intent_id)).state == S.FILLED
    assert engine.book.position("BTCUSDT").size == D("0.010")


async def test_disarmed_entry_is_refused_and_never_sent(
    engine: ExecutionEngine, clean_sim: Sim, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await arm(sessions, False)
    it = entry()
    outcome = await engine.handle_intent(it)
    assert outcome.state is S.REJECTED
    assert outcome.reasons == [ReasonCode.MASTER_DISARMED]
    assert clean_sim.orders_for(it.client_order_id) == 0
    row = await intent_row(sessions, it.intent_id)
    assert (row.state, row.state_reason) == (S.REJECTED, "MASTER_DISARMED")


async def test_stale_and_unknown_symbol_are_refused(engine: ExecutionEngine, clean_sim: Sim) -> None:
    stale = entry(ttl_ms=1)
    await asyncio.sleep(0.01)
    assert (await engine.handle_intent(stale)).reasons == [ReasonCode.SIGNAL_STALE]
    unknown = entry(symbol="NOPEUSDT")
    assert (await engine.handle_intent(unknown)).reasons == [ReasonCode.SYMBOL_QUARANTINED]
    assert clean_sim.orders_for(stale.client_order_id) == clean_sim.orders_for(unknown.client_order_id) == 0


async def test_qty_below_min_is_refused_with_its_reason(engine: ExecutionEngine, clean_sim: Sim) -> None:
    tiny = entry(qty="0.0004")
    assert (await engine.handle_intent(tiny)).reasons == [ReasonCode.SIZE_ZERO]
    assert clean_sim.orders_for(tiny.client_order_id) == 0


async def test_a_redelivered_intent_is_never_sent_twice(engine: ExecutionEngine, clean_sim: Sim) -> None:
    it = entry()
    first, second = await engine.handle_intent(it), await engine.handle_intent(it)
    assert first.state is S.CONFIRMED
    assert second.reasons == [ReasonCode.DUPLICATE_INTENT]
    assert clean_sim.orders_for(it.client_order_id) == 1


async def test_dropped_response_stays_unknown_and_is_resolved_by_query_not_resent(
    engine: ExecutionEngine, clean_sim: Sim, sessions: async_sessionmaker[AsyncSession]
) -> None:
    clean_sim.control("POST", "/faults", {"drop_response": True})
    it = entry()
    outcome = await engine.handle_intent(it)
    assert outcome.state is S.SENT_UNKNOWN
    assert (await intent_row(sessions, it.intent_id)).state == S.SENT_UNKNOWN
    clean_sim.control("DELETE", "/faults")
    await engine.resolve_unknown()
    assert (await intent_row(sessions, it.intent_id)).state in (S.CONFIRMED, S.FILLED)
    assert clean_sim.orders_for(it.client_order_id) == 1


async def test_never_received_order_is_not_found_only_after_repeated_lookups(
    engine: ExecutionEngine, clean_sim: Sim, sessions: async_sessionmaker[AsyncSession]
) -> None:
    it = entry()
    # as if we crashed right after committing SENT_UNKNOWN, before the request left
    async with sessions() as session, session.begin():
        await store.ensure_intent(session, it)
        await store.move_intent(session, it.intent_id, S.CREATED, S.SENT_UNKNOWN)
    for expected_attempts in (1, 2):
        await engine.resolve_unknown()
        row = await intent_row(sessions, it.intent_id)
        assert (row.state, row.lookup_attempts) == (S.SENT_UNKNOWN, expected_attempts)
    await engine.resolve_unknown()
    assert (await intent_row(sessions, it.intent_id)).state == S.NOT_FOUND
    assert clean_sim.orders_for(it.client_order_id) == 0  # resolved by asking, never by resending


async def test_fills_seen_on_ws_and_rest_are_applied_once(engine: ExecutionEngine, clean_sim: Sim) -> None:
    it = entry(symbol="ETHUSDT", qty="0.10")
    assert (await engine.handle_intent(it)).state is S.CONFIRMED
    executions = await engine.adapter.executions_since(it.ts_ms - 1000, "ETHUSDT")
    assert executions
    applied = [await engine.on_execution(e, "WS") for e in executions]
    again = [await engine.on_execution(e, "REST") for e in executions]
    assert all(applied)
    assert not any(again)
    assert engine.book.position("ETHUSDT").size == D("0.10")
