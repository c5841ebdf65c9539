"""End-to-end latency: a signal's timestamp to the simulator receiving its order, on the whole
stack as `titan up` runs it (same machine, same clock).

The stack (bench/_stack.py): a fresh database, the simulator without demo bursts and with no
injected latency, its rate limits lifted (we measure Titan, not Bybit's 10 orders/s), and a
trading config saved before the start: every simulator symbol whitelisted, up to 50
positions, the breaker's loss counters out of the way. Armed through the console.

Per rate (--rates, default 100/s then 1,000/s), --signals signals (default 5,000) are XADDed
to titan:signals at that rate, cycling through the symbols (tests/e2e/stack.py `signal_at`
at the last price, a stop 20% away so fees barely move equity). The brain vetoes a second
signal on a symbol with a position or approved entry (DUPLICATE_POSITION), so a closer
closes every open position through execution's POST /positions/{symbol}/close as soon as
it appears in Postgres; the symbol is then free for the next signal.

Figures per rate:
- signal -> order: the simulator's `receivedTime` (GET /sim/orders) minus signals.ts_ms,
  joined orderLinkId = order_intents.client_order_id -> decisions -> signals in Postgres.
  Both clocks are the machine's wall clock in whole milliseconds.
- brain only: decisions.ts_ms - signals.ts_ms (the decision's timestamp is taken when its
  batch is evaluated, after the batch was read and the gates checked), for every decision
  of the run; and the brain's histogram titan_brain_signal_processing_latency_ms over the
  run (a batch's processing time, commit and intent XADD included; bucket bounds).
- how many signals became decisions, intents and orders, and how many were measured;
- each service's peak RSS (psutil) during the run.

Prints one JSON object and appends a row per rate to docs/benchmarks.md.

Usage: python bench/e2e_latency.py [--rates 100,1000] [--signals 5000] [--database-url URL]
Goals: p50 <= 3 ms and p99 <= 10 ms at 100 signals/s; each service <= 150 MB RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from _stack import (
    PeakRss,
    Stack,
    arm,
    bench_stack,
    bucket_quantile,
    histogram_buckets,
    latency_summary,
    machine,
    merge_rss,
    record,
    rss_cell,
    scrape,
    service_pids,
    trading_config,
    wait_for,
)
from redis.asyncio import Redis

from tests.e2e.stack import signal_at
from titan_common.bus import INTENTS, SIGNALS, StreamProducer, make_redis
from titan_common.clock import now_ms
from titan_common.messages import OrderIntent, Side, Signal
from titan_common.settings import plain_database_url
from titan_sim.core.instruments import DEFAULT_SYMBOLS

P50_GOAL_MS, P99_GOAL_MS, GOAL_RATE = 3.0, 10.0, 100.0
STOP_PCT = Decimal("0.2")
BRAIN_HISTOGRAM = "titan_brain_signal_processing_latency_ms"
SECTION = "## End-to-end latency (`bench/e2e_latency.py`)"
NOTE = """\
The whole stack as `titan up` runs it, on one machine: signals XADDed to `titan:signals`, a
closer freeing each symbol as soon as its position appears. signal -> order is the simulator's
`receivedTime` minus the signal's `ts_ms` (whole milliseconds, one clock); brain is
`decisions.ts_ms - signals.ts_ms` over every decision of the run (the brain's processing
histogram, by bucket bounds, in the JSON). Orders: signals that became orders on the
simulator / signals sent. RSS: each service's peak during the run, MiB. Goals: p50 <= 3 ms
and p99 <= 10 ms at 100/s, each Titan service <= 150 MB."""
COLUMNS = (
    "date (UTC)",
    "machine",
    "rate (signals)",
    "signal -> order p50 / p95 / p99 / max ms",
    "brain p50 / p99 / max ms",
    "orders measured / signals",
    "peak RSS MiB",
    "goals met",
)


class Prices:
    """Last prices of every symbol, refreshed in the background (a signal is built at the
    price of the moment, without a request per signal)."""

    def __init__(self, stack: Stack) -> None:
        self.url = stack.url("simulator") + "/v5/market/tickers?category=linear"
        self.last: dict[str, Decimal] = {}

    async def refresh(self, http: httpx.AsyncClient) -> None:
        body = (await http.get(self.url)).json()
        self.last = {row["symbol"]: Decimal(row["lastPrice"]) for row in body["result"]["list"]}

    async def run(self, stop: asyncio.Event) -> None:
        async with httpx.AsyncClient(timeout=10) as http:
            while not stop.is_set():
                await self.refresh(http)
                await asyncio.sleep(0.5)


async def open_symbols(pg: asyncpg.Connection) -> list[str]:
    """Open positions, oldest first."""
    rows = await pg.fetch("SELECT symbol FROM positions WHERE size > 0 ORDER BY opened_ms NULLS FIRST")
    return [row["symbol"] for row in rows]


class Closer:
    """Closes open positions through execution, oldest first, at most `rate` per second.

    Execution keeps to Bybit's order rate (10 trade calls/s, client side); an entry and its
    close are two. Closing at 4/s lets about 4 entries/s through, so orders never wait for
    that budget and the latency measured is Titan's, not the rate limiter's queue."""

    def __init__(self, stack: Stack, pg: asyncpg.Connection, rate: float) -> None:
        self.stack = stack
        self.pg = pg
        self.rate = rate
        self.asked: dict[str, float] = {}
        self.closes = 0
        self.errors = 0

    async def run(self, stop: asyncio.Event) -> None:
        url = self.stack.url("execution")
        headers = self.stack.internal_headers("bench")
        tokens, last = 1.0, time.monotonic()
        async with httpx.AsyncClient(timeout=10, headers=headers) as http:
            while not stop.is_set():
                now = time.monotonic()
                tokens, last = min(1.0, tokens + (now - last) * self.rate), now
                open_now = await open_symbols(self.pg)
                for symbol in set(self.asked) - set(open_now):
                    del self.asked[symbol]
                due = [s for s in open_now if now - self.asked.get(s, -1e9) > 3.0]  # again after 3 s if still open
                if due and tokens >= 1.0:
                    tokens -= 1.0
                    self.asked[due[0]] = now
                    try:
                        response = await http.post(f"{url}/positions/{due[0]}/close")
                        self.closes += response.status_code == 200
                        self.errors += response.status_code != 200
                    except httpx.HTTPError:
                        self.errors += 1
                await asyncio.sleep(0.02)


def plan(symbols: list[str]) -> itertools.cycle[tuple[str, Side]]:
    """Every symbol in turn, buying on one round and selling on the next."""
    return itertools.cycle([(s, Side.BUY) for s in symbols] + [(s, Side.SELL) for s in symbols])


async def inject(
    producer: StreamProducer[Signal], prices: Prices, symbols: list[str], rate: float, count: int, run_id: str
) -> dict[str, Any]:
    """`count` signals at `rate` per second, each stamped as it is sent."""
    order = plan(symbols)
    ids: list[str] = []
    behind = 0.0
    started = time.perf_counter()
    for i in range(count):
        delay = started + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            behind = max(behind, -delay)
        symbol, side = next(order)
        signal = signal_at(prices.last[symbol], symbol, side, run_id=run_id, stop_pct=STOP_PCT)
        await producer.publish(signal)
        ids.append(signal.signal_id)
    elapsed = time.perf_counter() - started
    return {"ids": ids, "seconds": round(elapsed, 2), "achieved_rate": round(count / elapsed, 1),
            "max_behind_ms": round(behind * 1000, 1)}  # fmt: skip


async def settle(pg: asyncpg.Connection, ids: list[str], timeout_s: float = 90) -> None:
    """Until every signal is decided and none of their intents is still on its way."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        decided = await pg.fetchval("SELECT count(*) FROM decisions WHERE signal_id = ANY($1)", ids)
        moving = await pg.fetchval(
            "SELECT count(*) FROM order_intents oi JOIN decisions d ON d.decision_id = oi.decision_id "
            "WHERE d.signal_id = ANY($1) AND oi.state IN ('CREATED', 'SENT_UNKNOWN')",
            ids,
        )
        if decided >= len(ids) and moving == 0:
            return
        await asyncio.sleep(0.25)
    raise SystemExit(f"signals not settled after {timeout_s:g}s: {decided}/{len(ids)} decided, {moving} in flight")


async def flat(pg: asyncpg.Connection, timeout_s: float = 60) -> None:
    """Until the closer has closed every position."""
    deadline = time.monotonic() + timeout_s
    while await open_symbols(pg):
        if time.monotonic() > deadline:
            raise SystemExit("positions still open after the run")
        await asyncio.sleep(0.2)


async def sim_receipts(stack: Stack) -> dict[str, int]:
    """orderLinkId -> when the simulator first received an order carrying it."""
    async with httpx.AsyncClient(timeout=60) as http:
        rows = (await http.get(stack.url("simulator") + "/sim/orders")).json()["list"]
    first: dict[str, int] = {}
    for row in rows:
        link = row["orderLinkId"]
        if link and (link not in first or row["receivedTime"] < first[link]):
            first[link] = int(row["receivedTime"])
    return first


async def intents_published(redis: Redis, since_ms: int) -> dict[str, int]:
    """intent_id -> when the brain XADDed it to titan:intents (a stream entry's id is its
    XADD time in ms, on Redis's clock: the same machine's)."""
    published = {}
    for entry_id, fields in await redis.xrange(INTENTS.name, min=f"{since_ms}-0", max="+"):
        intent = OrderIntent.model_validate_json(fields[b"data"])
        published[intent.intent_id] = int(entry_id.split(b"-")[0])
    return published


async def run_rate(
    stack: Stack,
    pg: asyncpg.Connection,
    redis: Redis,
    producer: StreamProducer[Signal],
    prices: Prices,
    closer: Closer,
    symbols: list[str],
    rate: float,
    count: int,
) -> dict[str, Any]:
    run_id = f"bench-e2e-{rate:g}"
    before = histogram_buckets(await scrape(stack.url("brain")), BRAIN_HISTOGRAM)
    closes_before = closer.closes
    started_ms = now_ms()
    with PeakRss(await asyncio.to_thread(service_pids, stack)) as rss:
        sent = await inject(producer, prices, symbols, rate, count, run_id)
        await settle(pg, sent["ids"])
        await flat(pg)
    after = histogram_buckets(await scrape(stack.url("brain")), BRAIN_HISTOGRAM)
    rows = await pg.fetch(
        "SELECT s.signal_id, s.ts_ms AS signal_ms, d.ts_ms AS decision_ms, d.verdict, d.reasons->>0 AS reason, "
        "oi.intent_id, oi.client_order_id, a.ts_ms AS sent_ms "
        "FROM signals s JOIN decisions d ON d.signal_id = s.signal_id "
        "LEFT JOIN order_intents oi ON oi.decision_id = d.decision_id "
        "LEFT JOIN audit_events a ON a.order_intent_id = oi.intent_id AND a.event_type = 'ORDER_SEND' "
        "WHERE s.signal_id = ANY($1)",
        sent["ids"],
    )
    received = await sim_receipts(stack)
    published = await intents_published(redis, started_ms)
    ordered = [r for r in rows if r["client_order_id"] in received]
    e2e = [received[r["client_order_id"]] - r["signal_ms"] for r in ordered]
    # where an order's time went: the brain reading and deciding, the brain writing and
    # publishing the intent, execution taking it up to its write-ahead, and the send itself
    traced = [r for r in ordered if r["sent_ms"] is not None and r["intent_id"] in published]
    stages = {
        "signal_to_decision": latency_summary([r["decision_ms"] - r["signal_ms"] for r in traced]),
        "decision_to_intent_xadd": latency_summary([published[r["intent_id"]] - r["decision_ms"] for r in traced]),
        "intent_xadd_to_write_ahead": latency_summary([r["sent_ms"] - published[r["intent_id"]] for r in traced]),
        "write_ahead_to_receipt": latency_summary([received[r["client_order_id"]] - r["sent_ms"] for r in traced]),
    }
    brain = [r["decision_ms"] - r["signal_ms"] for r in rows]
    approved_brain = [r["decision_ms"] - r["signal_ms"] for r in rows if r["client_order_id"]]
    outcomes: dict[str, int] = {}
    for r in rows:
        key = "APPROVE" if r["verdict"] == "APPROVE" else (r["reason"] or "VETO")
        outcomes[key] = outcomes.get(key, 0) + 1
    signal_to_order = latency_summary(e2e)
    result = {
        "rate_per_s": rate,
        "signals": count,
        "injection": {k: v for k, v in sent.items() if k != "ids"},
        "decisions": len(rows),
        "outcomes": dict(sorted(outcomes.items(), key=lambda kv: -kv[1])),
        "intents": sum(1 for r in rows if r["client_order_id"]),
        "orders_received": len(e2e),
        "closes": closer.closes - closes_before,
        "signal_to_order_ms": signal_to_order,
        "signal_to_order_stages_ms": stages,
        "brain_decision_ms": latency_summary(brain),
        "brain_decision_ms_approved": latency_summary(approved_brain),
        "brain_processing_ms_bucket": {
            "p50": bucket_quantile(before, after, 0.5),
            "p99": bucket_quantile(before, after, 0.99),
        },
        "rss": rss.result(),
        "cpu": rss.cpu(),
    }
    if rate == GOAL_RATE:
        result["latency_goal_met"] = bool(
            signal_to_order["n"] and signal_to_order["p50"] <= P50_GOAL_MS and signal_to_order["p99"] <= P99_GOAL_MS
        )
    return result


async def measure(stack: Stack, rates: list[float], count: int, close_rate: float) -> dict[str, Any]:
    symbols = list((await asyncio.to_thread(stack.sim, "GET", "/sim/health"))["symbols"])
    pg = await asyncpg.connect(plain_database_url(stack.database_url))
    closer_pg = await asyncpg.connect(plain_database_url(stack.database_url))  # one query at a time each
    redis = make_redis(stack.redis_url())
    producer: StreamProducer[Signal] = StreamProducer(redis, SIGNALS)
    prices = Prices(stack)
    closer = Closer(stack, closer_pg, close_rate)
    stop = asyncio.Event()
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            await prices.refresh(http)
        background = [asyncio.create_task(prices.run(stop)), asyncio.create_task(closer.run(stop))]
        # warm-up: one order per symbol, so every connection and cache is live before the clock runs
        warm = await inject(producer, prices, symbols, 20.0, len(symbols), "bench-e2e-warmup")
        await settle(pg, warm["ids"])
        await flat(pg)
        runs = [await run_rate(stack, pg, redis, producer, prices, closer, symbols, rate, count) for rate in rates]
        stop.set()
        await asyncio.gather(*background)
        return {"symbols": symbols, "close_rate_per_s": close_rate, "runs": runs, "closer_errors": closer.errors}
    finally:
        stop.set()
        await redis.aclose()
        await pg.close()
        await closer_pg.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="100,1000", help="signals per second, comma-separated, one run each")
    parser.add_argument("--signals", type=int, default=5000, help="signals per run")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL") or os.environ.get("TEST_DATABASE_URL"))
    parser.add_argument("--close-rate", type=float, default=4.0, help="positions closed per second, at most")
    parser.add_argument("--profile", type=Path, help="run every service under cProfile; .pstats files go here")
    parser.add_argument("--no-record", action="store_true", help="print only; do not touch docs/benchmarks.md")
    args = parser.parse_args()
    if not args.database_url:
        parser.error("set --database-url (or DATABASE_URL / TEST_DATABASE_URL): a server to make a scratch database on")
    rates = [float(r) for r in args.rates.split(",") if r.strip()]
    started = time.monotonic()
    with bench_stack(
        "e2e",
        args.database_url,
        config=trading_config(DEFAULT_SYMBOLS),
        profile_dir=args.profile,
        TITAN_SIM_TRADE_RATE_LIMIT="1000000",
        TITAN_SIM_QUERY_RATE_LIMIT="1000000",
    ) as stack:
        wait_for(
            lambda: httpx.get(stack.url("console") + "/api/status", timeout=5).json()["mode"] == "NORMAL",
            60,
            "the system to be NORMAL",
        )
        arm(stack)
        figures = asyncio.run(measure(stack, rates, args.signals, args.close_rate))
    result = {
        "benchmark": "e2e_latency",
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        "machine": machine(),
        **figures,
        "rss": merge_rss(*(run["rss"] for run in figures["runs"])),
        "goals": {"p50_ms": P50_GOAL_MS, "p99_ms": P99_GOAL_MS, "at_rate": GOAL_RATE, "rss_mb": 150},
        "total_seconds": round(time.monotonic() - started, 1),
    }
    print(json.dumps(result, indent=2))
    if not args.no_record:
        for run in result["runs"]:
            lat, brain = run["signal_to_order_ms"], run["brain_decision_ms"]
            latency_met = run.get("latency_goal_met")
            met = run["rss"]["met"] and latency_met is not False
            goals = ("yes" if met else "no") + ("" if latency_met is not None else " (RSS; latency goal is at 100/s)")
            record(
                SECTION,
                NOTE,
                COLUMNS,
                (
                    result["date"],
                    result["machine"],
                    f"{run['rate_per_s']:g}/s ({run['signals']})",
                    f"{lat['p50']} / {lat['p95']} / {lat['p99']} / {lat['max']}",
                    f"{brain['p50']} / {brain['p99']} / {brain['max']}",
                    f"{run['orders_received']} / {run['signals']}",
                    rss_cell(run["rss"]),
                    goals,
                ),
            )


if __name__ == "__main__":
    main()
