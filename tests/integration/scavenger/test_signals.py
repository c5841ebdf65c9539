"""Acceptance: a forced burst through a computed trap level gives exactly one signal on
titan:signals, audited as TRAP_SPRUNG, counted in the metrics and pushed on /ws/scavenger."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path

import pytest
import websockets
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.execution.conftest import Sim
from tests.integration.scavenger.conftest import burst_through, mode_of, pick_trap, running_scavenger
from tests.processes import metric_value, until
from titan_common.db.models import AuditEvent
from titan_common.messages import Side

pytestmark = pytest.mark.integration


async def test_a_burst_through_a_trap_gives_exactly_one_signal(
    fresh_sim: Sim, database_url: str, redis_url: str, tmp_path: Path, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with running_scavenger(fresh_sim, database_url, redis_url, tmp_path) as scavenger:
        await until(lambda: mode_of(scavenger)[0] == "NORMAL", 30, "NORMAL")
        trap = await until(lambda: pick_trap(scavenger), 30, "a trap 0.2-2.8% from price")
        ws_url = scavenger.url.replace("http://", "ws://") + "/ws/scavenger"
        async with websockets.connect(ws_url) as live:
            first = json.loads(await asyncio.wait_for(live.recv(), 5))
            assert first["event_type"] == "SENSOR_STATUS_UPDATED"
            assert first["payload"]["emitting"] is True
            second = json.loads(await asyncio.wait_for(live.recv(), 5))
            assert second["event_type"] == "TRAP_MAP_UPDATED"
            assert second["payload"]["traps"]
            assert await scavenger.signals() == []

            burst_through(fresh_sim, trap)

            signals = await until(scavenger.signals, 10, what="a signal on titan:signals")
            await asyncio.sleep(2.0)  # the rest of the burst, and anything late, must add nothing
            signals = await scavenger.signals()
            assert len(signals) == 1
            signal = signals[0]
            assert signal.symbol == trap["symbol"]
            assert signal.side == Side(trap["side"])
            assert signal.source == "scavenger"
            assert signal.trap_type in {"LIQUIDATION", "DAILY_LEVEL", "BOLLINGER", "FUNDING_SQUEEZE"}
            assert signal.correlation.run_id == scavenger.env["TITAN_RUN_ID"]
            assert signal.correlation.cycle_id is not None
            assert signal.correlation.cycle_id.startswith("trapmap:")
            assert signal.correlation.signal_id == signal.signal_id
            assert signal.entry_low <= signal.entry_price <= signal.entry_high
            if signal.side is Side.BUY:
                assert signal.stop_loss < signal.entry_low
                assert signal.take_profits[0] > signal.entry_high
            else:
                assert signal.stop_loss > signal.entry_high
                assert signal.take_profits[0] < signal.entry_low
            risk = abs(signal.entry_price - signal.stop_loss)
            reward = abs(signal.take_profits[0] - signal.entry_price)
            assert abs(reward / risk - Decimal(3)) < Decimal("0.05")  # 3:1, to the tick
            assert Decimal(0) < signal.confidence <= Decimal(1)
            assert 1 <= signal.leverage_hint <= 20
            assert signal.expected_move_pct is not None
            assert signal.expected_move_pct > 0
            assert signal.ttl_ms == 5_000

            # ... pushed live as TRAP_SPRUNG
            async def sprung_on_ws() -> dict[str, object]:
                while True:
                    message = json.loads(await live.recv())
                    if message["event_type"] == "TRAP_SPRUNG":
                        return dict(message)

            pushed = await asyncio.wait_for(sprung_on_ws(), 10)
            assert pushed["payload"]["signal_id"] == signal.signal_id  # type: ignore[index]

        # ... audited, with its correlation ids
        async def audited() -> AuditEvent | None:
            async with sessions() as session:
                return await session.scalar(select(AuditEvent).where(AuditEvent.signal_id == signal.signal_id))

        row = await until(audited, 10, what="the TRAP_SPRUNG audit row")
        assert row.event_type == "TRAP_SPRUNG"
        assert row.service == "scavenger"
        assert row.cycle_id == signal.correlation.cycle_id
        assert row.payload["symbol"] == signal.symbol
        assert row.payload["trades_in_window"] >= 50
        assert row.payload["window_ms"] == 100

        # ... and counted
        metrics = scavenger.metrics()
        assert metric_value(metrics, "titan_scavenger_signals_total") == 1
        assert metric_value(metrics, "titan_scavenger_traps_sprung_total") == 1
        assert metric_value(metrics, "titan_scavenger_signal_latency_ms_count") == 1
        assert metric_value(metrics, "titan_scavenger_trades_total") > 50
        assert "TRAP_SPRUNG" in scavenger.log()
