"""Execution's persistence on real Postgres: conditional transitions and idempotent fills."""

from __future__ import annotations

import asyncio
from decimal import Decimal as D

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.execution.conftest import entry
from titan_common.exchanges.types import ExecType, Execution
from titan_common.messages import IntentState, Side, new_id
from titan_execution.core.intent_states import IllegalTransition
from titan_execution.core.positions import Fill, Position, apply_fill
from titan_execution.runtime import store

pytestmark = pytest.mark.integration
S = IntentState


async def test_ensure_intent_is_idempotent(sessions: async_sessionmaker[AsyncSession]) -> None:
    it = entry()
    async with sessions() as session, session.begin():
        assert await store.ensure_intent(session, it) is S.CREATED
        assert await store.move_intent(session, it.intent_id, S.CREATED, S.SENT_UNKNOWN)
    async with sessions() as session, session.begin():
        # a redelivered intent finds the row where it was left
        assert await store.ensure_intent(session, it) is S.SENT_UNKNOWN


async def test_only_one_racing_transition_wins(sessions: async_sessionmaker[AsyncSession]) -> None:
    it = entry()
    async with sessions() as session, session.begin():
        await store.ensure_intent(session, it)
        await store.move_intent(session, it.intent_id, S.CREATED, S.SENT_UNKNOWN)

    async def resolve(target: IntentState) -> bool:
        async with sessions() as session, session.begin():
            return await store.move_intent(session, it.intent_id, S.SENT_UNKNOWN, target)

    results = await asyncio.gather(resolve(S.CONFIRMED), resolve(S.NOT_FOUND), resolve(S.CONFIRMED))
    assert sorted(results) == [False, False, True]


async def test_illegal_transition_raises_before_writing(sessions: async_sessionmaker[AsyncSession]) -> None:
    it = entry()
    async with sessions() as session, session.begin():
        await store.ensure_intent(session, it)
    with pytest.raises(IllegalTransition):
        async with sessions() as session, session.begin():
            await store.move_intent(session, it.intent_id, S.CREATED, S.FILLED)
    async with sessions() as session:
        assert await store.intent_state(session, it.intent_id) is S.CREATED


async def test_a_fill_is_recorded_once_whatever_the_source(sessions: async_sessionmaker[AsyncSession]) -> None:
    execution = Execution(
        exec_id=new_id(),
        order_id="o1",
        client_order_id="t-x",
        symbol="BTCUSDT",
        side=Side.BUY,
        price=D("50000"),
        qty=D("0.01"),
        fee=D("0.275"),
        exec_type=ExecType.TRADE,
        is_maker=False,
        ts_ms=5,
    )

    async def record(source: str) -> bool:
        async with sessions() as session, session.begin():
            return await store.record_fill(session, "bybit", execution, source)

    results = await asyncio.gather(record("WS"), record("REST"), record("WS"))
    assert sorted(results) == [False, False, True]


async def test_positions_round_trip_through_the_database(sessions: async_sessionmaker[AsyncSession]) -> None:
    position = Position("SOLUSDT", side=Side.SELL, size=D("3"), avg_entry=D("150.5"), fees=D("0.1"), stop_loss=D(160))
    async with sessions() as session, session.begin():
        await store.save_position(session, "bybit", position, mark_price=D(150))
    async with sessions() as session:
        loaded = {p.symbol: p for p in await store.load_positions(session, "bybit")}
    sol = loaded["SOLUSDT"]
    assert (sol.side, sol.size, sol.avg_entry, sol.stop_loss) == (Side.SELL, D(3), D("150.5"), D(160))


async def test_a_round_trip_in_progress_survives_a_restart(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Its qty, entry, exits so far and first stop come back with it, and a leverage Titan set."""
    opened, _ = apply_fill(Position("ADAUSDT", stop_loss=D("0.40"), leverage=4),
                           Fill("a1", "ADAUSDT", Side.BUY, D(200), D("0.50"), D("0.05"), 1))  # fmt: skip
    partly, _ = apply_fill(opened, Fill("a2", "ADAUSDT", Side.SELL, D(100), D("0.55"), D("0.03"), 2))
    async with sessions() as session, session.begin():
        await store.save_position(session, "trip-test", partly)
    async with sessions() as session:
        [loaded] = await store.load_positions(session, "trip-test")
    assert (loaded.trip_max_size, loaded.trip_exit_qty, loaded.trip_pnl) == (D(200), D(100), D(5))
    assert (loaded.trip_initial_stop, loaded.leverage) == (D("0.40"), 4)
    _, trade = apply_fill(loaded, Fill("a3", "ADAUSDT", Side.SELL, D(100), D("0.60"), D("0.03"), 3))
    assert trade is not None
    assert (trade.qty, trade.entry_price, trade.exit_price, trade.pnl) == (D(200), D("0.50"), D("0.575"), D(15))


async def test_an_order_report_never_steps_back_and_keeps_its_intent(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    from sqlalchemy import select

    from titan_common.db.models import OrderRow
    from titan_common.exchanges.types import ExchangeOrder, OrderStatus

    it = entry()
    async with sessions() as session, session.begin():
        await store.ensure_intent(session, it)

    def report(status: OrderStatus, updated_ms: int, filled: str) -> ExchangeOrder:
        return ExchangeOrder(
            order_id=f"o-{it.intent_id}", client_order_id=it.client_order_id, symbol=it.symbol, side=it.side,
            order_type="Market", qty=it.qty, price=None, status=status, avg_price=D("100"),
            cum_exec_qty=D(filled), leaves_qty=it.qty - D(filled), reduce_only=False, stop_loss=None,
            take_profit=None, trigger_price=None, created_ms=1_000, updated_ms=updated_ms,
        )  # fmt: skip

    async with sessions() as session, session.begin():
        assert await store.upsert_order(session, "bybit", report(OrderStatus.NEW, 1_000, "0"), it.intent_id)
    async with sessions() as session, session.begin():
        # a later report that names no intent (a REST query's) moves the order, not its intent
        assert await store.upsert_order(session, "bybit", report(OrderStatus.FILLED, 2_000, str(it.qty)), None)
    async with sessions() as session, session.begin():
        # an older report arriving late changes nothing
        assert not await store.upsert_order(session, "bybit", report(OrderStatus.NEW, 1_500, "0"), None)
    async with sessions() as session:
        row = await session.scalar(select(OrderRow).where(OrderRow.exchange_order_id == f"o-{it.intent_id}"))
    assert row is not None
    assert (row.status, row.intent_id, row.updated_ms, row.created_ms) == ("FILLED", it.intent_id, 2_000, 1_000)
    assert row.cum_exec_qty == it.qty
