"""Reconciliation against the simulator: a position opened behind Titan's back is adopted,
protected, alerted on, and entries are blocked until a clean run."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.execution.conftest import Sim, entry
from titan_common.db.models import Alert, ReconcileDiff, ReconcileRun
from titan_common.messages import Side
from titan_common.reasons import ReasonCode
from titan_execution.core.reconcile import Action, Verdict
from titan_execution.runtime.engine import ExecutionEngine
from titan_execution.runtime.reconciler import Reconciler

pytestmark = pytest.mark.integration


@pytest.fixture
def reconciler(engine: ExecutionEngine) -> tuple[Reconciler, set[ReasonCode]]:
    active: set[ReasonCode] = set()

    def set_reason(reason: ReasonCode, on: bool) -> None:
        if on:
            active.add(reason)
        else:
            active.discard(reason)

    return Reconciler(engine, set_reason=set_reason), active


async def test_unknown_position_is_adopted_protected_alerted_then_clean(
    reconciler: tuple[Reconciler, set[ReasonCode]],
    clean_sim: Sim,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    rec, active = reconciler
    clean_sim.control("POST", "/positions", {"symbol": "SOLUSDT", "side": "Sell", "size": "2"})

    first = await rec.run("PERIODIC")
    assert first.verdict is Verdict.BAD  # adopted (WARN) and, until protected, unprotected (BAD)
    assert {(d.symbol, d.action) for d in first.diffs} >= {("SOLUSDT", Action.ADOPT), ("SOLUSDT", Action.PROTECT)}
    assert ReasonCode.DRIFT_LIMIT_EXCEEDED in active  # entries blocked
    shadow = rec.engine.book.position("SOLUSDT")
    assert (shadow.side, shadow.size) == (Side.SELL, D(2))
    exchange = {p.symbol: p for p in await rec.engine.adapter.positions()}["SOLUSDT"]
    assert exchange.stop_loss is not None
    assert exchange.stop_loss > exchange.avg_price  # a short's stop sits above its entry

    async with sessions() as session:
        alert = await session.scalar(
            select(Alert).where(Alert.alert_type == "RECONCILE_DRIFT").order_by(Alert.id.desc())
        )
        run = await session.get(ReconcileRun, first.run_id)
        diffs = (await session.scalars(select(ReconcileDiff).where(ReconcileDiff.run_id == first.run_id))).all()
    assert alert is not None
    assert "SOLUSDT" in alert.message
    assert run is not None
    assert run.status == "BAD"
    assert len(diffs) == len(first.diffs)

    second = await rec.run("PERIODIC")
    assert second.verdict is Verdict.OK
    assert second.diffs == []
    assert not active  # clean: entries allowed again


async def test_own_fills_in_flight_are_caught_up_not_adopted_then_doubled(
    reconciler: tuple[Reconciler, set[ReasonCode]], clean_sim: Sim
) -> None:
    """Titan's order filled on the exchange, but no stream has delivered the fill yet. The
    reconcile catches it up over REST first: no drift, and the late stream copy is ignored."""
    rec, active = reconciler
    it = entry("ETHUSDT", "0.10", "1")
    assert (await rec.engine.handle_intent(it)).state.value == "CONFIRMED"
    assert rec.engine.book.position("ETHUSDT").is_flat  # the fill has not reached us

    result = await rec.run("PERIODIC")
    assert result.verdict is Verdict.OK
    assert result.diffs == []
    assert not active
    assert rec.engine.book.position("ETHUSDT").size == D("0.10")
    # the stream's copy of the same fill, arriving late, changes nothing
    for execution in await rec.engine.adapter.executions_since(it.ts_ms - 1000, "ETHUSDT"):
        assert await rec.engine.on_execution(execution, "WS") is False
    assert rec.engine.book.position("ETHUSDT").size == D("0.10")
