"""Redis stops under a whole stack (its own Redis server, so no other test's stack notices).

The console's snapshot can no longer be refreshed from heartbeats and events: `/health` says
so at once, degraded with the snapshot's age, and never waits on Redis. The emergency
actions (flatten, cancel-all, disarm, the kill switch) go over HTTP to execution and still
work; what only Redis carries (the scavenger's PAUSE on titan:control) is reported as not
done, never hidden.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.console.conftest import create_accounts
from tests.integration.console.stack import ADMIN, Stack, running_stack, until
from tests.integration.console.test_emergency import open_book, venue
from titan_common.auth.roles import Role

pytestmark = pytest.mark.integration
OPERATOR = ("redis-night-operator", "redis-night-operator-pass")


@pytest.fixture
def stack(tmp_path: Path, database_url: str) -> Iterator[Stack]:
    with running_stack(tmp_path, database_url) as live:
        asyncio.run(create_accounts(database_url, {OPERATOR[0]: (OPERATOR[1], Role.OPERATOR),
                                                   ADMIN[0]: (ADMIN[1], Role.ADMIN)}))  # fmt: skip
        yield live


def timed_health(console: httpx.Client) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    answer = console.get("/health")
    return (time.perf_counter() - started) * 1000, answer


async def venue_book(stack: Stack) -> tuple[int, int]:
    adapter = await venue(stack)
    try:
        positions = [p for p in await adapter.positions() if p.size > 0]
        return len(positions), len(await adapter.open_orders())
    finally:
        await adapter.close()


async def opened(stack: Stack) -> None:
    adapter = await venue(stack)
    try:
        await open_book(stack, adapter)
    finally:
        await adapter.close()


def test_redis_down_reads_degraded_with_its_age_and_every_emergency_action_still_works(stack: Stack) -> None:
    assert stack.redis_server is not None
    with httpx.Client(base_url=stack.console, timeout=30) as console:
        assert console.post("/api/console/master-arm", json={"enabled": True}, auth=ADMIN).status_code == 200
        asyncio.run(opened(stack))
        until(lambda: console.get("/positions", auth=OPERATOR).json()["count"] == 2, 30, "two positions seen")

        stack.redis_server.stop()
        until(lambda: any(p.startswith("redis unreachable") for p in console.get("/health").json()["problems"]),
              15, "the console says Redis is unreachable")  # fmt: skip
        time.sleep(1.5)  # the services' answers (over HTTP) are newer now than the last heartbeats read
        samples = [timed_health(console) for _ in range(20)]
        for _, answer in samples:
            body = answer.json()
            assert answer.status_code == 200, body
            assert body["status"] == "degraded", body["problems"]
            assert isinstance(body["as_of_ms"], int)
            assert body["age_ms"] >= 0
            assert body["problems"][0].startswith("redis unreachable: no heartbeats or events for"), body["problems"]
        # the snapshot is as old as the last heartbeats read: nothing refreshes it while Redis is away
        assert len({answer.json()["as_of_ms"] for _, answer in samples}) == 1
        ages = [answer.json()["age_ms"] for _, answer in samples]
        assert ages == sorted(ages), ages
        assert ages[0] >= 1_500, ages
        took = sorted(ms for ms, _ in samples)
        # it answers from memory: never a Redis timeout (3 s connect, 10 s read) in the way
        assert statistics.median(took) <= 100, took
        assert took[-1] <= 1_000, took
        status = console.get("/api/status", auth=OPERATOR)
        assert status.status_code == 200, status.text
        assert status.json()["health"] == "degraded", status.text

        # the emergency actions go over HTTP to execution: Redis is not in their way
        flattened = console.post("/api/console/flatten-all", json={}, auth=OPERATOR)
        assert flattened.status_code == 200, flattened.text
        assert flattened.json()["success"] is True, flattened.json()
        assert flattened.json()["positions_closed"] == 2, flattened.json()
        assert asyncio.run(venue_book(stack))[0] == 0
        assert console.get("/positions", auth=OPERATOR).json()["count"] == 0  # the snapshot followed

        cancelled = console.post("/api/console/cancel-all", json={}, auth=OPERATOR)
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["success"] is True, cancelled.text
        assert asyncio.run(venue_book(stack)) == (0, 0)

        disarmed = console.post("/api/console/master-arm", json={"enabled": False}, auth=OPERATOR)
        assert disarmed.status_code == 200, disarmed.text
        assert disarmed.json()["master_arm"] is False, disarmed.text
        assert console.get("/api/status", auth=OPERATOR).json()["masterArm"] is False

        code = console.post("/api/console/kill-switch", json={}, auth=OPERATOR).json()["confirmation_code"]
        fired = console.post("/api/console/kill-switch", json={"confirmation_code": code}, auth=OPERATOR)
        assert fired.status_code == 200, fired.text
        steps = {s["step"]: s for s in fired.json()["steps"]}
        assert all(steps[name]["success"] for name in ("flatten", "cancel_all", "disarm", "pause_system")), steps
        assert steps["pause_system"]["receivers"].startswith("not broadcast"), steps["pause_system"]
        assert steps["pause_system"]["persisted"] is True  # the flag in Postgres holds the PAUSE
        assert steps["pause_scavenger"]["success"] is False  # only Redis carries it: said, not hidden
        assert fired.json()["mode"] == "PAUSE"
        assert console.get("/api/console/kill-switch", auth=OPERATOR).json()["engaged"] is True

        stack.redis_server.start(same_port=True)
        until(lambda: not any(p.startswith("redis") for p in console.get("/health").json()["problems"]),
              30, "the console sees Redis back")  # fmt: skip
