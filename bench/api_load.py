"""The console's `/health` and `/api/status` under concurrent load, on the whole stack as
`titan up` runs it (bench/_stack.py: fresh database, simulator without demo bursts or
injected latency; disarmed, no trading).

Both answers are the aggregate of the system: the console asks the brain, execution and
the scavenger for their /health, reads the heartbeats in Redis, and /api/status also asks
the brain for its breaker and reads master arm and the kill switch from Postgres.

Load: --concurrency requests always in flight (default 200), for --seconds (default 10)
after a 2 s warm-up, per endpoint. The clients are httpx.AsyncClient, split over
--processes client processes (default 2, so one client process's CPU does not cap the
rate; each keeps concurrency/processes connections). Latency is measured by the client
from sending to the whole answer read, on the same machine, so the client's own CPU
share counts in it (the JSON shows the clients' CPU). As loopback GETs without
credentials, the requests pass as the local viewer (no password hashing on this path).

Figures per endpoint: requests/s (answers received in the window / window), p50/p95/p99/max
latency, status codes; each service's peak RSS and CPU share during the run. The brain's
`/health` is measured in the same run as the yardstick (a service answering from memory):
each console endpoint's requests/s is also stated as a ratio to it.

Prints one JSON object and appends a row per endpoint to docs/benchmarks.md.

Usage: python bench/api_load.py [--seconds 10] [--concurrency 200] [--processes 2] [--database-url URL]
Goals (issue 17): the console's /health and /api/status at >= 1/2 the brain /health's
requests/s in the same run, p99 <= 100 ms, at 200 concurrent requests; each service <= 150 MB RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil
from _stack import (
    PeakRss,
    Stack,
    bench_stack,
    latency_summary,
    machine,
    merge_rss,
    record,
    rss_cell,
    service_pids,
    wait_for,
)

# service:path; the brain's /health first, the yardstick the console's are compared with
ENDPOINTS = ("brain:/health", "console:/health", "console:/api/status")
P99_GOAL_MS = 100.0
RATIO_GOAL = 0.5
WARMUP_S = 2.0
SECTION = "## Console API under load, as a ratio to the brain's /health (`bench/api_load.py`)"
NOTE = """\
The console of a whole `titan up` stack (idle, disarmed), `concurrency` requests always in
flight from httpx.AsyncClient clients in `processes` processes on the same machine, for the
window after a 2 s warm-up. Latency is the client's (send to answer read), so it includes the
clients' own share of the two cores. RSS: each service's peak during the run, MiB. Goals:
the console's `/health` and `/api/status` at >= 1/2 of the brain `/health`'s requests/s measured in
the same run (the ratio column), p99 <= 100 ms at 200 concurrent requests, each Titan service
<= 150 MB."""
COLUMNS = (
    "date (UTC)",
    "machine",
    "endpoint (concurrency x processes)",
    "requests/s",
    "vs brain /health",
    "p50 / p95 / p99 / max ms",
    "non-200",
    "peak RSS MiB",
    "goals met",
)


# --- a client process ----------------------------------------------------------------------


async def _load(url: str, concurrency: int, start_at: float, seconds: float) -> tuple[list[float], dict[int, int]]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    measure_from = start_at + WARMUP_S
    end = measure_from + seconds
    async with httpx.AsyncClient(limits=limits, timeout=30) as http:
        await asyncio.sleep(max(0.0, start_at - time.time()))

        async def user() -> None:
            while (sent_at := time.time()) < end:
                started = time.perf_counter()
                try:
                    code = (await http.get(url)).status_code
                except httpx.HTTPError:
                    code = 0
                elapsed_ms = (time.perf_counter() - started) * 1000
                if sent_at >= measure_from:
                    latencies.append(elapsed_ms)
                    statuses[code] = statuses.get(code, 0) + 1

        await asyncio.gather(*(user() for _ in range(concurrency)))
    return latencies, statuses


def client(url: str, concurrency: int, start_at: float, seconds: float, results: Any) -> None:
    latencies, statuses = asyncio.run(_load(url, concurrency, start_at, seconds))
    times = psutil.Process().cpu_times()
    results.put((latencies, statuses, times.user + times.system))


# --- one endpoint ----------------------------------------------------------------------------


def run_endpoint(stack: Stack, target: str, seconds: float, concurrency: int, processes: int) -> dict[str, Any]:
    service, _, path = target.partition(":")
    url = stack.url(service) + path
    context = mp.get_context("fork")  # forked before any thread of ours runs
    results: Any = context.Queue()
    start_at = time.time() + 1.5
    shares = [concurrency // processes + (1 if i < concurrency % processes else 0) for i in range(processes)]
    workers = [context.Process(target=client, args=(url, n, start_at, seconds, results)) for n in shares]
    for worker in workers:
        worker.start()
    with PeakRss(service_pids(stack)) as rss:
        outcomes = [results.get(timeout=seconds + 120) for _ in workers]
    for worker in workers:
        worker.join()
    latencies = [ms for lat, _s, _c in outcomes for ms in lat]
    statuses: dict[str, int] = {}
    for _lat, codes, _cpu in outcomes:
        for code, n in codes.items():
            statuses[str(code)] = statuses.get(str(code), 0) + n
    client_cpu_s = sum(cpu for _l, _s, cpu in outcomes)
    summary = latency_summary(latencies)
    return {
        "endpoint": target,
        "concurrency": concurrency,
        "processes": processes,
        "seconds": seconds,
        "requests": len(latencies),
        "requests_per_s": round(len(latencies) / seconds, 1),
        "latency_ms": summary,
        "statuses": statuses,
        "non_200": sum(n for code, n in statuses.items() if code != "200"),
        # over warm-up and window: how much of the two cores the load generator itself took
        "clients_core_pct": round(100 * client_cpu_s / (seconds + WARMUP_S), 1),
        "rss": rss.result(),
        "cpu": rss.cpu(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--processes", type=int, default=2, help="client processes sharing the concurrency")
    parser.add_argument("--endpoints", default=",".join(ENDPOINTS))
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL") or os.environ.get("TEST_DATABASE_URL"))
    parser.add_argument("--profile", type=Path, help="run every service under cProfile; .pstats files go here")
    parser.add_argument("--no-record", action="store_true", help="print only; do not touch docs/benchmarks.md")
    args = parser.parse_args()
    if not args.database_url:
        parser.error("set --database-url (or DATABASE_URL / TEST_DATABASE_URL): a server to make a scratch database on")
    endpoints = [e.strip() for e in args.endpoints.split(",") if e.strip()]
    started = time.monotonic()
    with bench_stack("api", args.database_url, profile_dir=args.profile) as stack:
        wait_for(
            lambda: httpx.get(stack.url("console") + "/health", timeout=5).json()["status"] == "healthy",
            60,
            "the console to report the system healthy",
        )
        runs = [run_endpoint(stack, path, args.seconds, args.concurrency, args.processes) for path in endpoints]
    yardstick = next((r for r in runs if r["endpoint"] == "brain:/health"), None)
    for run in runs:
        base = yardstick["requests_per_s"] if yardstick else 0
        run["ratio_to_brain_health"] = round(run["requests_per_s"] / base, 3) if base else None
        run["goal_met"] = (
            run["endpoint"].startswith("console:")
            and run["ratio_to_brain_health"] is not None
            and run["ratio_to_brain_health"] >= RATIO_GOAL
            and run["latency_ms"]["n"] > 0
            and run["latency_ms"]["p99"] <= P99_GOAL_MS
            and not run["non_200"]
            and args.concurrency >= 200
        )
    result = {
        "benchmark": "api_load",
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        "machine": machine(),
        "runs": runs,
        "rss": merge_rss(*(r["rss"] for r in runs)),
        "goals": {"ratio_to_brain_health": RATIO_GOAL, "p99_ms": P99_GOAL_MS, "at_concurrency": 200, "rss_mb": 150},
        "total_seconds": round(time.monotonic() - started, 1),
    }
    print(json.dumps(result, indent=2))
    if not args.no_record:
        for run in runs:
            lat = run["latency_ms"]
            console_run = run["endpoint"].startswith("console:")
            met = run["rss"]["met"] and (run["goal_met"] if console_run else True)
            record(
                SECTION,
                NOTE,
                COLUMNS,
                (
                    result["date"],
                    result["machine"],
                    f"`{run['endpoint']}` ({run['concurrency']} x {run['processes']})",
                    run["requests_per_s"],
                    run["ratio_to_brain_health"] if console_run else "1 (yardstick)",
                    f"{lat['p50']} / {lat['p95']} / {lat['p99']} / {lat['max']}",
                    run["non_200"],
                    rss_cell(run["rss"]),
                    ("yes" if met else "no") + ("" if console_run else " (RSS)"),
                ),
            )


if __name__ == "__main__":
    main()
