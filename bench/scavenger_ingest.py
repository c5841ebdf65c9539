"""Scavenger hot path: trades/s through intake and trap checks, and trade-receipt-to-signal latency.

Runs the scavenger's own intake (`Pipeline.on_event`: parse the trades of a message, update
each symbol's tape, check the traps) and signal emitter (`SignalEmitter.fire`: build the
signal, audit it, XADD it to Redis) in one process pinned to one core, with 100 symbols and a
full trap map (20 traps on 20 of them).

- throughput: messages of public trades (the shape pybit delivers, ticker snapshots mixed in)
  across the 100 symbols, with a burst through a trap now and then (those signals are really
  published). Figure: trades per second.
- latency: bursts of 60 trades through a trigger between ordinary flow; each springs one
  trap. Figure: from the moment the message reaches the intake to the moment Redis has
  acknowledged the XADD of its signal (p50/p95/p99/max).

Signals go to a private Redis stream (`bench:scavenger:signals:<id>`, deleted afterwards), never
to titan:signals. With --database-url the TRAP_SPRUNG audit goes through the real audit writer
into Postgres (as in the service); without it, auditing is off and the JSON says so.

Not measured here: pybit's WebSocket client, which parses frames on its own thread before the
intake sees them (websocket-client validates UTF-8 in pure Python; see sim_throughput.py).

Usage: python bench/scavenger_ingest.py [--trades 2000000] [--bursts 300] [--redis-url URL]
       [--database-url URL] [--no-record]
Goals: >= 100,000 trades/s; p99 <= 2 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import _report

ROOT = Path(__file__).resolve().parent.parent
THROUGHPUT_GOAL, P99_GOAL_MS = 100_000, 2.0
SYMBOLS = [f"S{i:03d}USDT" for i in range(100)]
TRAPPED = SYMBOLS[:20]
TRIGGER = Decimal("100.5")
COOLDOWN_MS = 300_000
SECTION = "## Scavenger ingest (`bench/scavenger_ingest.py`)"
NOTE = """\
100 symbols, 20 traps, one core; latency: trade receipt -> signal XADD acknowledged.
The intake is measured from the message pybit hands over: pybit's own frame parsing (about
32,000 trades/s per socket in the simulator benchmark above) bounds one real socket first.
The p99 moves with what else runs on the two shared cores: the 1-minute load is in the machine column."""
COLUMNS = ("date (UTC)", "machine", "trades/s (trades/msg)", "p50 / p95 / p99 / max ms (n)", "audit", "goals met")


def pin_to_one_core() -> int | None:
    if not hasattr(os, "sched_setaffinity"):
        return None
    core = max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})
    return core


def make_trap(symbol: str) -> Any:
    from titan_common.messages import Side
    from titan_scavenger.core.traps import Trap, TrapType

    risk = Decimal("0.5")
    return Trap(
        trap_id=f"{symbol}:LIQUIDATION:Buy:{TRIGGER}",
        symbol=symbol,
        trap_type=TrapType.LIQUIDATION,
        side=Side.BUY,
        trigger=TRIGGER,
        stop=TRIGGER - risk,
        targets=(TRIGGER + 3 * risk,),
        confidence=0.8,
        expected_move_pct=1.49,
        quality=0.7,
        reference_price=100.0,
        tick_size=Decimal("0.01"),
    )


class Feed:
    """Synthetic public messages: ordinary flow around 100 (never near the triggers) and bursts."""

    def __init__(self, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.ts = 1_800_000_000_000
        self.trade_id = 0

    def _trade(self, symbol: str, ts: int, buy: bool, price: float) -> dict[str, Any]:
        self.trade_id += 1
        return {
            "T": ts,
            "s": symbol,
            "S": "Buy" if buy else "Sell",
            "v": "0.010",
            "p": f"{price:.2f}",
            "L": "PlusTick",
            "i": str(self.trade_id),
            "BT": False,
        }

    def ordinary(self, per_message: int) -> Any:
        from titan_common.exchanges.bybit.adapter import public_event  # the wire message, read as live

        self.ts += 1
        symbol = self.rng.choice(SYMBOLS)
        rng = self.rng
        data = [self._trade(symbol, self.ts, rng.random() < 0.5, 99.8 + 0.4 * rng.random()) for _ in range(per_message)]
        return public_event({"topic": f"publicTrade.{symbol}", "ts": self.ts, "data": data})

    def ticker(self) -> Any:
        from titan_common.exchanges.bybit.adapter import public_event  # the wire message, read as live

        symbol = self.rng.choice(SYMBOLS)
        data = {
            "symbol": symbol,
            "lastPrice": "100.01",
            "markPrice": "100.02",
            "indexPrice": "100.00",
            "fundingRate": "0.0001",
            "openInterest": "12345.6",
            "turnover24h": "1000000",
        }
        return public_event({"topic": f"tickers.{symbol}", "ts": self.ts, "data": data})

    def burst(self, symbol: str) -> Any:
        """60 buys in 60 ms climbing through the trigger; time then jumps past the cooldown."""
        from titan_common.exchanges.bybit.adapter import public_event  # the wire message, read as live

        self.ts += COOLDOWN_MS + 1_000
        start = self.ts
        data = [self._trade(symbol, start + i, True, 100.2 + 0.45 * i / 59) for i in range(60)]
        self.ts = start + 60
        return public_event({"topic": f"publicTrade.{symbol}", "ts": self.ts, "data": data})


async def build(redis_url: str, database_url: str | None, audit_dir: Path) -> dict[str, Any]:
    from titan_common.audit import AuditWriter
    from titan_common.bus import StreamProducer, make_redis
    from titan_common.bus.names import StreamSpec
    from titan_common.db.engine import make_engine
    from titan_common.messages import Signal
    from titan_common.service import ServiceRuntime
    from titan_scavenger.core.signals import SignalConfig
    from titan_scavenger.core.sprung import SprungConfig, TrapBook
    from titan_scavenger.core.stream import StreamHealth
    from titan_scavenger.runtime.emitter import SignalEmitter
    from titan_scavenger.runtime.intake import Pipeline
    from titan_scavenger.runtime.live import LiveHub
    from titan_scavenger.runtime.market import MarketData
    from titan_scavenger.settings import ScavengerSettings

    settings = ScavengerSettings(
        database_url=database_url or "postgresql://bench@127.0.0.1/bench", redis_url=redis_url, run_id="bench"
    )
    runtime = ServiceRuntime(name="scavenger", settings=settings)
    engine = None
    if database_url:
        engine = make_engine(settings.database_url)
        runtime.audit = AuditWriter(engine, service="scavenger-bench", audit_dir=audit_dir)
        runtime.audit.start()
    redis = make_redis(redis_url)
    await redis.ping()
    spec = StreamSpec(f"bench:scavenger:signals:{uuid.uuid4().hex[:8]}", Signal)
    producer = StreamProducer(redis, spec)
    book = TrapBook(SprungConfig(cooldown_ms=COOLDOWN_MS))
    book.set_traps([make_trap(s) for s in TRAPPED], 0)
    market = MarketData(adapter=None, bars_history=200)  # type: ignore[arg-type]  # no REST in the hot path
    health = StreamHealth(started_ms=0, stale_after_ms=10**12, max_lag_ms=10**15)
    pipeline = Pipeline(book, market, health, armed=lambda: True, reconnects=lambda: 0, on_gap=lambda: None)
    emitter = SignalEmitter(
        runtime, lambda: producer, SignalConfig(), window_ms=100, cycle_id=lambda: "trapmap:bench", hub=LiveHub()
    )
    return {
        "runtime": runtime,
        "redis": redis,
        "spec": spec,
        "pipeline": pipeline,
        "emitter": emitter,
        "engine": engine,
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as audit_dir:
        parts = await build(args.redis_url, args.database_url, Path(audit_dir))
        pipeline, emitter = parts["pipeline"], parts["emitter"]
        feed = Feed()
        try:
            # --- throughput -------------------------------------------------------------------
            per_message = args.per_message
            messages = []
            while sum(len(m.data) for m in messages if m.kind == "trade") < args.trades:
                for _ in range(1000):
                    messages.append(feed.ordinary(per_message))
                messages.append(feed.ticker())
                messages.append(feed.burst(random.choice(TRAPPED)))
            trades = sum(len(m.data) for m in messages if m.kind == "trade")
            signals_before = emitter.published
            started = time.perf_counter()
            for event in messages:
                received_ns = time.perf_counter_ns()
                sprung = pipeline.on_event(event)
                if sprung:
                    for hit in sprung:
                        await emitter.fire(hit, received_ns)
            elapsed = time.perf_counter() - started
            throughput_signals = emitter.published - signals_before
            message_count = len(messages)
            del messages  # two million trade dicts: a full GC pass over them would land in the latency figures
            gc.collect()

            # --- latency ------------------------------------------------------------------------
            latencies: list[float] = []
            for i in range(args.bursts + 20):
                for _ in range(50):
                    pipeline.on_event(feed.ordinary(per_message))
                event = feed.burst(TRAPPED[i % len(TRAPPED)])
                received_ns = time.perf_counter_ns()
                sprung = pipeline.on_event(event)
                assert sprung is not None, "each burst springs a trap"
                assert len(sprung) == 1, "each burst springs exactly one trap"
                signal = await emitter.fire(sprung[0], received_ns)
                assert signal is not None
                if i >= 20:  # the first ones warm caches and connections up
                    latencies.append((time.perf_counter_ns() - received_ns) / 1e6)
                await asyncio.sleep(0)  # let the audit writer take its turn, as in the service
            published = await parts["redis"].xlen(parts["spec"].name)
        finally:
            await parts["redis"].delete(parts["spec"].name)
            await parts["redis"].aclose()
            if parts["runtime"].audit is not None:
                await parts["runtime"].audit.stop(timeout=10)
            if parts["engine"] is not None:
                await parts["engine"].dispose()
    latencies.sort()

    def pct(q: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))], 3)

    result = {
        "date": datetime.now(tz=UTC).strftime("%Y-%m-%d %H:%M"),
        "machine": _report.machine(load=False),
        "pinned_core": args.core,
        "load_avg_1m": round(os.getloadavg()[0], 2),  # other processes on the machine share its cores
        "symbols": len(SYMBOLS),
        "traps": len(TRAPPED),
        "throughput": {
            "trades": trades,
            "messages": message_count,
            "trades_per_message": per_message,
            "seconds": round(elapsed, 3),
            "trades_per_s": round(trades / elapsed, 1),
            "signals_published": throughput_signals,
        },
        "latency_ms": {
            "samples": len(latencies),
            "p50": pct(0.5),
            "p95": pct(0.95),
            "p99": pct(0.99),
            "max": round(latencies[-1], 3),
        },
        "signals_in_redis": published,
        "audit": "postgres" if args.database_url else "off",
        "goals": {"trades_per_s": THROUGHPUT_GOAL, "p99_ms": P99_GOAL_MS},
    }
    result["goals_met"] = (
        result["throughput"]["trades_per_s"] >= THROUGHPUT_GOAL and result["latency_ms"]["p99"] <= P99_GOAL_MS
    )
    return result


def record(result: dict[str, Any]) -> None:
    t, lat = result["throughput"], result["latency_ms"]
    _report.record(SECTION, NOTE, COLUMNS, [
        f"{result['date']}", f"{result['machine']} (load {result['load_avg_1m']})",
        f"{t['trades_per_s']} ({t['trades_per_message']})",
        f"{lat['p50']} / {lat['p95']} / {lat['p99']} / {lat['max']} ({lat['samples']})", result["audit"],
        "yes" if result["goals_met"] else "no",
    ])  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trades", type=int, default=2_000_000)
    parser.add_argument("--per-message", type=int, default=10, help="trades per publicTrade message")
    parser.add_argument("--bursts", type=int, default=300, help="springs measured for latency")
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("TEST_REDIS_URL") or os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0",
    )
    parser.add_argument("--database-url", help="a migrated Titan database: audit TRAP_SPRUNG into it (default: off)")
    parser.add_argument("--no-record", action="store_true", help="print only; do not touch docs/benchmarks.md")
    args = parser.parse_args()
    args.core = pin_to_one_core()
    result = asyncio.run(run(args))
    print(json.dumps(result, indent=2))
    if not args.no_record:
        record(result)


if __name__ == "__main__":
    main()
