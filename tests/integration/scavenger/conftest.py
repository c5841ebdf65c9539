"""A real simulator and real scavenger processes for the scavenger's integration tests.

The simulator keeps three days of history (the trap map reads 50 h of 15-min bars and the
previous UTC day). Each scavenger process gets Redis database 3 to itself (titan:signals is
a fixed name), its own venue name (so its breadth cycle ids are its own) and fast settings.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import delete

from tests.integration.execution.conftest import Sim, redis_db, running_simulator
from tests.processes import free_ports, start_service, terminate, until, wait_for_health
from titan_common.bus import SIGNALS, make_redis
from titan_common.db.engine import make_engine
from titan_common.db.models import SystemFlag
from titan_common.messages import Signal

SCAVENGER_REDIS_DB = 3
SYMBOLS = "BTCUSDT,ETHUSDT,SOLUSDT"
TOKEN_HEADERS = {"X-Titan-Token": "titan-dev-internal-token", "X-Titan-Operator": "scavenger-test"}


@pytest.fixture(scope="package")
def scav_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    with running_simulator(
        tmp_path_factory.mktemp("scav-sim"),
        health_timeout=90,
        TITAN_SIM_SYMBOLS=SYMBOLS,
        TITAN_SIM_BACKFILL_MINUTES=str(3 * 24 * 60),
    ) as simulator:
        yield simulator


@pytest.fixture
def fresh_sim(scav_sim: Sim) -> Sim:
    """The seeded market as it started: the same history, so the same traps, in every test."""
    scav_sim.control("DELETE", "/faults")
    scav_sim.control("POST", "/reset")
    return scav_sim


@dataclass
class ScavengerProcess:
    url: str
    env: dict[str, str]
    redis: Redis
    var_dir: Path
    processes: list[Any] = field(default_factory=list)

    def start(self, want: tuple[str, ...] = ("ok",)) -> None:
        out = self.var_dir / f"scavenger-{len(self.processes) + 1}.out"
        self.processes.append(start_service("scavenger", self.env, out))
        wait_for_health(self.url, timeout=60, want=want, ready=True)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                terminate(process)

    def health(self) -> dict[str, Any]:
        return dict(httpx.get(f"{self.url}/health", timeout=5).json())

    def traps(self) -> dict[str, Any]:
        return dict(httpx.get(f"{self.url}/traps", timeout=5).json())

    def metrics(self) -> str:
        return httpx.get(f"{self.url}/metrics", timeout=5).text

    async def signals(self) -> list[Signal]:
        entries = await self.redis.xrange(SIGNALS.name)
        return [Signal.model_validate_json(fields[b"data"]) for _id, fields in entries]

    def log(self) -> str:
        path = self.var_dir / "log" / "scavenger.log"
        return path.read_text() if path.exists() else ""


def scavenger_env(sim: Sim, database_url: str, redis_url: str, var_dir: Path, port: int) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "TITAN_SCAVENGER_PORT": str(port),
        "TITAN_SCAVENGER_PORTS": json.dumps({"mexc": port}),  # the port, were it MEXC's scavenger
        "TITAN_VAR_DIR": str(var_dir),
        "TITAN_RUN_ID": f"scav-test-{uuid.uuid4().hex[:6]}",
        "TITAN_EXCHANGE": f"x-{uuid.uuid4().hex[:8]}",
        "TITAN_BYBIT_ENDPOINT": sim.url,
        "TITAN_BYBIT_API_KEY": sim.api_key,
        "TITAN_BYBIT_API_SECRET": sim.api_secret,
        "TITAN_TRAP_REBUILD_S": "2",
        "TITAN_STALE_AFTER_S": "2",
        "TITAN_STREAM_STABLE_S": "2",
        "TITAN_SCANNER_ENABLED": "false",
        "TITAN_HEARTBEAT_INTERVAL_S": "0.5",
    }


@asynccontextmanager
async def running_scavenger(
    sim: Sim, database_url: str, redis_url: str, var_dir: Path, **env: str
) -> AsyncIterator[ScavengerProcess]:
    stream_redis = redis_db(redis_url, SCAVENGER_REDIS_DB)
    redis = make_redis(stream_redis)
    await redis.flushdb()
    await _clear_pause_flag(database_url)  # a pause left by an earlier test is not this test's
    port = free_ports(["scavenger"])["scavenger"]
    scavenger = ScavengerProcess(
        url=f"http://127.0.0.1:{port}",
        env={**scavenger_env(sim, database_url, stream_redis, var_dir, port), **env},
        redis=redis,
        var_dir=var_dir,
    )
    try:
        scavenger.start()
        yield scavenger
    finally:
        scavenger.stop()
        sim.control("DELETE", "/faults")
        sim.control("POST", "/clock", {"paused": False})
        await redis.flushdb()
        await redis.aclose()


async def _clear_pause_flag(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(delete(SystemFlag).where(SystemFlag.name == "scavenger_pause"))
    finally:
        await engine.dispose()


async def wait_until(predicate: Any, timeout: float, what: str, interval: float = 0.1) -> Any:
    """Poll `predicate()` (sync or async) until it returns something truthy."""
    return await until(predicate, timeout, interval, what)


def mode_of(scavenger: ScavengerProcess) -> tuple[str, list[str]]:
    body = scavenger.health()
    return str(body["mode"]), list(body["reasons"])


def pick_trap(scavenger: ScavengerProcess, *, min_pct: float = 0.2, max_pct: float = 2.8) -> dict[str, Any] | None:
    """A trap on the live map between min_pct and max_pct away from price, nearest first."""
    candidates = [
        t
        for t in scavenger.traps()["traps"]
        if t["distance_pct"] is not None
        and min_pct <= abs(float(t["distance_pct"])) <= max_pct
        and t["cooldown_until_ms"] is None
    ]
    return min(candidates, key=lambda t: abs(float(t["distance_pct"]))) if candidates else None


def burst_through(sim: Sim, trap: dict[str, Any], *, beyond_pct: float = 0.3, trades: int = 60) -> dict[str, Any]:
    """A momentum burst from the current price through the trap's trigger, in the trap's direction."""
    distance = float(trap["distance_pct"])
    pct = distance + (beyond_pct if distance > 0 else -beyond_pct)
    return sim.control("POST", f"/market/{trap['symbol']}/burst", {"pct": pct, "trades": trades, "window_ms": 20})
