"""The circuit breaker in a brain process on real Redis and Postgres.

Soft: three losing trades (TRADE_CLOSED from execution) trip it; master arm goes off,
later signals are vetoed with BREAKER_ACTIVE (also after an operator re-arms, and after a
restart), the manual reset needs an operator and does not re-arm, and a 7% daily drawdown
trips it again. Hard: a 15% drawdown makes the brain flatten the simulator's positions
through a real execution process, and pause until the reset.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal as D
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.brain.conftest import (
    BrainProcess,
    add_user,
    arm,
    make_signal,
    running_brain,
    trade_event,
    wait_for_decisions,
    wallet_event,
)
from tests.integration.execution.conftest import Sim, running_execution
from tests.processes import metric_value, until
from titan_common.auth.tokens import OPERATOR_HEADER, TOKEN_HEADER
from titan_common.db.models import AuditEvent, BreakerEvent, OperatorAction
from titan_common.exchanges.bybit import BybitAdapter, BybitConfig
from titan_common.flags import read_master_arm
from titan_common.settings import DEFAULT_INTERNAL_TOKEN

pytestmark = pytest.mark.integration

HOUR_MS = 3_600_000
TOKEN = {TOKEN_HEADER: DEFAULT_INTERNAL_TOKEN, OPERATOR_HEADER: "breaker-test"}


async def master_arm(sessions: async_sessionmaker[AsyncSession]) -> bool:
    async with sessions() as session:
        return await read_master_arm(session)


async def disarmed_by_execution(sessions: async_sessionmaker[AsyncSession]) -> bool:
    """Master arm as it reads once the breaker's disarm has reached execution, its one writer
    (a moment after the trip is on record): False when it went off."""

    async def off() -> bool:
        return not await master_arm(sessions)

    return not await until(off, what="master arm off at execution")


async def breaker_rows(sessions: async_sessionmaker[AsyncSession], since_ms: int) -> list[BreakerEvent]:
    async with sessions() as session:
        rows = await session.scalars(
            select(BreakerEvent).where(BreakerEvent.ts_ms >= since_ms).order_by(BreakerEvent.id)
        )
        return list(rows)


async def veto_reasons(brain: BrainProcess, sessions: async_sessionmaker[AsyncSession], symbol: str) -> list[str]:
    signal = make_signal(symbol)
    await brain.signal(signal)
    return list((await wait_for_decisions(sessions, [signal.signal_id]))[signal.signal_id].reasons)


@pytest.fixture
async def execution_port(clean_sim: Sim, database_url: str, redis_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """An execution the breaker's disarm reaches (master arm's one writer), on a Redis
    database of its own: a door only, it sees none of the brain's intents or events."""
    var_dir = tmp_path / "execution"
    var_dir.mkdir()
    async with running_execution(clean_sim, database_url, redis_url, var_dir, redis_db_index=15) as door:
        yield door.url.rsplit(":", 1)[1]


async def test_losses_trip_the_soft_breaker_and_a_reset_does_not_rearm(
    database_url: str, redis_url: str, tmp_path: Path, sessions: async_sessionmaker[AsyncSession], execution_port: str
) -> None:
    async with running_brain(
        database_url, redis_url, tmp_path, redis_db_index=10, TITAN_EXECUTION_PORT=execution_port
    ) as brain:
        await arm(sessions, True)
        await brain.wallet("10000")
        assert await veto_reasons(brain, sessions, "BTCUSDT") == []  # approved: the breaker is clear
        started = brain.breaker()
        assert started["active"] is False

        for pnl in ("-40", "-35", "-50"):
            await brain.publish(trade_event(brain.exchange, pnl))
        tripped = await until(lambda: brain.breaker() if brain.breaker()["active"] else None, what="a soft trip")
        assert tripped["level"] == "SOFT"
        assert tripped["trigger"] == "CONSECUTIVE_LOSSES"
        assert tripped["cooldown_until_ms"] - tripped["tripped_at_ms"] == 4 * HOUR_MS
        assert tripped["consecutive_losses"] == 0  # counted again from the trip
        since = tripped["tripped_at_ms"]

        # master arm went off, recorded under the breaker's name; the trip is on record
        assert await disarmed_by_execution(sessions) is False
        async with sessions() as session:
            disarm = await session.scalar(
                select(OperatorAction)
                .where(OperatorAction.action == "MASTER_ARM", OperatorAction.ts_ms >= since)
                .order_by(OperatorAction.id.desc())
            )
        assert disarm is not None
        assert disarm.operator_id == "brain-breaker"
        [trip] = await breaker_rows(sessions, since)
        assert (trip.action, trip.level) == ("TRIP", "SOFT")
        assert trip.payload["trigger"] == "CONSECUTIVE_LOSSES"

        async def audited() -> bool:
            async with sessions() as session:
                row = await session.scalar(
                    select(AuditEvent).where(
                        AuditEvent.event_type == "CIRCUIT_BREAKER_UPDATE", AuditEvent.ts_ms >= since
                    )
                )
            return row is not None and row.payload["action"] == "TRIP" and row.payload["active"] is True

        await until(audited, what="the trip in the audit trail")
        assert metric_value(brain.get("/metrics").text, "titan_brain_breaker_active") == 1

        # later signals are vetoed with BREAKER_ACTIVE: beside MASTER_DISARMED, and alone once re-armed
        assert await veto_reasons(brain, sessions, "ETHUSDT") == ["MASTER_DISARMED", "BREAKER_ACTIVE"]
        await arm(sessions, True, "ops-rearmed-too-early")
        assert await veto_reasons(brain, sessions, "ETHUSDT") == ["BREAKER_ACTIVE"]

        # the breaker survives a restart
        brain.stop()
        brain.start()
        await brain.wallet("10000")
        restored = brain.breaker()
        assert restored["active"] is True
        assert restored["tripped_at_ms"] == tripped["tripped_at_ms"]
        assert await veto_reasons(brain, sessions, "SOLUSDT") == ["BREAKER_ACTIVE"]

        # the manual reset: an operator, recorded under the authenticated name; no re-arm
        await arm(sessions, False)
        await add_user(sessions, "breaker-ops", "breaker-pass", "operator")
        body = {"reason": "Manual reset after review", "operator_id": "label-only"}
        assert brain.post("/breaker/reset", json=body).status_code == 401
        reset = brain.post("/breaker/reset", json=body, auth=("breaker-ops", "breaker-pass"))
        assert reset.status_code == 200
        assert reset.json()["was_active"] is True
        assert reset.json()["master_arm"] is False
        assert brain.breaker()["active"] is False
        assert await master_arm(sessions) is False
        rows = await breaker_rows(sessions, since)
        assert [(r.action, r.operator_id) for r in rows] == [("TRIP", None), ("RESET", "breaker-ops")]
        async with sessions() as session:
            recorded = await session.scalar(
                select(OperatorAction).where(
                    OperatorAction.action == "BREAKER_RESET", OperatorAction.operator_id == "breaker-ops"
                )
            )
        assert recorded is not None
        assert recorded.request == {"reason": "Manual reset after review", "operator_id": "label-only"}

        # re-armed by an operator: the losses before the reset are forgiven
        await arm(sessions, True)
        assert await veto_reasons(brain, sessions, "XRPUSDT") == []

        # a 7.5% daily drawdown trips it again
        await brain.publish(wallet_event(brain.exchange, "9250"))
        again = await until(lambda: brain.breaker() if brain.breaker()["active"] else None, what="a drawdown trip")
        assert again["trigger"] == "DAILY_DRAWDOWN"
        assert again["daily_drawdown"] == "0.075000"
        assert await disarmed_by_execution(sessions) is False
        assert brain.post("/breaker/reset", json={"reason": "test over"}, headers=TOKEN).status_code == 200


async def test_a_hard_drawdown_flattens_the_simulator_through_execution(
    clean_sim: Sim, database_url: str, redis_url: str, tmp_path: Path, sessions: async_sessionmaker[AsyncSession]
) -> None:
    adapter = BybitAdapter(BybitConfig(clean_sim.url, clean_sim.api_key, clean_sim.api_secret, timeout_s=5))
    try:
        async with running_execution(clean_sim, database_url, redis_url, tmp_path, redis_db_index=10) as execution:
            clean_sim.control("POST", "/positions", {"symbol": "BTCUSDT", "side": "Buy", "size": "0.01"})
            clean_sim.control("POST", "/positions", {"symbol": "ETHUSDT", "side": "Sell", "size": "0.2"})

            async def open_positions() -> list[str]:
                return sorted(p.symbol for p in await adapter.positions() if p.size > 0)

            assert await open_positions() == ["BTCUSDT", "ETHUSDT"]
            port = execution.url.rsplit(":", 1)[1]
            async with running_brain(
                database_url, redis_url, tmp_path, redis_db_index=10, flush=False, TITAN_EXECUTION_PORT=port
            ) as brain:
                await brain.wallet("10000")
                await brain.publish(wallet_event(brain.exchange, "8400"))  # 16% down on the day
                hard = await until(
                    lambda: brain.breaker() if brain.breaker()["level"] == "HARD" else None, what="a hard trip"
                )
                assert hard["trigger"] == "HARD_DRAWDOWN"
                assert hard["cooldown_until_ms"] is None  # only a manual reset ends it
                since = hard["tripped_at_ms"]

                async def flat() -> bool:
                    return await open_positions() == []

                await until(flat, timeout=30, what="the simulator flat")

                async def flattened_on_record() -> list[BreakerEvent]:
                    rows = await breaker_rows(sessions, since)
                    return rows if [r.action for r in rows] == ["TRIP", "FLATTENED"] else []

                rows = await until(flattened_on_record, what="TRIP then FLATTENED in breaker_events")
                assert rows[0].level == "HARD"
                assert rows[1].payload["positions_closed"] == 2
                async with sessions() as session:
                    flatten = await session.scalar(
                        select(OperatorAction).where(
                            OperatorAction.action == "FLATTEN_ALL", OperatorAction.ts_ms >= since
                        )
                    )
                assert flatten is not None
                assert flatten.operator_id == "brain-breaker"  # execution recorded who asked
                assert flatten.result["positions_closed"] == 2
                assert await master_arm(sessions) is False
                health = brain.health()
                assert health["mode"] == "PAUSE"
                assert "BREAKER_ACTIVE" in health["reasons"]
                await arm(sessions, True)
                reasons = await veto_reasons(brain, sessions, "DOGEUSDT")
                assert reasons[0] == "MODE_NOT_NORMAL"
                assert "BREAKER_ACTIVE" in reasons

                # a restart does not flatten again: the flatten is on record
                brain.stop()
                brain.start()
                assert brain.breaker()["level"] == "HARD"
                assert brain.health()["mode"] == "PAUSE"

                reset = brain.post("/breaker/reset", json={"reason": "reviewed the crash"}, headers=TOKEN)
                assert reset.status_code == 200
                assert reset.json()["operator_id"] == "breaker-test"
                await until(lambda: brain.health()["mode"] == "NORMAL", what="NORMAL after the reset")
                await arm(sessions, False)
                assert [r.action for r in await breaker_rows(sessions, since)] == ["TRIP", "FLATTENED", "RESET"]
    finally:
        await adapter.close()


async def test_market_data_from_the_exchange_and_the_volatility_trip(
    clean_sim: Sim, database_url: str, redis_url: str, tmp_path: Path, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Public instruments and prices (no keys) feed sizing and the volatility trigger."""
    async with running_brain(
        database_url, redis_url, tmp_path, redis_db_index=10,
        TITAN_MARKET_DATA="true", TITAN_BYBIT_ENDPOINT=clean_sim.url, TITAN_MARKET_POLL_S="0.3",
    ) as brain:  # fmt: skip
        await arm(sessions, True)
        await brain.wallet("10000")

        await until(lambda: brain.health()["checks"]["brain"]["instruments"] > 0, what="the exchange's instruments")
        # sized on the simulator's instrument: BTCUSDT trades in steps of 0.001
        btc = make_signal("BTCUSDT", entry="50000", stop="49300", target="53000")
        await brain.signal(btc)
        decision = (await wait_for_decisions(sessions, [btc.signal_id]))[btc.signal_id]
        assert decision.verdict == "APPROVE"
        # 1.5% of 10,000 over the loss at the 700 stop with fees and slippage on both legs,
        # 700 + 0.00105 x 99,300 = 804.265, is 0.1865..., on the 0.001 grid
        assert decision.qty == D("0.186")
        # BTCUSDT falls 6% within seconds: past the default 5%-in-5-minutes threshold
        await until(lambda: brain.breaker()["active"] is False, what="a calm start")
        clean_sim.control("POST", "/market/BTCUSDT/burst", {"pct": -6.0, "trades": 200, "window_ms": 1000})
        tripped = await until(
            lambda: brain.breaker() if brain.breaker()["active"] else None, timeout=30, what="a volatility trip"
        )
        assert tripped["trigger"] == "VOLATILITY"
        assert tripped["level"] == "SOFT"
        assert "BTCUSDT" in tripped["reason"]
        assert brain.post("/breaker/reset", json={"reason": "test over"}, headers=TOKEN).status_code == 200
        await arm(sessions, False)
