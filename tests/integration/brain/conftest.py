"""A real brain process for the brain's integration tests, and what tests feed it.

Each process test owns a Redis database (so the real stream and channel names are its
own) and an account name (`TITAN_EXCHANGE`), so its wallet, positions and trades are its
own too. Heartbeats of the other services are written straight into that Redis when a
test includes them in TITAN_MODE_SERVICES (by default the brain counts only itself).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.execution.conftest import clean_sim, redis_db, sim  # noqa: F401 - the simulator, for tests that run an execution
from tests.processes import StubServer, free_ports, running_openai_stub, start_service, terminate, wait_for_health
from tests.processes import until as until
from titan_common.auth.passwords import hash_password
from titan_common.bus import CONTROL, EVENTS, SIGNALS, Publisher, StreamProducer, heartbeat_key, make_redis
from titan_common.clock import now_ms
from titan_common.config import TradingConfig, save_config
from titan_common.db.engine import make_engine, make_sessionmaker
from titan_common.db.models import DecisionRow, OrderIntentRow, User
from titan_common.events import TradeClosed, WalletUpdate, payload_of
from titan_common.messages import Control, ControlCommand, Correlation, Event, Side, Signal, new_id
from titan_execution.runtime.master_arm import set_master_arm

HERE = Path(__file__).resolve().parent


def make_signal(
    symbol: str = "BTCUSDT",
    side: Side = Side.BUY,
    entry: str = "100",
    stop: str = "98",
    target: str | None = "106",
    *,
    ttl_ms: int = 30_000,
    signal_id: str | None = None,
    confidence: str = "0.8",
    ts_ms: int | None = None,
    run_id: str = "brain-test",
) -> Signal:
    price = D(entry)
    return Signal(
        signal_id=signal_id or new_id(),
        ts_ms=ts_ms if ts_ms is not None else now_ms(),
        correlation=Correlation(run_id=run_id, cycle_id="c1"),
        source="scavenger",
        symbol=symbol,
        side=side,
        trap_type="LIQUIDATION",
        entry_price=price,
        entry_low=price,
        entry_high=price,
        stop_loss=D(stop),
        take_profits=(D(target),) if target else (),
        confidence=D(confidence),
        ttl_ms=ttl_ms,
    )


def wallet_event(exchange: str, equity: str, ts_ms: int | None = None) -> Event:
    value = D(equity)
    return Event(
        ts_ms=ts_ms if ts_ms is not None else now_ms(),
        service="execution",
        event_type="WALLET_UPDATE",
        payload=payload_of(
            WalletUpdate(
                exchange=exchange, equity=value, wallet_balance=value, available_balance=value,
                unrealised_pnl=D(0), initial_margin=D(0),
            )
        ),
    )  # fmt: skip


def trade_event(exchange: str, pnl: str, symbol: str = "ETHUSDT") -> Event:
    ts = now_ms()
    return Event(
        ts_ms=ts,
        service="execution",
        event_type="TRADE_CLOSED",
        payload=payload_of(
            TradeClosed(
                exchange=exchange, symbol=symbol, side=Side.BUY, qty=D(1), entry_price=D(100),
                exit_price=D(100) + D(pnl), pnl=D(pnl), fees=D("0.1"), r_multiple=D(-1),
                opened_ms=ts - 60_000, closed_ms=ts,
            )
        ),
    )  # fmt: skip


async def arm(sessions: async_sessionmaker[AsyncSession], enabled: bool, operator_id: str = "brain-test") -> None:
    async with sessions() as session, session.begin():
        await set_master_arm(session, enabled=enabled, operator_id=operator_id)


IN_PROCESS_RUN = "brain-inprocess"


@pytest.fixture
async def armed_in_process(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[None]:
    """Master arm on for an in-process pipeline test; afterwards, disarm and retire the
    entry intents it left CREATED (see retire_created_intents)."""
    await arm(sessions, True)
    yield
    await arm(sessions, False)
    await retire_created_intents(sessions, IN_PROCESS_RUN)


async def retire_created_intents(sessions: async_sessionmaker[AsyncSession], run_id: str) -> None:
    """Entry intents a test left CREATED never reach an execution (no test runs one on
    them); retired, they do not count as pending positions for a brain started later."""
    async with sessions() as session, session.begin():
        mine = select(DecisionRow.decision_id).where(
            DecisionRow.payload["decision"]["correlation"]["run_id"].astext == run_id
        )
        await session.execute(
            update(OrderIntentRow)
            .where(OrderIntentRow.state == "CREATED", OrderIntentRow.decision_id.in_(mine))
            .values(state="CANCELLED", state_reason="TEST_TEARDOWN", updated_ms=now_ms())
        )


async def add_user(sessions: async_sessionmaker[AsyncSession], username: str, password: str, role: str) -> None:
    async with sessions() as session, session.begin():
        existing = await session.scalar(select(User).where(User.username == username))
        if existing is None:
            session.add(User(username=username, password_hash=hash_password(password), role=role, created_ms=now_ms()))


async def decisions_for(sessions: async_sessionmaker[AsyncSession], signal_ids: list[str]) -> dict[str, DecisionRow]:
    async with sessions() as session:
        rows = await session.scalars(select(DecisionRow).where(DecisionRow.signal_id.in_(signal_ids)))
        return {row.signal_id: row for row in rows}


async def wait_for_decisions(
    sessions: async_sessionmaker[AsyncSession], signal_ids: list[str], timeout: float = 30.0
) -> dict[str, DecisionRow]:
    deadline = time.monotonic() + timeout
    found: dict[str, DecisionRow] = {}
    while time.monotonic() < deadline:
        found = await decisions_for(sessions, signal_ids)
        if len(found) == len(set(signal_ids)):
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"only {len(found)} of {len(set(signal_ids))} signals were decided in {timeout}s")


@dataclass
class BrainProcess:
    url: str
    env: dict[str, str]
    redis: Redis
    var_dir: Path
    exchange: str
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def process(self) -> subprocess.Popen[bytes]:
        return self.processes[-1]

    def start(self) -> None:
        out = self.var_dir / f"brain-{len(self.processes) + 1}.out"
        self.processes.append(start_service("brain", self.env, out))
        # ready once the restore from Postgres is done, and its dashboard answers
        wait_for_health(self.url, timeout=60, want=("ok", "degraded"), ready=True)
        deadline = time.monotonic() + 30
        while httpx.get(f"{self.url}/dashboard", timeout=5).status_code != 200:
            if time.monotonic() > deadline:
                raise AssertionError("the brain never finished its restore")
            time.sleep(0.1)

    def stop(self) -> None:
        terminate(self.process)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", timeout=10, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.post(f"{self.url}{path}", timeout=10, **kwargs)

    def dashboard(self) -> dict[str, Any]:
        return dict(self.get("/dashboard").json())

    def breaker(self) -> dict[str, Any]:
        return dict(self.get("/breaker").json())

    def health(self) -> dict[str, Any]:
        return dict(self.get("/health").json())

    async def publish(self, event: Event) -> None:
        await Publisher(self.redis).publish(EVENTS, event)

    async def signal(self, signal: Signal) -> str:
        return await StreamProducer(self.redis, SIGNALS).publish(signal)

    async def wallet(self, equity: str) -> None:
        """Publish a wallet report until the brain shows it (pub/sub has no replay)."""

        async def shown() -> bool:
            await self.publish(wallet_event(self.exchange, equity))
            await asyncio.sleep(0.05)
            return bool(self.dashboard()["navDetail"]["equity"] == str(D(equity).quantize(D("0.01"))))

        await until(shown, what=f"equity {equity} on the dashboard")

    async def config(self, sessions: async_sessionmaker[AsyncSession], config: TradingConfig) -> str:
        """Save a config version and announce it, as the console does; wait until applied."""
        async with sessions() as session, session.begin():
            row = await save_config(session, config, operator_id="brain-test")
            tag = row.version_tag
        control = Control(ts_ms=now_ms(), command=ControlCommand.CONFIG_CHANGED, operator_id="brain-test")

        async def applied() -> bool:
            await Publisher(self.redis).publish(CONTROL, control)
            await asyncio.sleep(0.05)
            return bool(self.dashboard()["phase"]["configVersion"] == tag)

        await until(applied, what=f"config {tag} applied")
        return tag

    async def beats(self, **modes: str) -> None:
        """Write other services' heartbeats straight into this Redis."""
        for service, mode in modes.items():
            beat = {"service": service, "mode": mode, "reasons": [], "since_ms": now_ms(), "ts_ms": now_ms()}
            await self.redis.set(heartbeat_key(service), json.dumps(beat), ex=30)


def brain_env(database_url: str, stream_redis_url: str, var_dir: Path, port: int, **env: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": stream_redis_url,
        "TITAN_BRAIN_PORT": str(port),
        "TITAN_VAR_DIR": str(var_dir),
        "TITAN_RUN_ID": f"brain-test-{uuid.uuid4().hex[:6]}",
        "TITAN_EXCHANGE": f"b-{uuid.uuid4().hex[:8]}",
        "TITAN_MODE_SERVICES": "brain",
        "TITAN_MARKET_DATA": "false",
        # nothing answers here unless a test starts execution
        "TITAN_EXECUTION_PORT": str(free_ports(["execution"])["execution"]),
        **env,
    }


@asynccontextmanager
async def running_brain(
    database_url: str, redis_url: str, var_dir: Path, *, redis_db_index: int, flush: bool = True, **env: str
) -> AsyncIterator[BrainProcess]:
    stream_redis = redis_db(redis_url, redis_db_index)
    redis = make_redis(stream_redis)
    if flush:
        await redis.flushdb()
    port = free_ports(["brain"])["brain"]
    environment = brain_env(database_url, stream_redis, var_dir, port, **env)
    brain = BrainProcess(
        url=f"http://127.0.0.1:{port}",
        env=environment,
        redis=redis,
        var_dir=var_dir,
        exchange=environment["TITAN_EXCHANGE"],
    )
    try:
        brain.start()
        yield brain
    finally:
        for process in brain.processes:
            if process.poll() is None:
                terminate(process)
        await redis.aclose()
        engine = make_engine(database_url)
        try:
            await retire_created_intents(make_sessionmaker(engine), "brain-test")
        finally:
            await engine.dispose()


# --- the local OpenAI-compatible server --------------------------------------------------


@pytest.fixture(scope="package")
def openai_stub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StubServer]:
    with running_openai_stub(tmp_path_factory.mktemp("openai-stub")) as stub:
        yield stub
