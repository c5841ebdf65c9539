"""Acceptance: a stream kill gives PAUSED (WS_DOWN) with no signal; the scavenger resumes by itself.

Two ways the data stops: the venue drops every socket (pybit reconnects within
milliseconds, but whatever the stream carried meanwhile is lost, so the scavenger waits
for the data to be stable again), and the feed freezes while the socket stays up."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.integration.execution.conftest import Sim
from tests.integration.scavenger.conftest import burst_through, mode_of, pick_trap, running_scavenger
from tests.processes import free_ports, metric_value, start_service, terminate, until, wait_for_health

pytestmark = pytest.mark.integration


async def test_dropped_stream_pauses_without_signals_then_resumes(
    fresh_sim: Sim, database_url: str, redis_url: str, tmp_path: Path
) -> None:
    # a long stability window, so the test can act while the scavenger is still paused
    async with running_scavenger(fresh_sim, database_url, redis_url, tmp_path, TITAN_STREAM_STABLE_S="8") as scavenger:
        await until(lambda: mode_of(scavenger)[0] == "NORMAL", 30, "NORMAL")
        trap = await until(lambda: pick_trap(scavenger), 30, "a trap")

        dropped = fresh_sim.control("POST", "/faults", {"ws_disconnect": True})
        assert int(str(dropped["ws_disconnected"])) >= 1
        await until(lambda: mode_of(scavenger) == ("PAUSE", ["WS_DOWN"]), 10, "PAUSE with WS_DOWN")

        # a burst through the trap while paused springs nothing
        burst_through(fresh_sim, trap)
        await asyncio.sleep(1.5)
        assert mode_of(scavenger) == ("PAUSE", ["WS_DOWN"])
        assert await scavenger.signals() == []
        health = scavenger.health()
        assert health["status"] == "degraded"
        assert health["checks"]["market_data"]["emitting"] is False

        # the data flows again: after the stability window it resumes by itself
        await until(lambda: mode_of(scavenger) == ("NORMAL", []), 30, "NORMAL again")
        assert metric_value(scavenger.metrics(), "titan_scavenger_stream_reconnects_total") >= 1
        # and traps spring again (the paused burst started no cooldown)
        again = await until(lambda: pick_trap(scavenger), 30, "a trap after resuming")
        burst_through(fresh_sim, again)
        await until(scavenger.signals, 10, what="a signal after resuming")
        await asyncio.sleep(1.0)
        assert len(await scavenger.signals()) == 1


async def test_frozen_feed_pauses_and_resumes_by_itself(
    fresh_sim: Sim, database_url: str, redis_url: str, tmp_path: Path
) -> None:
    async with running_scavenger(fresh_sim, database_url, redis_url, tmp_path) as scavenger:
        await until(lambda: mode_of(scavenger)[0] == "NORMAL", 30, "NORMAL")
        fresh_sim.control("POST", "/clock", {"paused": True})  # no trades, no ticker changes; candles keep coming
        await until(lambda: mode_of(scavenger) == ("PAUSE", ["WS_DOWN"]), 15, "PAUSE with WS_DOWN")
        assert scavenger.health()["checks"]["market_data"]["stream"] == "DOWN"
        assert await scavenger.signals() == []
        fresh_sim.control("POST", "/clock", {"paused": False})
        await until(lambda: mode_of(scavenger) == ("NORMAL", []), 20, "NORMAL again")
        assert scavenger.health()["checks"]["market_data"]["stream"] == "LIVE"
        assert "WS_DOWN cleared" in scavenger.log()


async def test_venue_gone_then_back_reconnects_with_backoff(
    database_url: str, redis_url: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The venue dies (pybit gives up reconnecting on its own); the intake keeps reopening the
    stream with backoff and is LIVE again once the venue is back on the same address."""
    ports = free_ports(["simulator", "mexc"])
    port = ports["simulator"]
    sim_env = {
        "TITAN_SIMULATOR_PORT": str(port),
        "TITAN_SIM_MEXC_PORT": str(ports["mexc"]),  # both runs take the same two ports
        "TITAN_VAR_DIR": str(tmp_path_factory.mktemp("gone-sim")),
        "TITAN_SIM_API_KEY": "K-gone",
        "TITAN_SIM_API_SECRET": "S-gone",
        "TITAN_SIM_SYMBOLS": "BTCUSDT,ETHUSDT",
        "TITAN_SIM_BACKFILL_MINUTES": "3000",
    }
    sim = Sim(f"http://127.0.0.1:{port}", "K-gone", "S-gone", mexc_url=f"http://127.0.0.1:{ports['mexc']}")
    venue = start_service("simulator", sim_env, tmp_path / "sim-1.out")
    try:
        wait_for_health(sim.url, timeout=90)
        async with running_scavenger(
            sim, database_url, redis_url, tmp_path, TITAN_STREAM_RESTART_AFTER_S="3", TITAN_RECONNECT_BACKOFF_MAX_S="2"
        ) as scavenger:
            await until(lambda: mode_of(scavenger) == ("NORMAL", []), 30, "NORMAL")
            venue.kill()
            venue.wait()
            await until(lambda: mode_of(scavenger)[0] == "PAUSE", 15, "PAUSE once the venue is gone")
            assert "WS_DOWN" in mode_of(scavenger)[1]
            await asyncio.sleep(6)  # several reopen attempts fail meanwhile
            venue = start_service("simulator", sim_env, tmp_path / "sim-2.out")
            wait_for_health(sim.url, timeout=90)
            await until(lambda: mode_of(scavenger) == ("NORMAL", []), 60, "NORMAL with the venue back")
            assert scavenger.health()["checks"]["market_data"]["stream"] == "LIVE"
            assert "public stream ended" in scavenger.log()
            assert metric_value(scavenger.metrics(), "titan_scavenger_stream_reconnects_total") >= 1
    finally:
        terminate(venue)
