"""The breaker's day on real Postgres, and the volatility trigger's market data.

- The per-day drawdown latches are in the state breaker_events records, so a restart
  restores them: a day's hard level that tripped and was reset does not trip again.
- A brain whose market-data poll gets no price for the volatility symbol says so: the
  MARKET_DATA_STALE reason code on /health and a WARN line in its log.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.brain.conftest import running_brain
from tests.processes import free_ports, until
from titan_brain.core.breaker import BreakerState, Level, Observation, reset, step
from titan_brain.runtime import store
from titan_common.config import TradingConfig

pytestmark = pytest.mark.integration

# long ago, so no other test's drawdown "today" meets this latch
DAY = "2020-01-06"
T = 1_578_312_000_000  # 2020-01-06T12:00:00Z


async def test_the_days_latches_survive_a_restart(sessions: async_sessionmaker[AsyncSession]) -> None:
    config = TradingConfig()
    hard, [trip] = step(BreakerState(), Observation(now_ms=T, day=DAY, daily_drawdown=D("0.16")), config)
    assert trip.level is Level.HARD
    after, reset_transition = reset(hard, T + 60_000, "reviewed")
    assert reset_transition is not None
    async with sessions() as session, session.begin():
        session.add(store.breaker_event(trip, T, None, {}))
        session.add(store.breaker_event(reset_transition, T + 60_000, "ops", {"label": None}))

    async with sessions() as session:
        restored, flattened = await store.last_breaker_state(session)
    assert restored == after
    assert (restored.soft_drawdown_day, restored.hard_drawdown_day) == (DAY, DAY)
    assert not restored.active
    assert flattened is False
    # the same day's 16% does not trip again after the "restart"; the next day's does
    again = Observation(now_ms=T + 120_000, day=DAY, daily_drawdown=D("0.16"))
    assert step(restored, again, config)[1] == []
    tomorrow = Observation(now_ms=T + 86_400_000, day="2020-01-07", daily_drawdown=D("0.16"))
    assert [t.level for t in step(restored, tomorrow, config)[1]] == [Level.HARD]


async def test_no_price_for_the_volatility_symbol_raises_market_data_stale(
    database_url: str, redis_url: str, tmp_path: Path
) -> None:
    nothing_there = f"http://127.0.0.1:{free_ports(['venue'])['venue']}"
    async with running_brain(
        database_url, redis_url, tmp_path, redis_db_index=11,
        TITAN_MARKET_DATA="true", TITAN_BYBIT_ENDPOINT=nothing_there, TITAN_MARKET_POLL_S="0.3",
    ) as brain:  # fmt: skip

        def stale() -> dict[str, Any] | None:
            health = brain.health()
            return health if "MARKET_DATA_STALE" in health["reasons"] else None

        health = await until(stale, what="MARKET_DATA_STALE on /health")
        assert health["mode"] == "NORMAL"  # an alert: the breaker's other triggers still work
        await asyncio.sleep(2.0)  # several more failed polls
        log = (tmp_path / "log" / "brain.log").read_text().splitlines()
        warned = [line for line in log if "MARKET_DATA_STALE" in line and "BTCUSDT" in line]
        # one WARN (again at most once a minute while it lasts), not a line per 0.3 s poll
        assert len(warned) == 1
        assert "[WARNING]" in warned[0]
