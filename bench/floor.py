"""The machine's floor for Titan's hot path, measured now: what a signal -> order path cannot
beat on this machine, from one asyncio process.

- commit: one small row INSERTed and COMMITted on the same Postgres (asyncpg, one
  connection; the write-ahead row is such a commit);
- hop: XADD on one connection -> a blocked XREADGROUP on another, same Redis (a signal
  and an intent each make one such hop);
- http: a round trip to the simulator over a persistent connection (GET /v5/market/time),
  the venue call at the end of the path.

The floor of the path is two commits, two hops and one HTTP round trip (p50s added; the
p99 likewise). e2e_latency.py runs this first and states its figures as ratios to it.

Prints one JSON object and appends a row to docs/benchmarks.md.

Usage: python bench/floor.py [--samples 2000] [--database-url URL] [--redis-url URL] [--sim-url URL]
(without --sim-url a simulator is started on a free port for the run)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from _report import record
from _stack import ROOT, latency_summary, machine
from redis.asyncio import Redis

from tests.processes import free_ports, start_service, terminate, wait_for_health

SECTION = "## Floor: commit, stream hop, venue round trip (bench/floor.py)"
NOTE = """The machine's own floor, from one asyncio process: a small-row commit on the
test Postgres, an XADD -> blocked XREADGROUP hop on the test Redis, and a round trip to the
simulator over a persistent connection. The path's floor is 2 commits + 2 hops + 1 round trip."""
COLUMNS = ["date (UTC)", "machine", "samples", "commit p50 / p99 ms", "hop p50 / p99 ms", "http p50 / p99 ms",
           "path floor p50 / p99 ms"]  # fmt: skip


async def timed(samples: int, once: Callable[[], Awaitable[None]]) -> list[float]:
    for _ in range(min(50, samples)):  # warm up: connections, caches, the JIT-less first calls
        await once()
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        await once()
        times.append((time.perf_counter() - started) * 1000)
    return times


async def commit_floor(database_url: str, samples: int) -> list[float]:
    connection = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    table = f"floor_probe_{uuid.uuid4().hex[:8]}"
    try:
        await connection.execute(f"CREATE TABLE {table} (id bigserial PRIMARY KEY, ts_ms bigint, payload jsonb)")

        async def once() -> None:
            async with connection.transaction():
                await connection.execute(
                    f"INSERT INTO {table} (ts_ms, payload) VALUES ($1, $2)",  # noqa: S608 - our own name
                    int(time.time() * 1000),
                    '{"state": "SENT_UNKNOWN"}',
                )

        return await timed(samples, once)
    finally:
        await connection.execute(f"DROP TABLE IF EXISTS {table}")
        await connection.close()


async def hop_floor(redis_url: str, samples: int) -> list[float]:
    writer, reader = Redis.from_url(redis_url), Redis.from_url(redis_url)
    stream, group = f"floor:{uuid.uuid4().hex[:8]}", "floor"
    await writer.xgroup_create(stream, group, id="$", mkstream=True)
    received: asyncio.Queue[float] = asyncio.Queue()
    done = asyncio.Event()

    async def consume() -> None:
        while not done.is_set():
            answer = await reader.xreadgroup(group, "c", {stream: ">"}, count=1, block=1000)
            for _name, entries in answer or []:
                for entry_id, _fields in entries:
                    received.put_nowait(time.perf_counter())
                    await reader.xack(stream, group, entry_id)

    consumer = asyncio.create_task(consume())
    try:
        await asyncio.sleep(0.1)  # the reader is blocked in XREADGROUP

        async def once() -> None:
            sent = time.perf_counter()
            await writer.xadd(stream, {"data": '{"intent": "x"}'})
            arrived = await received.get()
            # the hop ends when the reader has the entry, not when the writer's answer returns
            hops.append((arrived - sent) * 1000)

        hops: list[float] = []
        await timed(samples, once)
        return hops[-samples:]
    finally:
        # a read blocked in XREADGROUP is ended by one more entry, never cancelled mid-read
        done.set()
        await writer.xadd(stream, {"data": "end"})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(consumer, timeout=5)
        await writer.delete(stream)
        await writer.aclose()
        await reader.aclose()


@contextlib.asynccontextmanager
async def simulator(sim_url: str | None, work: Path) -> AsyncIterator[str]:
    if sim_url:
        yield sim_url
        return
    ports = free_ports(["simulator", "mexc"])
    env = {
        "TITAN_SIMULATOR_PORT": str(ports["simulator"]),
        "TITAN_SIM_MEXC_PORT": str(ports["mexc"]),
        "TITAN_VAR_DIR": str(work),
        "TITAN_SIM_BACKFILL_MINUTES": "60",
        "TITAN_SIM_PUBLIC_RATE_LIMIT": "1000000",  # the round trips come faster than Bybit's 600/s
    }
    process = start_service("simulator", env, work / "simulator.out")
    url = f"http://127.0.0.1:{ports['simulator']}"
    try:
        wait_for_health(url, timeout=60)
        yield url
    finally:
        terminate(process)


async def http_floor(url: str, samples: int) -> list[float]:
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:

        async def once() -> None:
            response = await http.get("/v5/market/time")
            response.raise_for_status()
            if response.json().get("retCode") != 0:  # a rate-limited answer is cheaper: not a floor
                raise SystemExit(f"the simulator refused the floor's request: {response.text}")

        return await timed(samples, once)


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    work = ROOT / "var" / "bench" / f"floor-{uuid.uuid4().hex[:6]}"
    work.mkdir(parents=True, exist_ok=True)
    commits = latency_summary(await commit_floor(args.database_url, args.samples), 3)
    hops = latency_summary(await hop_floor(args.redis_url, args.samples), 3)
    async with simulator(args.sim_url, work) as url:
        round_trips = latency_summary(await http_floor(url, args.samples), 3)
    path = {
        q: round(2 * commits[q] + 2 * hops[q] + round_trips[q], 3)
        for q in ("p50", "p99")
    }  # fmt: skip
    return {
        "benchmark": "floor",
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        "machine": machine(),
        "samples": args.samples,
        "commit_ms": commits,
        "hop_ms": hops,
        "http_ms": round_trips,
        "path_floor_ms": path,
    }


def pair(summary: dict[str, Any]) -> str:
    return f"{summary['p50']} / {summary['p99']}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
        or "postgresql://postgres@127.0.0.1:5432/test",
    )  # fmt: skip
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("TEST_REDIS_URL") or os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0",
    )
    parser.add_argument("--sim-url", default=None)
    parser.add_argument("--no-record", action="store_true", help="print only; append nothing to docs/benchmarks.md")
    args = parser.parse_args()
    result = asyncio.run(measure(args))
    print(json.dumps(result, indent=2))
    if not args.no_record:
        cells = [result["date"], result["machine"], result["samples"], pair(result["commit_ms"]),
                 pair(result["hop_ms"]), pair(result["http_ms"]), pair(result["path_floor_ms"])]  # fmt: skip
        record(SECTION, NOTE, COLUMNS, cells)


if __name__ == "__main__":
    main()
