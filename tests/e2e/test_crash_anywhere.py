"""Crash anywhere: during active trading, kill -9 each service in turn (brain, execution,
scavenger, console) and Redis once. The supervisor brings each back, and after every
crash these hold:

- no orderLinkId was accepted twice by the simulator;
- no open position lacks a stop;
- the shadow state equals the simulator's positions within one reconcile interval;
- nothing that was audited (written to a JSONL mirror) is missing from Postgres.

Trading here is driven by signals published straight onto titan:signals (as the
scavenger would), so it does not wait on market-made traps, and by periodic closes
through execution's API, so orders keep flowing.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.e2e.stack import ADMIN, Stack, running_stack, signal_for, wait_until
from tests.processes import ready_ok
from titan_common.bus import SIGNALS, StreamProducer, make_redis
from titan_common.config import BreakerConfig, TradingConfig, save_config
from titan_common.db.engine import make_engine, make_sessionmaker, transaction
from titan_common.db.models import AuditEvent, OrderIntentRow
from titan_common.exchanges.bybit import BybitAdapter, BybitConfig
from titan_common.messages import Side

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

RECONCILE_INTERVAL_S = 10
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT")
VICTIMS = ("brain", "execution", "scavenger", "console", "redis")


@pytest.fixture(scope="module")
def stack(postgres_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(
        postgres_server_url,
        tmp_path_factory.mktemp("crash"),
        TITAN_RECONCILE_INTERVAL_S=str(RECONCILE_INTERVAL_S),
        TITAN_SIM_DEMO_BURSTS="false",
    ) as running:
        yield running


class Activity:
    """Signals every ~0.7 s and a close every ~4 s, until paused; survives Redis going away."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.running = asyncio.Event()
        self.published = 0
        self.closes = 0
        self.last_error = ""

    async def run(self, stop: asyncio.Event) -> None:
        plan = itertools.cycle([(s, side) for s in SYMBOLS for side in (Side.BUY, Side.SELL)])
        ticks = 0
        redis = None
        async with httpx.AsyncClient(timeout=10) as http:
            while not stop.is_set():
                await self.running.wait()
                ticks += 1
                try:
                    if redis is None:
                        redis = make_redis(self.stack.redis_url())
                    symbol, side = next(plan)
                    await StreamProducer(redis, SIGNALS).publish(await signal_for(self.stack, symbol, side))
                    self.published += 1
                    if ticks % 6 == 0:
                        positions = (await http.get(self.stack.url("execution") + "/positions")).json()["positions"]
                        if positions:
                            symbol = positions[ticks % len(positions)]["symbol"]
                            await http.post(
                                self.stack.url("execution") + f"/positions/{symbol}/close",
                                headers=self.stack.internal_headers(),
                            )
                            self.closes += 1
                except Exception as exc:  # a crashed service or Redis mid-call: carry on, that is the point
                    self.last_error = f"{type(exc).__name__}: {exc}"
                    if redis is not None:
                        with contextlib.suppress(Exception):
                            await redis.aclose()
                    redis = None
                await asyncio.sleep(0.7)
        if redis is not None:
            await redis.aclose()


@contextlib.asynccontextmanager
async def trading(stack: Stack) -> AsyncIterator[Activity]:
    activity = Activity(stack)
    stop = asyncio.Event()
    task = asyncio.create_task(activity.run(stop))
    try:
        yield activity
    finally:
        stop.set()
        activity.running.set()
        await asyncio.wait_for(task, timeout=30)


def kill(stack: Stack, victim: str) -> None:
    """kill -9 the victim, then wait for the supervisor to bring it (and everyone) back."""
    if victim == "redis":
        os.kill(stack.redis_process().pid, signal.SIGKILL)
        wait_until(lambda: "CRASH redis exited" in stack.log(), 30, "the supervisor to notice redis died")
    else:
        old = stack.pid(victim)
        os.kill(old, signal.SIGKILL)
        wait_until(lambda: stack.pid(victim) != old, 60, f"{victim} to be restarted")
    for name in ("brain", "execution", "scavenger"):
        wait_until(
            lambda name=name: ready_ok(httpx.get(stack.url(name) + "/health", timeout=3).json()),
            90,
            f"{name} ok again after {victim} was killed",
        )
    # the console's /health is the system's aggregate: healthy once every part is
    wait_until(
        lambda: httpx.get(stack.url("console") + "/health", timeout=3).json()["status"] == "healthy",
        90,
        f"the console's aggregate healthy again after {victim} was killed",
    )


async def settled(sessions: async_sessionmaker[AsyncSession], timeout: float = 30) -> None:
    """No intent still on its way (CREATED or SENT_UNKNOWN)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        async with sessions() as session:
            pending = await session.scalar(
                select(func.count()).where(OrderIntentRow.state.in_(["CREATED", "SENT_UNKNOWN"]))
            )
        if pending == 0:
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"{pending} intents still CREATED/SENT_UNKNOWN after {timeout}s")


def audited_ids(var_dir: Path) -> set[str]:
    ids = set()
    for path in (var_dir / "audit").glob("*.jsonl"):
        for line in path.read_text().splitlines():
            with contextlib.suppress(ValueError, KeyError):
                ids.add(json.loads(line)["event_id"])
    return ids


@pytest.mark.timeout(900)
async def test_every_crash_keeps_orders_unique_positions_protected_state_true_and_audit_whole(
    stack: Stack,
) -> None:
    engine = make_engine(stack.database_url)
    sessions = make_sessionmaker(engine)
    creds = stack.sim_credentials()
    adapter = BybitAdapter(BybitConfig(stack.url("simulator"), creds["api_key"], creds["api_secret"]))
    try:
        # losses from our quick closes must not trip the breaker: that is not under test here
        async with transaction(sessions) as session:
            await save_config(
                session,
                TradingConfig(breaker=BreakerConfig(consecutive_losses=10_000)),
                operator_id="e2e",
                comment="crash test: breaker on losses out of the way",
            )
        armed = httpx.post(
            stack.url("console") + "/api/console/master-arm",
            json={"enabled": True, "operator_id": "ops"},
            auth=ADMIN,
            timeout=10,
        )
        assert armed.status_code == 200, armed.text
        async with trading(stack) as activity:
            activity.running.set()
            try:
                await asyncio.to_thread(
                    wait_until, lambda: len(stack.accepted_orders_by_link_id()) >= 3, 90, "the first orders"
                )
            except AssertionError as exc:
                raise AssertionError(f"{exc}; {activity.published} signals published, {activity.last_error}") from None
            for victim in VICTIMS:
                before = len(stack.accepted_orders_by_link_id())
                activity.running.set()
                await asyncio.sleep(4)  # active trading...
                await asyncio.to_thread(kill, stack, victim)  # ...when the victim dies
                await asyncio.sleep(4)  # and trading goes on
                activity.running.clear()
                await settled(sessions)

                orders = stack.accepted_orders_by_link_id()
                twice = {link: n for link, n in orders.items() if n > 1}
                assert not twice, f"after killing {victim}: orderLinkIds accepted more than once: {twice}"
                assert all(link.startswith("t-") for link in orders)

                live = [p for p in await adapter.positions() if p.size > 0]
                unprotected = [p.symbol for p in live if p.stop_loss is None]
                assert not unprotected, f"after killing {victim}: positions without a stop: {unprotected}"

                verify = await asyncio.to_thread(
                    wait_until,
                    lambda: (
                        (r := httpx.get(stack.url("execution") + "/positions/verify", timeout=10).json())["ok"] and r
                    ),
                    RECONCILE_INTERVAL_S + 15,
                    f"the shadow state to equal the simulator after killing {victim}",
                )
                # one moment: the venue can close a position (its stop) after `live` was read
                assert verify["shadow_count"] == verify["exchange_count"]

                expected = audited_ids(stack.root / "var")
                deadline = time.monotonic() + 20
                while True:
                    async with sessions() as session:
                        stored = set((await session.scalars(select(AuditEvent.event_id))).all())
                    missing = expected - stored
                    if not missing or time.monotonic() > deadline:
                        break
                    await asyncio.sleep(0.5)
                assert not missing, f"after killing {victim}: {len(missing)} audited events not in Postgres"
                print(f"{victim}: orders {before} -> {len(orders)}, positions {len(live)}, audited {len(expected)}")
            assert activity.published > 20
            assert activity.closes > 0
        assert len(stack.accepted_orders_by_link_id()) > 10
    finally:
        await adapter.close()
        await engine.dispose()
