"""Every position is protected; acceptance (h): when the stop cannot be set, the position is
closed with a reduce-only market order and the service pauses with PROTECTION_FAILED."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.execution.conftest import Sim
from titan_common.db.models import Alert
from titan_common.reasons import ReasonCode
from titan_common.system_state import MODE_FOR_REASON, Mode
from titan_execution.runtime.engine import ExecutionEngine
from titan_execution.runtime.protection import ensure_protected

pytestmark = pytest.mark.integration


async def test_missing_stop_is_set_on_the_exchange(engine: ExecutionEngine, clean_sim: Sim) -> None:
    clean_sim.control("POST", "/positions", {"symbol": "BTCUSDT", "side": "Buy", "size": "0.01"})
    position = next(p for p in await engine.adapter.positions() if p.symbol == "BTCUSDT")
    assert position.stop_loss is None
    result = await ensure_protected(engine, position)
    assert result.protected
    assert result.stop_loss is not None
    assert result.stop_loss < position.avg_price
    again = next(p for p in await engine.adapter.positions() if p.symbol == "BTCUSDT")
    assert again.stop_loss == result.stop_loss
    assert engine.book.position("BTCUSDT").stop_loss == result.stop_loss


async def test_protection_failure_closes_the_position_and_pauses(
    engine: ExecutionEngine, clean_sim: Sim, sessions: async_sessionmaker[AsyncSession]
) -> None:
    clean_sim.control("POST", "/positions", {"symbol": "ETHUSDT", "side": "Sell", "size": "0.3"})
    position = next(p for p in await engine.adapter.positions() if p.symbol == "ETHUSDT")
    clean_sim.control("POST", "/faults", {"fail_paths": ["/v5/position/trading-stop"]})
    raised: list[ReasonCode] = []

    result = await ensure_protected(engine, position, attempts=2, on_failure=raised.append)

    assert not result.protected
    assert result.closed
    assert raised == [ReasonCode.PROTECTION_FAILED]
    assert MODE_FOR_REASON[ReasonCode.PROTECTION_FAILED] is Mode.PAUSE
    assert [p for p in await engine.adapter.positions() if p.symbol == "ETHUSDT" and p.size > 0] == []
    received = clean_sim.control("GET", "/orders")["list"]
    closes = [o for o in received if o["symbol"] == "ETHUSDT" and o["side"] == "Buy"]  # type: ignore[union-attr,index]
    assert len(closes) == 1  # one reduce-only close reached the venue
    async with sessions() as session:
        alert = await session.scalar(
            select(Alert).where(Alert.alert_type == "PROTECTION_FAILED").order_by(Alert.id.desc())
        )
    assert alert is not None
    assert alert.severity == "CRITICAL"
    assert "ETHUSDT" in alert.message


async def test_a_position_closed_before_its_stop_is_set_is_flat_not_a_failure(
    engine: ExecutionEngine, clean_sim: Sim
) -> None:
    """The race a stop loses to an exit: the position was read, then its close filled, then
    the stop was set. The venue refuses a stop on a zero position; that is not a failure."""
    clean_sim.control("POST", "/positions", {"symbol": "BTCUSDT", "side": "Buy", "size": "0.01"})
    position = next(p for p in await engine.adapter.positions() if p.symbol == "BTCUSDT")
    clean_sim.control("POST", "/positions", {"symbol": "BTCUSDT", "side": "Sell", "size": "0.01"})
    raised: list[ReasonCode] = []

    result = await ensure_protected(engine, position, attempts=2, on_failure=raised.append)

    assert result.protected
    assert result.detail == "flat"
    assert raised == []
    received = clean_sim.control("GET", "/orders")["list"]
    assert len([o for o in received if o["symbol"] == "BTCUSDT"]) == 2  # type: ignore[union-attr,index]  # no close sent
