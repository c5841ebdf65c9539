"""End-to-end latency: a signal's timestamp to the simulator receiving its order, on the whole
stack as `titan up` runs it (same machine, same clock), as a ratio to the machine's floor
measured in the same run.

The stack (bench/_stack.py): a fresh database, the simulator without demo bursts and with no
injected latency, trading --symbols symbols (default 100: its ten and made-up ones), its
rate limits lifted and execution's own order-rate budget lifted likewise (we measure Titan,
not Bybit's 10 orders/s), and a trading config saved before the start: every symbol
whitelisted, one position per symbol allowed, the breaker's loss counters out of the way.
Armed through the console.

First a warm-up (one order per symbol), then the floor (bench/floor.py on this stack's own
Postgres, Redis and simulator: 2 commits + 2 stream hops + 1 HTTP round trip). Then per rate
(--rates, default 100/s), --signals signals (default 9,000) are XADDed to titan:signals at
that rate, cycling through the symbols (tests/e2e/stack.py `signal_at` at the last price, a
stop 30% away: small notionals, so the margin holds the open positions, and fees barely
move equity). The brain vetoes a second signal on a symbol with a position or approved
entry (DUPLICATE_POSITION), so a closer closes every position as soon as execution announces
it open, as the brain's exits go (an EXIT intent on titan:intents); the symbol is then
free for its next signal. How many signals become orders is bounded by how many entry and
exit round trips the machine sustains (about one signal in seven here, so 9,000 signals
give more than 1,000 orders).

Figures per rate:
- signal -> order: the simulator's `receivedTime` (GET /sim/orders) minus signals.ts_ms,
  joined orderLinkId = order_intents.client_order_id -> decisions -> signals in Postgres.
  Both clocks are the machine's wall clock in whole milliseconds. Its ratio to the floor:
  p50 over the floor's p50, p99 over the floor's p99;
- where the time went, by stage (signal -> decision -> intent XADD -> write-ahead -> receipt);
- brain only: decisions.ts_ms - signals.ts_ms, and the brain's processing histogram;
- how many signals became decisions, intents and orders, and how many were measured;
- each service's peak RSS (psutil) during the run.

Prints one JSON object and appends a row per rate to docs/benchmarks.md.

Usage: python bench/e2e_latency.py [--rates 100] [--signals 9000] [--symbols 40] [--database-url URL]
Goals (issue 17): at 100 signals/s, >= 1,000 orders measured, p50 <= 3x and p99 <= 10x the
floor; each Titan service <= 150 MB RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import floor
import httpx
from _report import record
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
    rss_cell,
    scrape,
    service_pids,
    trading_config,
    wait_for,
)
from redis.asyncio import Redis

from tests.e2e.stack import signal_at
from titan_common.bus import EVENTS, INTENTS, SIGNALS, StreamProducer, Subscriber, make_redis
from titan_common.clock import now_ms
from titan_common.events import EventType, PositionUpdate
from titan_common.messages import Correlation, OrderIntent, Side, Signal, exit_intent
from titan_common.settings import plain_database_url
from titan_sim.core.instruments import DEFAULT_SYMBOLS

# goals (issue 17): at 100 signals/s, >= 1,000 orders measured, signal -> order p50 <= 3x the
# floor's p50 and p99 <= 10x the floor's p99, the floor measured in the same run
P50_FLOOR_MULTIPLE, P99_FLOOR_MULTIPLE, GOAL_RATE, ORDERS_GOAL = 3.0, 10.0, 100.0, 1000
STOP_PCT = Decimal("0.3")
BRAIN_HISTOGRAM = "titan_brain_signal_processing_latency_ms"
SECTION = "## End-to-end latency, as a ratio to the floor (`bench/e2e_latency.py`)"
NOTE = """\
The whole stack as `titan up` runs it, on one machine, trading `--symbols` symbols (the
simulator's ten and made-up ones): signals XADDed to `titan:signals` at the rate, a closer
closing each position through execution as soon as it appears, so its symbol is free for the
next signal. The floor (bench/floor.py: 2 commits + 2 stream hops + 1 HTTP round trip, on the
stack's own Postgres, Redis and simulator) is measured in the same run, just before. signal ->
order is the simulator's `receivedTime` minus the signal's `ts_ms` (whole milliseconds, one
clock); the ratio is p50 over the floor's p50 and p99 over the floor's p99. brain is
`decisions.ts_ms - signals.ts_ms`. Orders: signals that became orders on the simulator /
signals sent. RSS: each service's peak during the run, MiB. Goals at 100 signals/s: >= 1,000
orders, p50 <= 3x and p99 <= 10x the floor, each Titan service <= 150 MB."""
COLUMNS = (
    "date (UTC)",
    "machine",
    "rate (signals)",
    "floor p50 / p99 ms",
    "signal -> order p50 / p95 / p99 / max ms",
    "vs floor p50 / p99",
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
        rows = (body.get("result") or {}).get("list")
        if rows:  # an error answer (retCode != 0) keeps the last prices
            self.last = {row["symbol"]: Decimal(row["lastPrice"]) for row in rows}
        else:
            print(f"tickers not refreshed: {body.get('retCode')} {body.get('retMsg')}", file=sys.stderr)

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
    """Closes every position as soon as execution announces it open (POSITION_UPDATE on
    titan:events), the way the brain's exits go: an EXIT intent on titan:intents, through
    execution's one door, so its symbol is free for the next signal. A sweep of Postgres
    every second catches what an event did not. Execution's own order-rate budget is lifted
    for the run (TITAN_BYBIT_TRADE_RATE_PER_S), like the simulator's: an entry and its close
    are two orders, and the latency measured must be Titan's, not a rate limiter's queue."""

    def __init__(self, stack: Stack, pg: asyncpg.Connection, redis: Redis) -> None:
        self.stack = stack
        self.pg = pg
        self.redis = redis
        self.producer: StreamProducer[OrderIntent] = StreamProducer(redis, INTENTS)
        self.asked: dict[str, float] = {}
        self.closes = 0

    async def close(self, symbol: str, side: Side, size: Decimal) -> None:
        now = time.monotonic()
        if now - self.asked.get(symbol, -1e9) <= 3.0:  # asked already; again after 3 s if still open
            return
        self.asked[symbol] = now
        closing = exit_intent(symbol, side, size, origin="BENCH_CLOSE", correlation=Correlation(run_id="bench-close"),
                              ts_ms=now_ms())  # fmt: skip
        await self.producer.publish(closing)
        self.closes += 1

    async def run(self, stop: asyncio.Event) -> None:
        await asyncio.gather(self._on_events(stop), self._sweep(stop))

    async def _on_events(self, stop: asyncio.Event) -> None:
        async for event in Subscriber(self.redis, EVENTS).messages(stop):
            if event.event_type != EventType.POSITION_UPDATE:
                continue
            position = PositionUpdate.model_validate(event.payload)
            if position.side is None or position.size <= 0:
                self.asked.pop(position.symbol, None)
            else:
                await self.close(position.symbol, position.side, position.size)

    async def _sweep(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            for row in await self.pg.fetch("SELECT symbol, side, size FROM positions WHERE size > 0"):
                await self.close(row["symbol"], Side(row["side"]), row["size"])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0)


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
    return result


async def floor_of(stack: Stack, samples: int) -> dict[str, Any]:
    """bench/floor.py against this stack's own Postgres, Redis and simulator."""
    commits = latency_summary(await floor.commit_floor(stack.database_url, samples), 3)
    hops = latency_summary(await floor.hop_floor(stack.redis_url(), samples), 3)
    round_trips = latency_summary(await floor.http_floor(stack.url("simulator"), samples), 3)
    path = {q: round(2 * commits[q] + 2 * hops[q] + round_trips[q], 3) for q in ("p50", "p99")}
    return {"samples": samples, "commit_ms": commits, "hop_ms": hops, "http_ms": round_trips, "path_floor_ms": path}


def ratios(measured: dict[str, Any], path_floor: dict[str, float]) -> dict[str, float | None]:
    """signal -> order over the floor, quantile by quantile (p50 over the floor's p50, p99
    over its p99)."""
    if not measured["n"]:
        return {"p50": None, "p99": None}
    return {q: round(measured[q] / path_floor[q], 2) for q in ("p50", "p99")}


def goal_met(run: dict[str, Any]) -> bool:
    ratio = run["ratio_to_floor"]
    return bool(
        run["orders_received"] >= ORDERS_GOAL
        and ratio["p50"] is not None
        and ratio["p50"] <= P50_FLOOR_MULTIPLE
        and ratio["p99"] <= P99_FLOOR_MULTIPLE
    )


async def measure(stack: Stack, rates: list[float], count: int, floor_samples: int) -> dict[str, Any]:
    symbols = list((await asyncio.to_thread(stack.sim, "GET", "/sim/health"))["symbols"])
    pg = await asyncpg.connect(plain_database_url(stack.database_url))
    closer_pg = await asyncpg.connect(plain_database_url(stack.database_url))  # one query at a time each
    redis = make_redis(stack.redis_url())
    producer: StreamProducer[Signal] = StreamProducer(redis, SIGNALS)
    prices = Prices(stack)
    closer = Closer(stack, closer_pg, make_redis(stack.redis_url(), socket_timeout=None))
    stop = asyncio.Event()
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            await prices.refresh(http)
        background = [asyncio.create_task(prices.run(stop)), asyncio.create_task(closer.run(stop))]
        # warm-up: one order per symbol, so every connection and cache is live before the clock runs
        warm = await inject(producer, prices, symbols, 20.0, len(symbols), "bench-e2e-warmup")
        await settle(pg, warm["ids"])
        await flat(pg)
        # the floor on the same Postgres, Redis and simulator, just before the runs
        floor = await floor_of(stack, floor_samples)
        runs = [await run_rate(stack, pg, redis, producer, prices, closer, symbols, rate, count) for rate in rates]
        for run in runs:
            run["ratio_to_floor"] = ratios(run["signal_to_order_ms"], floor["path_floor_ms"])
            if run["rate_per_s"] == GOAL_RATE:
                run["goal_met"] = goal_met(run)
        stop.set()
        await asyncio.gather(*background)
        return {"symbols": len(symbols), "floor": floor, "runs": runs}
    finally:
        stop.set()
        await redis.aclose()
        await pg.close()
        await closer_pg.close()
        await closer.redis.aclose()


def bench_symbols(count: int) -> list[str]:
    """The simulator's ten symbols, then made-up ones (the simulator trades any *USDT name)."""
    extra = [f"ZB{i:03d}USDT" for i in range(max(0, count - len(DEFAULT_SYMBOLS)))]
    return [*DEFAULT_SYMBOLS[:count], *extra]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="100", help="signals per second, comma-separated, one run each")
    parser.add_argument("--signals", type=int, default=9000, help="signals per run (enough for >= 1,000 orders)")
    parser.add_argument("--symbols", type=int, default=40, help="symbols traded (a signal on a busy one is vetoed)")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL") or os.environ.get("TEST_DATABASE_URL"))
    parser.add_argument("--floor-samples", type=int, default=1000, help="samples of each part of the floor")
    parser.add_argument("--profile", type=Path, help="run every service under cProfile; .pstats files go here")
    parser.add_argument("--no-record", action="store_true", help="print only; do not touch docs/benchmarks.md")
    args = parser.parse_args()
    if not args.database_url:
        parser.error("set --database-url (or DATABASE_URL / TEST_DATABASE_URL): a server to make a scratch database on")
    rates = [float(r) for r in args.rates.split(",") if r.strip()]
    symbols = bench_symbols(args.symbols)
    config = trading_config(symbols, max_open_positions=50)  # the config's ceiling; the closer keeps fewer open
    started = time.monotonic()
    with bench_stack(
        "e2e",
        args.database_url,
        config=config,
        profile_dir=args.profile,
        TITAN_SIM_SYMBOLS=",".join(symbols),
        TITAN_SIM_BACKFILL_MINUTES="60",
        # the market moves every half second: its data's volume is the scavenger benchmark's
        # subject, not this one's, and it would take the two cores from the path measured
        TITAN_SIM_TICK_MS="500",
        TITAN_SIM_TRADE_RATE_LIMIT="1000000",
        TITAN_SIM_QUERY_RATE_LIMIT="1000000",
        # the floor's round trips come from the same address as execution's price reads
        TITAN_SIM_PUBLIC_RATE_LIMIT="1000000",
        TITAN_BYBIT_TRADE_RATE_PER_S="1000",
    ) as stack:
        wait_for(
            lambda: httpx.get(stack.url("console") + "/api/status", timeout=5).json()["mode"] == "NORMAL",
            120,
            "the system to be NORMAL",
        )
        arm(stack)
        figures = asyncio.run(measure(stack, rates, args.signals, args.floor_samples))
    result = {
        "benchmark": "e2e_latency",
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        "machine": machine(),
        **figures,
        "rss": merge_rss(*(run["rss"] for run in figures["runs"])),
        "goals": {
            "p50_floor_multiple": P50_FLOOR_MULTIPLE,
            "p99_floor_multiple": P99_FLOOR_MULTIPLE,
            "at_rate": GOAL_RATE,
            "orders": ORDERS_GOAL,
            "rss_mb": 150,
        },
        "total_seconds": round(time.monotonic() - started, 1),
    }
    print(json.dumps(result, indent=2))
    if not args.no_record:
        floor_ms = figures["floor"]["path_floor_ms"]
        for run in result["runs"]:
            lat, brain, ratio = run["signal_to_order_ms"], run["brain_decision_ms"], run["ratio_to_floor"]
            latency_met = run.get("goal_met")
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
                    f"{floor_ms['p50']} / {floor_ms['p99']}",
                    f"{lat['p50']} / {lat['p95']} / {lat['p99']} / {lat['max']}",
                    f"{ratio['p50']} / {ratio['p99']}",
                    f"{brain['p50']} / {brain['p99']} / {brain['max']}",
                    f"{run['orders_received']} / {run['signals']}",
                    rss_cell(run["rss"]),
                    goals,
                ),
            )


if __name__ == "__main__":
    main()
