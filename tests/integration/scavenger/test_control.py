"""Operator control over real Redis: PAUSE and the kill switch stop signals (and survive a
restart), RESUME lifts them, messages for other services are ignored."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.execution.conftest import Sim
from tests.integration.scavenger.conftest import burst_through, mode_of, pick_trap, running_scavenger
from tests.processes import until
from titan_common.bus import CONTROL, Publisher
from titan_common.clock import now_ms
from titan_common.config import TradingConfig, save_config
from titan_common.flags import read_flag
from titan_common.messages import Control, ControlCommand

pytestmark = pytest.mark.integration


def control(command: ControlCommand, target: str = "scavenger") -> Control:
    return Control(ts_ms=now_ms(), command=command, operator_id="ops-test", target=target)  # type: ignore[arg-type]


async def test_pause_kill_switch_and_resume(
    fresh_sim: Sim, database_url: str, redis_url: str, tmp_path: Path, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with running_scavenger(fresh_sim, database_url, redis_url, tmp_path) as scavenger:
        publisher = Publisher(scavenger.redis)
        await until(lambda: mode_of(scavenger)[0] == "NORMAL", 30, "NORMAL")

        # another service's pause is not ours
        await publisher.publish(CONTROL, control(ControlCommand.PAUSE, target="brain"))
        await asyncio.sleep(1.0)
        assert mode_of(scavenger) == ("NORMAL", [])

        await publisher.publish(CONTROL, control(ControlCommand.PAUSE))
        await until(lambda: mode_of(scavenger) == ("PAUSE", ["OPERATOR_PAUSE"]), 10, "PAUSE / OPERATOR_PAUSE")
        trap = await until(lambda: pick_trap(scavenger), 30, "a trap")
        burst_through(fresh_sim, trap)
        await asyncio.sleep(1.5)
        assert await scavenger.signals() == []

        # the kill switch (target all) adds its own reason, and both survive a restart
        await publisher.publish(CONTROL, control(ControlCommand.KILL_SWITCH, target="all"))
        await until(lambda: mode_of(scavenger) == ("PAUSE", ["KILL_SWITCH", "OPERATOR_PAUSE"]), 10, "KILL_SWITCH too")
        async with sessions() as session:
            flag = await read_flag(session, "scavenger_pause")
        assert flag == {"paused_by": {"OPERATOR_PAUSE": "ops-test", "KILL_SWITCH": "ops-test"}}
        scavenger.stop()
        scavenger.start(want=("degraded",))  # a paused service answers degraded
        await until(
            lambda: mode_of(scavenger) == ("PAUSE", ["KILL_SWITCH", "OPERATOR_PAUSE"]), 30, "still paused after restart"
        )

        # RESUME lifts both; signals flow again
        await publisher.publish(CONTROL, control(ControlCommand.RESUME, target="all"))
        await until(lambda: mode_of(scavenger) == ("NORMAL", []), 20, "NORMAL after RESUME")
        async with sessions() as session:
            assert await read_flag(session, "scavenger_pause") == {"paused_by": {}}
        trap = await until(lambda: pick_trap(scavenger), 30, "a trap")
        burst_through(fresh_sim, trap)
        await until(scavenger.signals, 10, what="a signal after RESUME")
        await asyncio.sleep(1.0)
        assert len(await scavenger.signals()) == 1
        assert "CONTROL KILL_SWITCH by ops-test" in scavenger.log()


async def test_config_changed_reloads_the_whitelist(
    fresh_sim: Sim, database_url: str, redis_url: str, tmp_path: Path, sessions: async_sessionmaker[AsyncSession]
) -> None:
    # only the whitelist is watched here: the default one, of which the simulator trades three
    async with running_scavenger(fresh_sim, database_url, redis_url, tmp_path, TITAN_TOP_N_SYMBOLS="0") as scavenger:
        publisher = Publisher(scavenger.redis)

        def watched() -> int:
            return int(scavenger.health()["checks"]["market_data"]["symbols"])

        await until(lambda: watched() == 3, 30, "the default whitelist's three symbols")
        try:
            async with sessions() as session, session.begin():
                await save_config(session, TradingConfig(asset_whitelist=("SOLUSDT",)), operator_id="ops-test")
            await publisher.publish(CONTROL, control(ControlCommand.CONFIG_CHANGED, target="all"))
            await until(lambda: watched() == 1, 15, "the new whitelist")
            await until(lambda: mode_of(scavenger) == ("NORMAL", []), 20, "NORMAL on the new stream")
            await until(
                lambda: {t["symbol"] for t in scavenger.traps()["traps"]} <= {"SOLUSDT"}, 10, "a map of SOLUSDT only"
            )
        finally:
            async with sessions() as session, session.begin():  # the defaults are active again for later tests
                await save_config(session, TradingConfig(), operator_id="ops-test")
