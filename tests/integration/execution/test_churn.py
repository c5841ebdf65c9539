"""Churn: cancels and stop replacements per symbol are counted; over the limit, entries on
that symbol are refused and the service degrades with RISK_CHURN_LIMIT_HIT."""

from __future__ import annotations

import uuid
from decimal import Decimal as D

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.execution.conftest import Sim, entry
from titan_common.messages import IntentState, OrderType
from titan_common.reasons import ReasonCode
from titan_execution.runtime.engine import EngineConfig, ExecutionEngine

pytestmark = pytest.mark.integration
S = IntentState


async def test_cancels_over_the_limit_block_entries_on_that_symbol(
    engine: ExecutionEngine, clean_sim: Sim, sessions: async_sessionmaker[AsyncSession]
) -> None:
    reasons: list[tuple[ReasonCode, bool]] = []
    churny = ExecutionEngine(
        config=EngineConfig(
            exchange=f"sim-{uuid.uuid4().hex[:8]}", run_id="churn-test", churn_limit_10s=2, churn_limit_60s=10
        ),
        sessions=sessions,
        adapter=engine.adapter,
        on_reason=lambda reason, active: reasons.append((reason, active)),
    )
    await churny.load()
    # three resting limit buys far below the market, each cancelled on the exchange
    for _ in range(3):
        it = entry().model_copy(update={"order_type": OrderType.LIMIT, "price": D(1000), "stop_loss": D(900)})
        assert (await churny.handle_intent(it)).state is S.CONFIRMED
        await churny.adapter.cancel_order("BTCUSDT", client_order_id=it.client_order_id)
        order = await churny.adapter.order_by_client_id("BTCUSDT", it.client_order_id)
        assert order is not None
        assert await churny.apply_order_update(order) is S.CANCELLED
    assert reasons == [(ReasonCode.RISK_CHURN_LIMIT_HIT, True)]
    # a new entry on the churning symbol is refused, and never sent; another symbol is not affected
    refused = entry()
    outcome = await churny.handle_intent(refused)
    assert outcome.state is S.REJECTED
    assert outcome.reasons == [ReasonCode.RISK_CHURN_LIMIT_HIT]
    assert clean_sim.orders_for(refused.client_order_id) == 0
    assert churny.churn.symbols_over_limit(0 + 10**15) == set()  # it calms once the windows pass
