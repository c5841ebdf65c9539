"""The console's `/health` and `/api/status` under concurrent load, on the whole stack as
`titan up` runs it (bench/_stack.py: fresh database, simulator without demo bursts or
injected latency; disarmed, no trading).

Both answers are the aggregate of the system, composed from the console's snapshot (its
loops ask every service's /health each second and read the heartbeats; master arm, the
breaker and the kill switch as the last event or the console's own action left them): the
cost measured is the console's own, not a fan-out per request.

Load: --concurrency connections always busy (default 200), for --seconds (default 10) after
a 2 s warm-up, per endpoint. With wrk installed (`apt-get install wrk`; --load wrk, the
default then): `wrk -t1 -c200 --latency`, whose one event-driven thread takes a small share
of the two cores. Otherwise httpx.AsyncClient clients in --processes processes (default 2),
whose own CPU shows in the JSON. Latency is the client's, send to answer read, on the same
machine. As loopback GETs without credentials, the requests pass as the local viewer (no
password hashing on this path).

Figures per endpoint: requests/s (answers received in the window / window), p50/p95/p99/max
latency, status codes; each service's peak RSS and CPU share during the run. The brain's
`/health` is measured in the same run as the yardstick (a service answering from memory):
each console endpoint's requests/s is also stated as a ratio to it.

Prints one JSON object and appends a row per endpoint to docs/benchmarks.md.

Usage: python bench/api_load.py [--seconds 10] [--concurrency 200] [--load wrk|python] [--database-url URL]
Goals (issue 17): the console's /health and /api/status at >= 1/2 the brain /health's
requests/s in the same run, p99 <= 100 ms, at 200 concurrent requests; each service <= 150 MB RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import shutil
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil
from _report import record
from _stack import (
    PeakRss,
    Stack,
    bench_stack,
    latency_summary,
    machine,
    merge_rss,
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
SECTION_WRK = "## Console API under load from wrk, as a ratio to the brain's /health (`bench/api_load.py`)"
NOTE_WRK = """\
The console of a whole `titan up` stack (idle, disarmed) under `wrk -c<connections>
-t<threads> --latency` on the same machine, for the window after a 2 s warm-up run; the brain's
`/health` (an answer from memory) is measured in the same run as the yardstick. wrk is C and
event-driven, so far less of the two cores goes to the load generator than with Python clients.
Latency is wrk's (send to answer read). RSS: each service's peak during the run, MiB. Goals:
the console's `/health` and `/api/status` at >= 1/2 of the brain `/health`'s requests/s (the
ratio column), p99 <= 100 ms at 200 connections, each Titan service <= 150 MB."""
COLUMNS_WRK = (
    "date (UTC)",
    "machine",
    "endpoint (connections x threads)",
    "requests/s",
    "vs brain /health",
    "p50 / p90 / p99 / max ms",
    "non-2xx or socket errors",
    "peak RSS MiB",
    "goals met",
)
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


# --- one endpoint, with wrk ---------------------------------------------------------------------

WRK_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _wrk_ms(text: str) -> float:
    number = text.rstrip("usm")
    return round(float(number) * WRK_UNITS[text[len(number) :]], 3)


def parse_wrk(output: str) -> dict[str, Any]:
    """wrk --latency's report: requests/s, the latency distribution, errors and non-2xx."""
    figures: dict[str, Any] = {"latency_ms": {}, "non_200": 0, "socket_errors": 0}
    lines = output.splitlines()
    for index, line in enumerate(lines):
        words = line.split()
        if line.strip().startswith("Latency Distribution"):
            for row in lines[index + 1 : index + 5]:
                percent, value = row.split()
                figures["latency_ms"]["p" + percent.rstrip("%")] = _wrk_ms(value)
        elif words[:1] == ["Latency"] and len(words) >= 4:
            figures["latency_ms"]["mean"] = _wrk_ms(words[1])
            figures["latency_ms"]["max"] = _wrk_ms(words[3])
        elif line.startswith("Requests/sec:"):
            figures["requests_per_s"] = float(words[1])
        elif "requests in" in line:
            figures["requests"] = int(words[0])
        elif line.strip().startswith("Non-2xx or 3xx responses:"):
            figures["non_200"] = int(words[-1])
        elif line.strip().startswith("Socket errors:"):
            figures["socket_errors"] = sum(int(part.split()[-1]) for part in line.split(":", 1)[1].split(","))
    return figures


def run_endpoint_wrk(stack: Stack, target: str, seconds: float, concurrency: int, threads: int) -> dict[str, Any]:
    """wrk (C, event-driven) keeps `concurrency` connections busy from `threads` threads; its
    own CPU is a small share next to a Python client's, so the service is what is measured."""
    service, _, path = target.partition(":")
    url = stack.url(service) + path
    wrk = shutil.which("wrk")
    assert wrk is not None
    base = [wrk, f"-t{threads}", f"-c{concurrency}", "--latency", "--timeout", "10s"]
    subprocess.run([*base, f"-d{int(WARMUP_S)}s", url], capture_output=True, text=True, check=True)  # warm-up
    with PeakRss(service_pids(stack)) as rss:
        done = subprocess.run([*base, f"-d{int(seconds)}s", url], capture_output=True, text=True, check=True)
    figures = parse_wrk(done.stdout)
    lat = figures["latency_ms"]
    return {
        "endpoint": target,
        "load": "wrk",
        "concurrency": concurrency,
        "processes": threads,
        "seconds": seconds,
        "requests": figures.get("requests", 0),
        "requests_per_s": round(figures.get("requests_per_s", 0.0), 1),
        "latency_ms": {"n": figures.get("requests", 0), **{k: lat.get(k) for k in ("p50", "p75", "p90", "p99", "max")}},
        "non_200": figures["non_200"] + figures["socket_errors"],
        "socket_errors": figures["socket_errors"],
        "rss": rss.result(),
        "cpu": rss.cpu(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument(
        "--processes",
        type=int,
        default=None,
        help="client processes sharing the load (default 2), or wrk threads (default 1: one "
        "event-driven thread drives 200 connections, a second would take the service's core)",
    )
    parser.add_argument(
        "--load",
        choices=("wrk", "python"),
        default="wrk" if shutil.which("wrk") else "python",
        help="the load generator: wrk when installed (apt-get install wrk), else httpx clients",
    )
    parser.add_argument("--endpoints", default=",".join(ENDPOINTS))
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL") or os.environ.get("TEST_DATABASE_URL"))
    parser.add_argument("--profile", type=Path, help="run every service under cProfile; .pstats files go here")
    parser.add_argument("--no-record", action="store_true", help="print only; do not touch docs/benchmarks.md")
    args = parser.parse_args()
    if not args.database_url:
        parser.error("set --database-url (or DATABASE_URL / TEST_DATABASE_URL): a server to make a scratch database on")
    endpoints = [e.strip() for e in args.endpoints.split(",") if e.strip()]
    if args.processes is None:
        args.processes = 1 if args.load == "wrk" else 2
    started = time.monotonic()
    with bench_stack("api", args.database_url, profile_dir=args.profile) as stack:
        wait_for(
            lambda: httpx.get(stack.url("console") + "/health", timeout=5).json()["status"] == "healthy",
            60,
            "the console to report the system healthy",
        )
        measure = run_endpoint_wrk if args.load == "wrk" else run_endpoint
        runs = [measure(stack, path, args.seconds, args.concurrency, args.processes) for path in endpoints]
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
        wrk = args.load == "wrk"
        for run in runs:
            lat = run["latency_ms"]
            console_run = run["endpoint"].startswith("console:")
            met = run["rss"]["met"] and (run["goal_met"] if console_run else True)
            record(
                SECTION_WRK if wrk else SECTION,
                NOTE_WRK if wrk else NOTE,
                COLUMNS_WRK if wrk else COLUMNS,
                (
                    result["date"],
                    result["machine"],
                    f"`{run['endpoint']}` ({run['concurrency']} x {run['processes']})",
                    run["requests_per_s"],
                    run["ratio_to_brain_health"] if console_run else "1 (yardstick)",
                    f"{lat['p50']} / {lat['p90' if wrk else 'p95']} / {lat['p99']} / {lat['max']}",
                    run["non_200"],
                    rss_cell(run["rss"]),
                    ("yes" if met else "no") + ("" if console_run else " (RSS)"),
                ),
            )


if __name__ == "__main__":
    main()
