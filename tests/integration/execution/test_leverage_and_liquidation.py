"""Leverage is Titan's decision, and a liquidation is a close.

- An entry runs at the leverage the brain decided, whatever the account had on the venue
  (50x here); when the venue will not set it, the entry is refused and nothing is sent.
- A position the venue liquidates leaves no shadow position: TRADE_CLOSED carries the real
  loss, marked as a liquidation, an alert is raised, and the brain counts it as a loss.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from decimal import Decimal as D

import pytest
from pydantic import BaseModel
from sqlalchemy import select

from tests.integration.execution.conftest import Sim, entry
from titan_brain.runtime.feeds import apply_event
from titan_brain.runtime.state import BrainState
from titan_brain.settings import BrainSettings
from titan_common.clock import now_ms
from titan_common.config import ActiveConfig, TradingConfig
from titan_common.db.models import Alert, OrderIntentRow
from titan_common.events import EventType, TradeClosed, payload_of
from titan_common.exchanges import ExecType
from titan_common.messages import Event, OrderIntent, Side, exit_intent
from titan_common.reasons import ReasonCode
from titan_execution.runtime.engine import ExecutionEngine
from titan_execution.runtime.protection import alert_venue_closes

pytestmark = pytest.mark.integration
SYMBOL = "BTCUSDT"


async def stream_fills(engine: ExecutionEngine) -> None:
    async for event in engine.adapter.private_events():  # type: ignore[attr-defined]
        for execution in event.executions:
            await engine.on_execution(execution, "WS")


@pytest.fixture
async def streaming(engine: ExecutionEngine) -> AsyncIterator[list[tuple[EventType, BaseModel]]]:
    """The engine with its private stream applied, and every event it announces."""
    events: list[tuple[EventType, BaseModel]] = []
    engine.on_event = lambda kind, payload: events.append((kind, payload))
    task = asyncio.create_task(stream_fills(engine))
    await asyncio.sleep(0.5)  # subscribed
    yield events
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


async def venue_leverage(engine: ExecutionEngine) -> D | None:
    for position in await engine.adapter.positions():
        if position.symbol == SYMBOL:
            return position.leverage
    return None


async def until(probe: object, timeout: float = 15.0, what: str = "") -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not probe():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, f"never: {what}"
        await asyncio.sleep(0.05)


async def test_an_entry_runs_at_the_decided_leverage_not_the_accounts(
    engine: ExecutionEngine, clean_sim: Sim, streaming: list[tuple[EventType, BaseModel]]
) -> None:
    await engine.adapter.set_leverage(SYMBOL, 50)  # what the account had
    price = await engine.adapter.last_price(SYMBOL)
    intent = replace_leverage(entry(SYMBOL, "0.010", str((price * D("0.97")).quantize(D(1))), reference=price), 4)
    outcome = await engine.handle_intent(intent)
    assert outcome.state.value in ("CONFIRMED", "FILLED"), outcome
    await until(lambda: not engine.book.position(SYMBOL).is_flat, what="the entry filled")
    assert await venue_leverage(engine) == D(4)
    assert engine.book.position(SYMBOL).leverage == 4


async def test_when_the_leverage_cannot_be_set_the_entry_is_refused_and_nothing_is_sent(
    engine: ExecutionEngine, clean_sim: Sim, sessions
) -> None:  # type: ignore[no-untyped-def]
    clean_sim.control("POST", "/faults", {"fail_paths": ["/v5/position/set-leverage"]})
    intent = replace_leverage(entry(SYMBOL, "0.010", "1000"), 4)
    outcome = await engine.handle_intent(intent)
    assert outcome.state.value == "REJECTED"
    assert outcome.reasons == [ReasonCode.LEVERAGE_NOT_SET]
    assert clean_sim.orders_for(intent.client_order_id) == 0
    async with sessions() as session:
        row = await session.scalar(select(OrderIntentRow).where(OrderIntentRow.intent_id == intent.intent_id))
    assert row is not None
    assert (row.state, row.state_reason) == ("REJECTED", "LEVERAGE_NOT_SET")


async def test_a_liquidation_closes_the_shadow_position_with_its_real_loss(
    engine: ExecutionEngine, clean_sim: Sim, streaming: list[tuple[EventType, BaseModel]], sessions
) -> None:  # type: ignore[no-untyped-def]
    price = await engine.adapter.last_price(SYMBOL)
    stop = (price * D("0.975")).quantize(D(1))  # a 2.5% stop: beyond the 2% to the bust at 50x
    started = now_ms()
    outcome = await engine.handle_intent(replace_leverage(entry(SYMBOL, "0.010", str(stop), reference=price), 50))
    assert outcome.state.value in ("CONFIRMED", "FILLED"), outcome
    await until(lambda: not engine.book.position(SYMBOL).is_flat, what="the entry filled")
    clean_sim.control("POST", f"/market/{SYMBOL}/burst", {"pct": -4.0, "trades": 40, "window_ms": 200})
    await until(lambda: engine.book.position(SYMBOL).is_flat, what="the liquidation reached the book")
    # the book turns flat inside the fill's transaction; the trade is announced after its commit
    await until(
        lambda: any(kind is EventType.TRADE_CLOSED for kind, _ in streaming), what="the liquidation's closed trade"
    )

    closed = [p for kind, p in streaming if kind is EventType.TRADE_CLOSED]
    assert len(closed) == 1
    trade = closed[0]
    assert isinstance(trade, TradeClosed)
    assert trade.closed_by is ExecType.LIQUIDATION
    assert trade.pnl < 0
    assert trade.exit_price > stop  # closed at the bust price, before the stop could act
    assert await venue_leverage(engine) in (None, D(50))
    # the alert an operator sees
    await alert_venue_closes(engine)
    async with sessions() as session:
        alerts = (
            await session.scalars(
                select(Alert).where(Alert.reason_code == "POSITION_LIQUIDATED", Alert.ts_ms >= started)
            )
        ).all()
    assert [a.severity for a in alerts if SYMBOL in a.message] == ["CRITICAL"]
    # the brain, fed the event as it arrives on titan:events, counts the loss
    brain = BrainState(
        settings=BrainSettings(database_url="postgresql://u@h/db", redis_url="redis://h:6379/0",
                               exchange=engine.config.exchange),
        config=ActiveConfig("t", TradingConfig(), 0, "t"),
    )  # fmt: skip
    event = Event(ts_ms=now_ms(), service="execution", event_type=EventType.TRADE_CLOSED, payload=payload_of(trade))
    assert apply_event(brain, event).trade is True
    assert brain.losses_in_a_row() == 1


def replace_leverage(intent: OrderIntent, leverage: int) -> OrderIntent:
    """The brain's decided leverage on an entry."""
    return intent.model_copy(update={"leverage": leverage})


async def test_a_symbols_leverage_is_set_once_and_again_only_when_the_decision_changes(
    engine: ExecutionEngine, clean_sim: Sim, streaming: list[tuple[EventType, BaseModel]]
) -> None:
    """The entry's hot path makes no leverage call the venue already has the answer to: the
    venue refuses every set-leverage after the first entry, and an entry at the same leverage
    still goes; one at another leverage asks, is refused, and nothing is sent."""

    async def round_trip(leverage: int) -> OrderIntent:
        price = await engine.adapter.last_price(SYMBOL)
        intent = replace_leverage(entry(SYMBOL, "0.010", str((price * D("0.97")).quantize(D(1))), reference=price),
                                  leverage)  # fmt: skip
        outcome = await engine.handle_intent(intent)
        assert outcome.state.value in ("CONFIRMED", "FILLED"), outcome
        await until(lambda: not engine.book.position(SYMBOL).is_flat, what="the entry filled")
        closing = exit_intent(SYMBOL, Side.BUY, D("0.010"), correlation=intent.correlation, origin="OPERATOR_CLOSE",
                              reference_price=price, ts_ms=now_ms())  # fmt: skip
        assert (await engine.handle_intent(closing)).state.value in ("CONFIRMED", "FILLED")
        await until(lambda: engine.book.position(SYMBOL).is_flat, what="the close filled")
        return intent

    await round_trip(4)
    clean_sim.control("POST", "/faults", {"fail_paths": ["/v5/position/set-leverage"]})
    second = await round_trip(4)  # no call: the venue has 4x from the first
    assert clean_sim.orders_for(second.client_order_id) == 1
    assert await venue_leverage(engine) in (None, D(4))

    price = await engine.adapter.last_price(SYMBOL)
    other = replace_leverage(entry(SYMBOL, "0.010", str((price * D("0.97")).quantize(D(1))), reference=price), 5)
    outcome = await engine.handle_intent(other)
    assert outcome.state.value == "REJECTED"
    assert outcome.reasons == [ReasonCode.LEVERAGE_NOT_SET]
    assert clean_sim.orders_for(other.client_order_id) == 0
