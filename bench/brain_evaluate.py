"""The brain's speed: the pure core alone, and a signal's way to an intent through Redis and
Postgres with a real brain process.

1. core: decisions/s of `evaluate()` over a mix of portfolios and signals (approvals,
   correlation cuts and every kind of veto), in this process, one core.
2. pipeline latency: signals XADDed to titan:signals at --rate per second; for each
   approval, the time from the signal's XADD to its intent arriving on titan:intents
   (decision and intent committed in Postgres in between). Also the brain's own
   processing histogram (titan_brain_signal_processing_latency_ms).
3. pipeline throughput: --burst signals XADDed at once; decisions/s until all are on record.

It creates a scratch database on the server of --database-url (or $DATABASE_URL), migrates
it and drops it after; it uses Redis database --redis-db of --redis-url (or $REDIS_URL) and
deletes only the keys it used there. Prints one JSON object and appends a row to
docs/benchmarks.md.

Usage: python bench/brain_evaluate.py [--core-seconds 3] [--rate 100] [--seconds 10] [--burst 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import _report  # noqa: E402

from titan_brain.core.evaluate import evaluate  # noqa: E402
from titan_brain.core.types import Instrument, Market, OpenPosition, Portfolio, pair  # noqa: E402
from titan_common.bus import EVENTS, Publisher, make_redis  # noqa: E402
from titan_common.config import TradingConfig, save_config  # noqa: E402
from titan_common.db import migrate  # noqa: E402
from titan_common.db.engine import make_engine, make_sessionmaker  # noqa: E402
from titan_common.embedded import free_port  # noqa: E402
from titan_common.events import WalletUpdate, payload_of  # noqa: E402
from titan_common.messages import Correlation, Event, OrderIntent, Side, Signal, Verdict  # noqa: E402
from titan_common.settings import normalise_database_url, plain_database_url  # noqa: E402
from titan_common.system_state import Mode  # noqa: E402
from titan_execution.runtime.master_arm import set_master_arm  # noqa: E402

SECTION = "## Brain: the pipeline as a share of its core, one run (`bench/brain_evaluate.py`)"
NOTE = """\
In one run: the core (`evaluate()` alone, one process, one core) and a real brain process on
the same Redis and Postgres (a burst of signals XADDed at once: decisions/s until every one
is on record, signal, decision and intent committed and intents XADDed), and the latency of a
signal to its intent at a steady rate. Goals: the pipeline >= 5,000 decisions/s and >= 1/4 of
its core's rate measured in the same run."""
COLUMNS = (
    "date (UTC)", "machine", "core decisions/s", "pipeline decisions/s (burst)", "pipeline / core",
    "signal -> intent p50 / p95 / p99 / max ms (rate)", "goals met",
)  # fmt: skip
PIPELINE_GOAL, SHARE_GOAL = 5000, 0.25
SYMBOLS = tuple(f"B{i}USDT" for i in range(20))
EXCHANGE = "bench-brain"


def signal(symbol: str, side: Side, ttl_ms: int = 30_000, ts_ms: int | None = None) -> Signal:
    entry = D("100")
    buy = side is Side.BUY
    return Signal(
        signal_id=uuid.uuid4().hex,
        ts_ms=ts_ms if ts_ms is not None else time.time_ns() // 1_000_000,
        correlation=Correlation(run_id="bench"),
        source="bench",
        symbol=symbol,
        side=side,
        trap_type="LIQUIDATION",
        entry_price=entry,
        entry_low=entry,
        entry_high=entry,
        stop_loss=D("50") if buy else D("150"),
        take_profits=(D("130") if buy else D("70"),),
        confidence=D("0.8"),
        ttl_ms=ttl_ms,
    )


# --- 1. the pure core ------------------------------------------------------------------------


def core_rate(seconds: float) -> dict[str, Any]:
    rng = random.Random(7)
    config = TradingConfig(asset_whitelist=SYMBOLS[:15], max_open_positions=8)
    now = time.time_ns() // 1_000_000
    market = Market(
        now_ms=now,
        instruments={s: Instrument(s, D(5), D("0.001"), D("0.001")) for s in SYMBOLS},
        correlations={pair(a, b): rng.uniform(-1, 1) for a in SYMBOLS for b in SYMBOLS if a < b},
    )
    cases = []
    for _ in range(2000):
        positions = tuple(
            OpenPosition(s, rng.choice(list(Side)), D(rng.randint(1, 50)), D(100))
            for s in rng.sample(SYMBOLS, rng.randint(0, 6))
        )
        book = Portfolio(
            equity=D(rng.randint(500, 200_000)),
            day_start_equity=D(rng.randint(500, 200_000)),
            positions=positions,
            phase=rng.randint(1, 3),
            system_mode=Mode.NORMAL if rng.random() > 0.05 else Mode.DEGRADE,
            master_armed=rng.random() > 0.05,
        )
        cases.append((signal(rng.choice(SYMBOLS), rng.choice(list(Side)), ts_ms=now), book))
    count = approvals = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        for sig, book in cases:
            approvals += evaluate(sig, book, config, market).verdict is Verdict.APPROVE
        count += len(cases)
    elapsed = time.perf_counter() - started
    return {"decisions_per_s": round(count / elapsed), "approval_share": round(approvals / count, 3)}


# --- 2 and 3. through a brain process ------------------------------------------------------


def with_db(url: str, name: str) -> str:
    head, _, query = url.partition("?")
    return head.rsplit("/", 1)[0] + f"/{name}" + (f"?{query}" if query else "")


def with_redis_db(url: str, index: int) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{index}", parts.query, parts.fragment))


async def admin(server_url: str, sql: str) -> None:
    conn = await asyncpg.connect(plain_database_url(normalise_database_url(server_url)))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def start_brain(env: dict[str, str], var_dir: Path) -> subprocess.Popen[bytes]:
    log = (var_dir / "brain.out").open("ab")
    return subprocess.Popen([sys.executable, "-m", "titan_brain"], env=env, stdout=log, stderr=subprocess.STDOUT)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def histogram_quantile(exposition: str, name: str, q: float) -> float | None:
    buckets = []
    for line in exposition.splitlines():
        if line.startswith(f"{name}_bucket{{"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            buckets.append((float("inf") if le == "+Inf" else float(le), float(line.rsplit(" ", 1)[1])))
    if not buckets or buckets[-1][1] == 0:
        return None
    total = buckets[-1][1]
    for upper, count in buckets:
        if count >= q * total:
            return upper
    return None


async def pipeline(
    database_url: str, redis_url: str, redis_db: int, rate: float, seconds: float, burst: int
) -> dict[str, Any]:
    name = f"titan_bench_{uuid.uuid4().hex[:8]}"
    await admin(database_url, f'CREATE DATABASE "{name}"')
    db_url = with_db(database_url, name)
    stream_redis = with_redis_db(redis_url, redis_db)
    redis = make_redis(stream_redis)
    engine = make_engine(normalise_database_url(db_url))
    process = None
    try:
        await asyncio.to_thread(migrate.upgrade, db_url)
        sessions = make_sessionmaker(engine)
        async with sessions() as session, session.begin():
            await set_master_arm(session, enabled=True, operator_id="bench")
            await save_config(
                session, TradingConfig(asset_whitelist=SYMBOLS, max_open_positions=50), operator_id="bench"
            )
        await redis.delete("titan:signals", "titan:intents")
        port = free_port()
        var_dir = ROOT / "var" / "bench" / "brain"
        var_dir.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "REDIS_URL": stream_redis,
            "TITAN_BRAIN_PORT": str(port),
            "TITAN_EXECUTION_PORT": str(free_port()),
            "TITAN_VAR_DIR": str(var_dir),
            "TITAN_EXCHANGE": EXCHANGE,
            "TITAN_MODE_SERVICES": "brain",
            "TITAN_MARKET_DATA": "false",
            "TITAN_PENDING_GRACE_MS": "0",
            "TITAN_EQUITY_MAX_AGE_S": "3600",
            "TITAN_LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
        process = start_brain(env, var_dir)
        url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(timeout=5) as http:
            for _ in range(300):
                try:
                    if (await http.get(f"{url}/dashboard")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
            wallet = Event(
                ts_ms=time.time_ns() // 1_000_000, service="execution", event_type="WALLET_UPDATE",
                payload=payload_of(WalletUpdate(exchange=EXCHANGE, equity=D(100000), wallet_balance=D(100000),
                                                available_balance=D(100000), unrealised_pnl=D(0), initial_margin=D(0))),
            )  # fmt: skip
            for _ in range(100):
                await Publisher(redis).publish(EVENTS, wallet)
                if (await http.get(f"{url}/dashboard")).json()["nav"] is not None:
                    break
                await asyncio.sleep(0.1)

            # --- latency: a steady rate, short-lived signals so each symbol is free again soon
            sent: dict[str, float] = {}
            received: dict[str, float] = {}
            stop = asyncio.Event()

            async def read_intents() -> None:
                last = "$"
                reader = make_redis(stream_redis)
                while not stop.is_set():
                    answer = await reader.xread({"titan:intents": last}, block=200, count=500)
                    now = time.perf_counter()
                    for _stream, entries in answer or []:
                        for entry_id, fields in entries:
                            last = entry_id
                            intent = OrderIntent.model_validate_json(fields[b"data"])
                            received.setdefault(str(intent.correlation.signal_id), now)
                await reader.aclose()

            reader_task = asyncio.create_task(read_intents())
            await asyncio.sleep(0.3)
            total = int(rate * seconds)
            interval = 1.0 / rate
            started = time.perf_counter()
            for i in range(total):
                target = started + i * interval
                delay = target - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                sig = signal(SYMBOLS[i % len(SYMBOLS)], Side.BUY if i % 2 else Side.SELL, ttl_ms=150)
                sent[sig.signal_id] = time.perf_counter()
                await redis.xadd("titan:signals", {b"data": sig.model_dump_json().encode()})
            await asyncio.sleep(1.0)
            stop.set()
            await reader_task
            latencies = [(received[s] - sent[s]) * 1000 for s in sent if s in received]
            metrics = (await http.get(f"{url}/metrics")).text
            processing = {
                "p50": histogram_quantile(metrics, "titan_brain_signal_processing_latency_ms", 0.5),
                "p99": histogram_quantile(metrics, "titan_brain_signal_processing_latency_ms", 0.99),
            }

            # --- throughput: a burst, decided as fast as the brain can
            burst_signals = [signal(SYMBOLS[i % len(SYMBOLS)], Side.BUY) for i in range(burst)]
            conn = await asyncpg.connect(plain_database_url(normalise_database_url(db_url)))
            # the decisions before the burst; polling a plain count (a scan of a few thousand
            # rows) weighs on Postgres far less than looking up thousands of signal ids
            before = await conn.fetchval("SELECT count(*) FROM decisions")
            async with redis.pipeline(transaction=False) as pipe:
                for sig in burst_signals:
                    pipe.xadd("titan:signals", {b"data": sig.model_dump_json().encode()})
                burst_started = time.perf_counter()
                await pipe.execute()
            try:
                while True:
                    done = await conn.fetchval("SELECT count(*) FROM decisions") - before
                    if done >= burst or time.perf_counter() - burst_started > 300:
                        break
                    await asyncio.sleep(0.05)
            finally:
                await conn.close()
            burst_elapsed = time.perf_counter() - burst_started
        return {
            "rate_per_s": rate,
            "signals": total,
            "intents": len(latencies),
            "signal_to_intent_ms": {
                "p50": round(statistics.median(latencies), 2) if latencies else None,
                "p95": round(percentile(latencies, 0.95), 2) if latencies else None,
                "p99": round(percentile(latencies, 0.99), 2) if latencies else None,
                "max": round(max(latencies), 2) if latencies else None,
            },
            "brain_processing_ms_bucket": processing,
            "burst": burst,
            "burst_decided": int(done),
            "pipeline_decisions_per_s": round(done / burst_elapsed),
        }
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
        await redis.delete("titan:signals", "titan:intents", "titan:hb:brain")
        await redis.aclose()
        await engine.dispose()
        await admin(database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def record(result: dict[str, Any]) -> None:
    p = result["pipeline"]
    lat = p["signal_to_intent_ms"]
    _report.record(SECTION, NOTE, COLUMNS, [
        result["date"], result["machine"], result["core"]["decisions_per_s"],
        f"{p['pipeline_decisions_per_s']} ({p['burst']})", result["pipeline_share_of_core"],
        f"{lat['p50']} / {lat['p95']} / {lat['p99']} / {lat['max']} ({p['rate_per_s']:g}/s, {p['intents']} intents)",
        "yes" if result["goals_met"] else "no",
    ])  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--core-seconds", type=float, default=3.0)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--burst", type=int, default=5000)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL") or os.environ.get("TEST_DATABASE_URL"))
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL") or os.environ.get("TEST_REDIS_URL"))
    parser.add_argument("--redis-db", type=int, default=7)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    if not args.database_url or not args.redis_url:
        parser.error("set --database-url and --redis-url (or DATABASE_URL / REDIS_URL)")
    result: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        "machine": _report.machine(),
        "core": core_rate(args.core_seconds),
    }
    result["pipeline"] = asyncio.run(
        pipeline(args.database_url, args.redis_url, args.redis_db, args.rate, args.seconds, args.burst)
    )
    core, piped = result["core"]["decisions_per_s"], result["pipeline"]["pipeline_decisions_per_s"]
    result["pipeline_share_of_core"] = round(piped / core, 3) if core else None
    result["goals"] = {"pipeline_decisions_per_s": PIPELINE_GOAL, "share_of_core": SHARE_GOAL}
    result["goals_met"] = bool(piped >= PIPELINE_GOAL and core and piped / core >= SHARE_GOAL)
    print(json.dumps(result, indent=2))
    if not args.no_record:
        record(result)


if __name__ == "__main__":
    main()
