"""Operator actions against the simulator: flatten all closes everything, cancels every
order, disarms, is recorded with the operator's id, and is harmless to repeat."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.execution.conftest import Sim, entry
from titan_common.clock import now_ms
from titan_common.db.models import OperatorAction, SystemFlag
from titan_common.exchanges import PlaceOrder
from titan_common.flags import KILL_SWITCH, read_master_arm
from titan_common.messages import OrderType, Side, client_order_id_for, new_id
from titan_common.reasons import ReasonCode
from titan_common.service import ServiceRuntime
from titan_common.settings import CommonSettings
from titan_execution.runtime import operator_actions
from titan_execution.runtime.engine import ExecutionEngine
from titan_execution.runtime.master_arm import KillSwitchEngaged

pytestmark = pytest.mark.integration


@pytest.fixture
def runtime(sessions: async_sessionmaker[AsyncSession]) -> ServiceRuntime:
    rt = ServiceRuntime(name="execution", settings=CommonSettings(), needs_db=False, needs_redis=False)
    rt.sessions = sessions
    return rt


async def test_flatten_all_with_three_positions_then_again(
    engine: ExecutionEngine, clean_sim: Sim, runtime: ServiceRuntime, sessions: async_sessionmaker[AsyncSession]
) -> None:
    for symbol, side, size in (("BTCUSDT", "Buy", "0.01"), ("ETHUSDT", "Sell", "0.2"), ("SOLUSDT", "Buy", "3")):
        clean_sim.control("POST", "/positions", {"symbol": symbol, "side": side, "size": size})
    book = await engine.adapter.positions()
    bid = next(p for p in book if p.symbol == "BTCUSDT").mark_price
    assert bid is not None
    await engine.adapter.place_order(
        PlaceOrder(
            symbol="BTCUSDT",
            side=Side.BUY,
            qty=D("0.001") * 10,
            client_order_id=client_order_id_for(new_id()),
            order_type=OrderType.LIMIT,
            price=(bid * D("0.9")).quantize(D("0.1")),
        )
    )
    assert len(await engine.adapter.open_orders()) == 1

    result = await operator_actions.flatten_all(runtime, engine, "ops-7")
    assert result["success"] is True
    assert result["positions_closed"] == 3
    assert sorted(r["symbol"] for r in result["results"]) == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    assert all(r["success"] for r in result["results"])
    assert [p for p in await engine.adapter.positions() if p.size > 0] == []
    assert await engine.adapter.open_orders() == []
    async with sessions() as session:
        assert await read_master_arm(session) is False
        recorded = await session.scalar(
            select(OperatorAction).where(OperatorAction.action == "FLATTEN_ALL").order_by(OperatorAction.id.desc())
        )
    assert recorded is not None
    assert recorded.operator_id == "ops-7"
    assert recorded.result["positions_closed"] == 3

    again = await operator_actions.flatten_all(runtime, engine, "ops-7")
    assert again == {**again, "success": True, "positions_closed": 0, "results": []}


async def test_cancel_all_and_close_one(engine: ExecutionEngine, clean_sim: Sim, runtime: ServiceRuntime) -> None:
    clean_sim.control("POST", "/positions", {"symbol": "ETHUSDT", "side": "Buy", "size": "0.5"})
    clean_sim.control("POST", "/positions", {"symbol": "SOLUSDT", "side": "Sell", "size": "2"})
    closed = await operator_actions.close_symbol(runtime, engine, "ops-1", "ETHUSDT")
    assert closed == {"success": True, "symbol": "ETHUSDT", "positions_closed": 1}
    remaining = {p.symbol for p in await engine.adapter.positions() if p.size > 0}
    assert remaining == {"SOLUSDT"}
    assert (await operator_actions.close_symbol(runtime, engine, "ops-1", "ETHUSDT"))["positions_closed"] == 0
    assert (await operator_actions.cancel_all(runtime, engine, "ops-1"))["success"] is True


async def test_a_disarm_not_yet_in_postgres_still_refuses_entries(
    engine: ExecutionEngine, clean_sim: Sim, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Postgres says armed (the flatten's disarm is still waiting to be written), yet the
    latch in memory refuses the entry: nothing reaches the venue."""
    async with sessions() as session:
        assert await read_master_arm(session) is True
    engine.disarm_latched = True
    try:
        intent = entry("ETHUSDT", "0.10", "1")
        outcome = await engine.handle_intent(intent)
    finally:
        engine.disarm_latched = False
    assert outcome.state.value == "REJECTED"
    assert ReasonCode.MASTER_DISARMED in outcome.reasons
    assert clean_sim.orders_for(intent.client_order_id) == 0


async def _kill_switch(sessions: async_sessionmaker[AsyncSession], engaged: bool) -> None:
    """The console's flag, set as the console sets it (the test stands in for the console)."""
    values = {"name": KILL_SWITCH, "value": {"engaged": engaged}, "updated_ms": now_ms(), "updated_by": "test"}
    async with sessions() as session, session.begin():
        statement = insert(SystemFlag).values(**values)
        await session.execute(statement.on_conflict_do_update(index_elements=["name"], set_=values))


async def test_execution_arms_on_record_and_never_while_the_kill_switch_is_engaged(
    engine: ExecutionEngine, runtime: ServiceRuntime, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Execution is master arm's one writer: the console's arm lands here."""
    await operator_actions.set_arm(runtime, engine, "ops-8", enabled=False, reason="start disarmed")
    await _kill_switch(sessions, True)
    try:
        with pytest.raises(KillSwitchEngaged):
            await operator_actions.set_arm(runtime, engine, "ops-9", enabled=True, reason="console")
        async with sessions() as session:
            assert await read_master_arm(session) is False
    finally:
        await _kill_switch(sessions, False)
    armed = await operator_actions.set_arm(runtime, engine, "ops-9", enabled=True, reason="console")
    assert (armed["master_arm"], armed["previous_state"], armed["persisted"]) == (True, False, True)
    async with sessions() as session:
        assert await read_master_arm(session) is True
        record = await session.scalar(
            select(OperatorAction)
            .where(OperatorAction.action == "MASTER_ARM", OperatorAction.operator_id == "ops-9")
            .order_by(OperatorAction.id.desc())
        )
    assert record is not None
    assert record.result == {"previous_state": False, "master_arm": True}
    await operator_actions.set_arm(runtime, engine, "ops-9", enabled=False, reason="test over")
