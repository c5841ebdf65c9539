"""A real simulator process for execution's integration tests."""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from decimal import Decimal as D
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.processes import free_ports, start_service, terminate, wait_for_health
from titan_common.bus import make_redis
from titan_common.clock import now_ms
from titan_common.exchanges.bybit import BybitAdapter, BybitConfig
from titan_common.messages import Correlation, OrderIntent, Side, client_order_id_for, new_id
from titan_execution.runtime.engine import EngineConfig, ExecutionEngine
from titan_execution.runtime.master_arm import set_master_arm
from titan_sim.core.instruments import KNOWN

T = TypeVar("T")


@dataclass(frozen=True)
class Sim:
    url: str
    api_key: str
    api_secret: str
    # the simulator's MEXC spot v3 face: its own port and key pair ("" when not known)
    mexc_url: str = ""
    mexc_api_key: str = ""
    mexc_api_secret: str = ""

    def control(self, method: str, path: str, body: dict[str, object] | None = None) -> dict[str, object]:
        response = httpx.request(method, f"{self.url}/sim{path}", json=body, timeout=10)
        response.raise_for_status()
        return dict(response.json())

    def orders_for(self, client_order_id: str) -> int:
        return int(str(self.control("GET", f"/orders?orderLinkId={client_order_id}")["count"]))

    def mexc_orders_for(self, client_order_id: str) -> int:
        """How many POST /api/v3/order the MEXC face received with this newClientOrderId."""
        return int(str(self.control("GET", f"/orders?venue=mexc&clientOrderId={client_order_id}")["count"]))


@contextmanager
def running_simulator(var_dir: Path, *, health_timeout: float = 60, **env: str) -> Iterator[Sim]:
    """A real simulator process on free ports (Bybit's and the MEXC face's) with fresh key
    pairs; extra TITAN_SIM_* in env."""
    ports = free_ports(["simulator", "mexc"])
    key, secret = f"K{uuid.uuid4().hex[:12]}", uuid.uuid4().hex
    mexc_key, mexc_secret = f"mx0{uuid.uuid4().hex[:12]}", uuid.uuid4().hex
    process = start_service(
        "simulator",
        {
            "TITAN_SIMULATOR_PORT": str(ports["simulator"]),
            "TITAN_SIM_MEXC_PORT": str(ports["mexc"]),
            "TITAN_VAR_DIR": str(var_dir),
            "TITAN_SIM_API_KEY": key,
            "TITAN_SIM_API_SECRET": secret,
            "TITAN_SIM_MEXC_API_KEY": mexc_key,
            "TITAN_SIM_MEXC_API_SECRET": mexc_secret,
            **env,
        },
        var_dir / "simulator.out",
    )
    url = f"http://127.0.0.1:{ports['simulator']}"
    try:
        wait_for_health(url, timeout=health_timeout)
        yield Sim(url, key, secret, f"http://127.0.0.1:{ports['mexc']}", mexc_key, mexc_secret)
    finally:
        terminate(process)


@pytest.fixture(scope="package")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    with running_simulator(
        tmp_path_factory.mktemp("sim"), TITAN_SIM_DROP_HOLD_S="1.0", TITAN_SIM_BACKFILL_MINUTES="60"
    ) as simulator:
        yield simulator


@pytest.fixture
def clean_sim(sim: Sim) -> Sim:
    sim.control("DELETE", "/faults")
    sim.control("POST", "/reset")
    return sim


async def arm(sessions: async_sessionmaker[AsyncSession], enabled: bool) -> None:
    async with sessions() as session, session.begin():
        await set_master_arm(session, enabled=enabled, operator_id="engine-test")


@pytest.fixture
async def engine(clean_sim: Sim, sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[ExecutionEngine]:
    adapter = BybitAdapter(BybitConfig(clean_sim.url, clean_sim.api_key, clean_sim.api_secret, timeout_s=5))
    eng = ExecutionEngine(
        config=EngineConfig(exchange=f"sim-{uuid.uuid4().hex[:8]}", run_id="engine-test", not_found_min_age_ms=0),
        sessions=sessions,
        adapter=adapter,
    )
    await eng.load()
    await arm(sessions, True)
    yield eng
    await arm(sessions, False)
    await adapter.close()


def execution_env(sim: Sim, database_url: str, stream_redis_url: str, var_dir: Path, port: int) -> dict[str, str]:
    """Environment for a real execution process trading against `sim`, with its own rows."""
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": stream_redis_url,
        "TITAN_EXECUTION_PORT": str(port),
        "TITAN_VAR_DIR": str(var_dir),
        "TITAN_RUN_ID": f"exec-test-{uuid.uuid4().hex[:6]}",
        "TITAN_EXCHANGE": f"x-{uuid.uuid4().hex[:8]}",
        "TITAN_BYBIT_ENDPOINT": sim.url,
        "TITAN_BYBIT_API_KEY": sim.api_key,
        "TITAN_BYBIT_API_SECRET": sim.api_secret,
    }


def entry(
    symbol: str = "BTCUSDT",
    qty: str = "0.010",
    stop: str = "1000",
    *,
    side: Side = Side.BUY,
    ttl_ms: int = 60_000,
    run_id: str = "execution-test",
    reference: D | str | None = None,
) -> OrderIntent:
    """A fresh entry intent, with its client id derived as the brain derives it.

    Its reference price (the brain's: the signal's entry) is `reference`, else the price the
    simulator starts the symbol at: the walk stays within the price band of the far stops the
    tests use by default; a test with a near stop passes the venue's last price."""
    intent_id = new_id()
    if reference is None and symbol in KNOWN:
        reference = KNOWN[symbol].start_price
    return OrderIntent(
        intent_id=intent_id,
        client_order_id=client_order_id_for(intent_id),
        ts_ms=now_ms(),
        correlation=Correlation(run_id=run_id),
        symbol=symbol,
        side=side,
        qty=D(qty),
        reference_price=None if reference is None else D(reference),
        stop_loss=D(stop),
        ttl_ms=ttl_ms,
    )


def redis_db(url: str, db: int) -> str:
    """The same Redis server, another database: a process test owns the real stream names there."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))


@dataclass
class ExecutionProcess:
    """A real execution process (restartable) with its own Redis database and rows."""

    url: str
    env: dict[str, str]
    redis: Redis
    var_dir: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def process(self) -> subprocess.Popen[bytes]:
        return self.processes[-1]

    def start(self) -> None:
        self.processes.append(
            start_service("execution", self.env, self.var_dir / f"execution-{len(self.processes) + 1}.out")
        )
        wait_for_health(self.url, timeout=60, ready=True)


@asynccontextmanager
async def running_execution(
    sim: Sim, database_url: str, redis_url: str, var_dir: Path, *, redis_db_index: int, **env: str
) -> AsyncIterator[ExecutionProcess]:
    stream_redis = redis_db(redis_url, redis_db_index)
    redis = make_redis(stream_redis)
    await redis.flushdb()
    port = free_ports(["execution"])["execution"]
    execution = ExecutionProcess(
        url=f"http://127.0.0.1:{port}",
        env={**execution_env(sim, database_url, stream_redis, var_dir, port), **env},
        redis=redis,
        var_dir=var_dir,
    )
    try:
        execution.start()
        yield execution
    finally:
        for process in execution.processes:
            if process.poll() is None:
                terminate(process)
        sim.control("DELETE", "/faults")
        await redis.flushdb()
        await redis.aclose()


async def until(check: Callable[[], Awaitable[T | None]], *, timeout: float = 30, what: str) -> T:
    """Poll `check` every 0.2 s until it returns something truthy; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.2)
    raise AssertionError(f"{what} not met within {timeout}s (last: {last!r})")


def mexc_env(sim: Sim, **extra: str) -> dict[str, str]:
    """The extra environment of an execution process trading the simulator's MEXC face."""
    return {
        "TITAN_VENUES": "mexc",
        "TITAN_MEXC_ENDPOINT": sim.mexc_url,
        "TITAN_MEXC_API_KEY": sim.mexc_api_key,
        "TITAN_MEXC_API_SECRET": sim.mexc_api_secret,
        "TITAN_PRICE_STALE_S": "2",
        **extra,
    }
