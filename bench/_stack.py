"""What the whole-stack benchmarks share (e2e_latency.py, api_load.py, brain_throughput.py).

- `bench_stack`: the stack exactly as `titan up` runs it (tests/e2e/stack.py: one supervisor,
  the simulator, brain, execution, scavenger and console as processes, the embedded Redis)
  on a scratch database migrated first, so a trading config saved before the start is
  the one every service reads. The simulator makes no demo bursts and injects no latency.
- `PeakRss`: each service's resident set, sampled with psutil on a thread; the pids come
  from each service's /health "pid".
- `latency_summary` and histogram deltas.

The machine description and `record` (a row in a section of docs/benchmarks.md) come from
_report.py; percentiles and scratch-database helpers from brain_evaluate.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.e2e.stack
sys.path.insert(0, str(ROOT / "bench"))  # brain_evaluate, whichever script imported us

from _report import machine, record  # noqa: E402
from brain_evaluate import admin, percentile, with_db  # noqa: E402

from tests.e2e.stack import ADMIN, Stack, make_stack  # noqa: E402
from tests.processes import SERVICE_NAMES  # noqa: E402
from titan_common.config import BreakerConfig, RiskTuner, TradingConfig, save_config  # noqa: E402
from titan_common.db import migrate  # noqa: E402
from titan_common.db.engine import make_engine, make_sessionmaker, transaction  # noqa: E402

__all__ = ["ADMIN", "ROOT", "SERVICE_NAMES", "Stack", "machine", "percentile", "record"]

# the goal is for Titan's own services; the simulator (the exchange's stand-in) is reported beside them
RSS_GOAL_MB = 150.0
TITAN_SERVICES = ("brain", "execution", "scavenger", "console")


# --- the stack ---------------------------------------------------------------------------


def trading_config(symbols: Sequence[str], max_open_positions: int = 50) -> TradingConfig:
    """Every simulator symbol tradable, up to `max_open_positions` positions, and the breaker's loss counters
    out of the way (a benchmark's quick closes are losses by fees; the breaker is not under
    test). Risk per trade and the phases stay the defaults."""
    return TradingConfig(
        asset_whitelist=tuple(symbols),
        max_open_positions=max_open_positions,
        risk_tuner=RiskTuner(max_daily_drawdown=Decimal("0.10")),
        breaker=BreakerConfig(consecutive_losses=10_000, hard_drawdown=Decimal("0.5")),
    )


async def _save(database_url: str, config: TradingConfig) -> None:
    engine = make_engine(database_url, pool_size=1)
    try:
        async with transaction(make_sessionmaker(engine)) as session:
            await save_config(session, config, operator_id="bench", comment="benchmark: every symbol, breaker aside")
    finally:
        await engine.dispose()


def profiling_env(profile_dir: Path | None) -> dict[str, str]:
    """With a directory: every service runs under a profiler (bench/profiling/sitecustomize.py:
    cProfile, or pyinstrument with TITAN_BENCH_PROFILER=pyinstrument) and leaves its report in
    <dir> when the stack stops."""
    if profile_dir is None:
        return {}
    profile_dir.mkdir(parents=True, exist_ok=True)
    path = os.pathsep.join(p for p in (str(ROOT / "bench" / "profiling"), os.environ.get("PYTHONPATH")) if p)
    profiler = os.environ.get("TITAN_BENCH_PROFILER", "cprofile")  # or pyinstrument
    return {"PYTHONPATH": path, "TITAN_BENCH_PROFILE_DIR": str(profile_dir.resolve()), "TITAN_BENCH_PROFILER": profiler}


@contextlib.contextmanager
def bench_stack(
    label: str,
    server_url: str,
    *,
    config: TradingConfig | None = None,
    profile_dir: Path | None = None,
    **overrides: str,
) -> Iterator[Stack]:
    """A running stack on a fresh database of `server_url`; dropped (with its var/ dir) after.
    Call it outside any event loop."""
    name = f"titan_bench_{uuid.uuid4().hex[:8]}"
    asyncio.run(admin(server_url, f'CREATE DATABASE "{name}"'))
    database_url = with_db(server_url, name)
    root = ROOT / "var" / "bench" / f"{label}-{name[-8:]}"
    stack: Stack | None = None
    failed = False
    try:
        migrate.upgrade(database_url)
        if config is not None:
            asyncio.run(_save(database_url, config))
        env = {"TITAN_SIM_DEMO_BURSTS": "false", **profiling_env(profile_dir), **overrides}
        stack = make_stack(root, database_url, **env)
        stack.start()
        stack.sim("DELETE", "/sim/faults")  # zero injected latency, whatever a default might say
        yield stack
    except BaseException:
        failed = True
        raise
    finally:
        if stack is not None:
            stack.stop()
        asyncio.run(admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if failed or os.environ.get("TITAN_BENCH_KEEP_LOGS"):
            print(f"stack logs kept in {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)


def arm(stack: Stack) -> None:
    """Through the console, as an operator would (the README's curl)."""
    response = httpx.post(
        stack.url("console") + "/api/console/master-arm",
        json={"enabled": True, "operator_id": "bench"},
        auth=ADMIN,
        timeout=10,
    )
    if response.status_code != 200:
        raise SystemExit(f"arming refused: {response.status_code} {response.text}")


def service_pids(stack: Stack, names: Sequence[str] = SERVICE_NAMES) -> dict[str, int]:
    return {name: stack.pid(name) for name in names}


# --- peak RSS ----------------------------------------------------------------------------


def _hwm_mb(pid: int) -> float | None:
    """The kernel's own peak resident set of the process (VmHWM), since it started."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


class PeakRss:
    """Samples every service's RSS (psutil) every `interval_s` on a thread, so a busy event
    loop never skips a sample. Use as a context manager around a run; `result()` after.
    Also notes the CPU each service used over the run, and the whole machine's."""

    def __init__(self, pids: dict[str, int], interval_s: float = 0.1) -> None:
        self.pids = pids
        self.interval_s = interval_s
        self.peak_bytes = dict.fromkeys(pids, 0)
        self._processes = {name: psutil.Process(pid) for name, pid in pids.items()}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="peak-rss", daemon=True)
        self._cpu_before: dict[str, float] = {}
        self._cpu_after: dict[str, float] = {}
        self._wall = 0.0
        self._machine_busy_pct: float | None = None

    def _cpu_seconds(self) -> dict[str, float]:
        seconds = {}
        for name, process in self._processes.items():
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                seconds[name] = times.user + times.system
        return seconds

    def _sample(self) -> None:
        while True:
            for name, process in self._processes.items():
                with contextlib.suppress(psutil.Error):
                    self.peak_bytes[name] = max(self.peak_bytes[name], process.memory_info().rss)
            if self._stop.wait(self.interval_s):
                return

    def __enter__(self) -> PeakRss:
        self._cpu_before = self._cpu_seconds()
        psutil.cpu_percent()  # starts the machine-wide measurement
        self._wall = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._wall = time.monotonic() - self._wall
        self._cpu_after = self._cpu_seconds()
        self._machine_busy_pct = psutil.cpu_percent()

    def result(self) -> dict[str, Any]:
        """Per service: the sampled peak during the run and the process's lifetime peak, in MiB."""
        services = {
            name: {"peak_mb": round(self.peak_bytes[name] / 2**20, 1), "lifetime_hwm_mb": _hwm_mb(pid)}
            for name, pid in self.pids.items()
        }
        over = [n for n in TITAN_SERVICES if n in services and services[n]["peak_mb"] > RSS_GOAL_MB]
        return {"services": services, "goal_mb": RSS_GOAL_MB, "met": not over, "over": over}

    def cpu(self) -> dict[str, Any]:
        """Share of one core each service used over the run (100 = one core busy), and how
        busy the whole machine was (100 = every core)."""
        wall = max(self._wall, 1e-9)
        per_service = {
            name: round(100 * (self._cpu_after[name] - self._cpu_before[name]) / wall, 1)
            for name in self._cpu_after
            if name in self._cpu_before
        }
        return {"seconds": round(self._wall, 1), "core_pct": per_service, "machine_busy_pct": self._machine_busy_pct}


def merge_rss(*results: dict[str, Any]) -> dict[str, Any]:
    """The largest peak of each service over several runs."""
    services: dict[str, dict[str, Any]] = {}
    for result in results:
        for name, figures in result["services"].items():
            known = services.setdefault(name, dict(figures))
            known["peak_mb"] = max(known["peak_mb"], figures["peak_mb"])
            known["lifetime_hwm_mb"] = figures["lifetime_hwm_mb"] or known["lifetime_hwm_mb"]
    over = [n for n in TITAN_SERVICES if n in services and services[n]["peak_mb"] > RSS_GOAL_MB]
    return {"services": services, "goal_mb": RSS_GOAL_MB, "met": not over, "over": over}


def rss_cell(rss: dict[str, Any]) -> str:
    """`brain 112 / execution 118 / ...` (peak MiB during the run)."""
    return " / ".join(f"{name} {figures['peak_mb']:.0f}" for name, figures in rss["services"].items())


# --- figures -----------------------------------------------------------------------------


def latency_summary(values: Sequence[float], digits: int = 2) -> dict[str, Any]:
    if not values:
        return {"n": 0, "p50": None, "p95": None, "p99": None, "max": None}
    return {
        "n": len(values),
        "p50": round(percentile(list(values), 0.50), digits),
        "p95": round(percentile(list(values), 0.95), digits),
        "p99": round(percentile(list(values), 0.99), digits),
        "max": round(max(values), digits),
    }


def histogram_buckets(exposition: str, name: str) -> list[tuple[float, float]]:
    """Cumulative (upper bound, count) pairs of one Prometheus histogram (labels ignored)."""
    buckets = []
    for line in exposition.splitlines():
        if line.startswith(f"{name}_bucket{{"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            buckets.append((float("inf") if le == "+Inf" else float(le), float(line.rsplit(" ", 1)[1])))
    return buckets


def bucket_quantile(before: list[tuple[float, float]], after: list[tuple[float, float]], q: float) -> float | None:
    """The upper bound of the bucket holding quantile q of the observations made between two
    scrapes (a histogram only knows its buckets)."""
    earlier = dict(before)
    delta = [(upper, count - earlier.get(upper, 0.0)) for upper, count in after]
    if not delta or delta[-1][1] <= 0:
        return None
    total = delta[-1][1]
    return next((upper for upper, count in delta if count >= q * total), None)


async def scrape(url: str) -> str:
    async with httpx.AsyncClient(timeout=10) as http:
        return (await http.get(url + "/metrics")).text


def wait_for(check: Any, timeout_s: float, what: str, interval_s: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
            last = check()
            if last:
                return last
        time.sleep(interval_s)
    raise SystemExit(f"timed out after {timeout_s:g}s waiting for {what} (last: {last!r})")
