"""`titan doctor`: a one-screen diagnosis (operations-rules-live.md: "cmd doctor: diagnose
WS/REST/DB/filters/clock"), one line per check, worst first in the verdict line.

Every check talks to the real thing directly (not through the services), so the doctor
still works when the stack is down, which is when it is needed most. Each check has
its own timeout; together they take a few seconds at most.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import httpx
import websockets
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from titan_common.bus import make_redis
from titan_common.clock import now_ms, utc_day
from titan_common.config import DEFAULT_WHITELIST
from titan_common.db import migrate
from titan_common.db.engine import make_engine
from titan_common.exchanges import ExchangeError
from titan_common.exchanges.bybit.streams import ws_base
from titan_common.exchanges.registry import adapter_for
from titan_common.heartbeats import TRADING_SERVICES, read_beats, system_state_of

CHECK_TIMEOUT_S = 6.0
GIB = 1024**3
MIB = 1024**2


class Status(StrEnum):
    OK = "OK"
    WARN = "WARN"
    FAIL = "FAIL"


RANK = {Status.OK: 0, Status.WARN: 1, Status.FAIL: 2}


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str

    def line(self) -> str:
        return f"{self.status.value:<4}  {self.name:<10} {self.detail}"


@dataclass(frozen=True)
class Thresholds:
    clock_warn_ms: int = 500
    clock_fail_ms: int = 1000  # execution's CLOCK_DRIFT threshold
    disk_warn_pct: float = 20.0  # the runbook: "> 20% free on all partitions"
    disk_fail_bytes: int = 1 * GIB
    wal_warn_bytes: int = 1 * GIB
    audit_growth_warn: float = 3.0  # today's JSONL over yesterday's, once today's is sizeable
    audit_growth_min_bytes: int = 50 * MIB
    api_lag_warn_ms: float = 500.0


@dataclass(frozen=True)
class Targets:
    database_url: str | None
    redis_url: str | None
    exchange_endpoint: str
    var_dir: Path
    # every venue after the first (TITAN_VENUES), by name, with its options: each is checked
    # through its own adapter, public calls only
    other_venues: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # the processes whose heartbeats say the system's state (one per venue for execution and
    # the scavenger: CommonSettings.trading_processes)
    processes: Sequence[str] = TRADING_SERVICES


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


# --- exchange -----------------------------------------------------------------------


async def check_exchange_rest(target: Targets, limits: Thresholds) -> tuple[Check, Check, Check]:
    """REST reachability and latency, the clock offset against the venue, and its filters."""
    endpoint = target.exchange_endpoint.rstrip("/")
    async with httpx.AsyncClient(timeout=CHECK_TIMEOUT_S) as client:
        try:
            sent = time.time() * 1000
            response = await client.get(f"{endpoint}/v5/market/time")
            received = time.time() * 1000
            response.raise_for_status()
            body = response.json()
            server_ms = int(body["result"]["timeNano"]) // 1_000_000
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            failed = f"{endpoint} did not answer /v5/market/time ({type(exc).__name__})"
            return (
                Check("rest", Status.FAIL, failed),
                Check("clock", Status.FAIL, "unknown: the exchange's time could not be read"),
                Check("filters", Status.FAIL, "unknown: the exchange did not answer"),
            )
        rtt = received - sent
        offset = server_ms - (sent + received) / 2
        rest = Check(
            "rest",
            Status.WARN if rtt > limits.api_lag_warn_ms else Status.OK,
            f"{endpoint} answered in {rtt:.0f} ms" + (" (API_LAG)" if rtt > limits.api_lag_warn_ms else ""),
        )
        clock_status = (
            Status.FAIL if abs(offset) > limits.clock_fail_ms
            else Status.WARN if abs(offset) > limits.clock_warn_ms else Status.OK
        )  # fmt: skip
        clock = Check(
            "clock",
            clock_status,
            f"offset {offset:+.0f} ms against the exchange (limit ±{limits.clock_fail_ms} ms)"
            + (": CLOCK_DRIFT, sync the host clock (chrony/ntp)" if clock_status is Status.FAIL else ""),
        )
        filters = await _check_filters(client, endpoint, target)
    return rest, clock, filters


async def _whitelist(target: Targets) -> tuple[tuple[str, ...], str]:
    """The active config's whitelist when the database answers, else the defaults."""
    if not target.database_url:
        return DEFAULT_WHITELIST, "default whitelist"
    engine = make_engine(target.database_url, pool_size=1, application_name="titan-doctor")
    try:
        async with engine.connect() as conn:
            config = await conn.scalar(text("SELECT config FROM config_versions ORDER BY id DESC LIMIT 1"))
    except (OSError, SQLAlchemyError, TimeoutError):
        return DEFAULT_WHITELIST, "default whitelist (database unreachable)"
    finally:
        await engine.dispose()
    if not isinstance(config, dict):
        return DEFAULT_WHITELIST, "default whitelist"
    return tuple(config.get("asset_whitelist", DEFAULT_WHITELIST)), "active config's whitelist"


async def _check_filters(client: httpx.AsyncClient, endpoint: str, target: Targets) -> Check:
    try:
        response = await client.get(f"{endpoint}/v5/market/instruments-info", params={"category": "linear"})
        response.raise_for_status()
        items = response.json()["result"]["list"]
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        return Check("filters", Status.FAIL, f"instruments-info unreadable ({type(exc).__name__})")
    trading = {i.get("symbol") for i in items if i.get("status") == "Trading" and i.get("lotSizeFilter")}
    whitelist, source = await _whitelist(target)
    missing = [s for s in whitelist if s not in trading]
    if missing:
        return Check(
            "filters",
            Status.WARN,
            f"{len(trading)} instruments trading; not trading or no filters: {', '.join(missing)} ({source})",
        )
    return Check("filters", Status.OK, f"{len(trading)} instruments trading; all {len(whitelist)} of the {source} ok")


async def check_venue(name: str, options: Mapping[str, Any], limits: Thresholds) -> Check:
    """Another venue through its adapter: reachable, its clock against ours, its symbols."""
    adapter = adapter_for(name, {**options, "api_key": "", "api_secret": ""})
    try:
        sent = time.time() * 1000
        server_ms = await adapter.server_time_ms()
        received = time.time() * 1000
        trading = sum(1 for item in await adapter.instruments() if item.trading)
    except ExchangeError as exc:
        return Check(name, Status.FAIL, f"{options.get('endpoint', name)} unreachable: {str(exc)[:120]}")
    finally:
        await adapter.close()
    rtt, offset = received - sent, server_ms - (sent + received) / 2
    status = (
        Status.FAIL if abs(offset) > limits.clock_fail_ms
        else Status.WARN if abs(offset) > limits.clock_warn_ms or rtt > limits.api_lag_warn_ms else Status.OK
    )  # fmt: skip
    return Check(name, status, f"answered in {rtt:.0f} ms, clock offset {offset:+.0f} ms, {trading} symbols trading")


async def check_exchange_ws(target: Targets) -> Check:
    url = ws_base(target.exchange_endpoint).rstrip("/") + "/v5/public/linear"
    try:
        started = time.perf_counter()
        async with websockets.connect(url, open_timeout=CHECK_TIMEOUT_S, close_timeout=1) as socket:
            await socket.send(json.dumps({"op": "ping", "req_id": "titan-doctor"}))
            reply = json.loads(await asyncio.wait_for(socket.recv(), CHECK_TIMEOUT_S))
        elapsed = (time.perf_counter() - started) * 1000
    except (OSError, TimeoutError, websockets.WebSocketException, ValueError) as exc:
        return Check("ws", Status.FAIL, f"{url} unreachable ({type(exc).__name__}): WS_DOWN")
    if reply.get("op") not in ("ping", "pong") and reply.get("ret_msg") != "pong":
        return Check("ws", Status.WARN, f"{url} connected but answered the ping with {str(reply)[:80]}")
    return Check("ws", Status.OK, f"{url} connected, ping answered in {elapsed:.0f} ms")


# --- stores -------------------------------------------------------------------------


async def check_database(target: Targets, limits: Thresholds) -> tuple[Check, Check]:
    """Reachability, version and migration head; then WAL size and audit growth."""
    if not target.database_url:
        reason = "DATABASE_URL is not set and no embedded Postgres is running under var/pg"
        return Check("db", Status.FAIL, reason), Check("wal/audit", Status.WARN, "unknown (no database)")
    engine = make_engine(target.database_url, pool_size=1, application_name="titan-doctor")
    try:
        started = time.perf_counter()
        async with engine.connect() as conn:
            latency = (time.perf_counter() - started) * 1000
            facts = await _database_facts(conn)
    except (OSError, SQLAlchemyError, TimeoutError) as exc:
        reason = f"Postgres unreachable ({type(exc).__name__}): services pause with DB_UNAVAILABLE"
        return Check("db", Status.FAIL, reason), Check("wal/audit", Status.WARN, "unknown (no database)")
    finally:
        await engine.dispose()
    head = migrate.head_revision()
    at_head = facts["revision"] == head
    db = Check(
        "db",
        Status.OK if at_head else Status.WARN,
        f"PostgreSQL {facts['version']}, {latency:.0f} ms, {_human(facts['size'])}, "
        f"migration {facts['revision'] or 'none'}" + ("" if at_head else f" (head is {head}: run `titan migrate`)"),
    )
    wal = facts["wal"]
    abnormal, jsonl = _audit_growth(target.var_dir / "audit", limits)
    wal_text = "WAL n/a (needs pg_monitor)" if wal is None else f"WAL {_human(wal)}"
    status = Status.WARN if (wal is not None and wal > limits.wal_warn_bytes) or abnormal else Status.OK
    detail = f"{wal_text}; audit rows 24h {facts['audit_24h']} (previous 24h {facts['audit_prev_24h']}); JSONL {jsonl}"
    return db, Check("wal/audit", status, detail)


async def _database_facts(conn: AsyncConnection) -> dict[str, Any]:
    version = str(await conn.scalar(text("SHOW server_version"))).split()[0]
    has_alembic = await conn.scalar(text("SELECT to_regclass('public.alembic_version') IS NOT NULL"))
    revision = await conn.scalar(text("SELECT version_num FROM alembic_version LIMIT 1")) if has_alembic else None
    size = int(await conn.scalar(text("SELECT pg_database_size(current_database())")) or 0)
    wal: int | None
    try:
        async with conn.begin_nested():
            wal = int(await conn.scalar(text("SELECT coalesce(sum(size), 0) FROM pg_ls_waldir()")) or 0)
    except SQLAlchemyError:
        wal = None  # needs superuser or pg_monitor
    now = now_ms()
    day = 86_400_000
    last_day = prev_day = 0
    if await conn.scalar(text("SELECT to_regclass('public.audit_events') IS NOT NULL")):
        count = text("SELECT count(*) FROM audit_events WHERE ts_ms >= :since AND ts_ms < :until")
        last_day = int(await conn.scalar(count, {"since": now - day, "until": now + day}) or 0)
        prev_day = int(await conn.scalar(count, {"since": now - 2 * day, "until": now - day}) or 0)
    return {
        "version": version,
        "revision": revision,
        "size": size,
        "wal": wal,
        "audit_24h": last_day,
        "audit_prev_24h": prev_day,
    }


def _audit_growth(audit_dir: Path, limits: Thresholds) -> tuple[bool, str]:
    """Today's JSONL mirror against yesterday's: (abnormal?, description)."""
    today = utc_day(now_ms())
    yesterday = utc_day(now_ms() - 86_400_000)

    def size_of(day: str) -> int:
        return sum(p.stat().st_size for p in audit_dir.glob(f"*-{day}.jsonl")) if audit_dir.exists() else 0

    now_bytes, before = size_of(today), size_of(yesterday)
    abnormal = now_bytes > limits.audit_growth_min_bytes and now_bytes > limits.audit_growth_warn * max(before, 1)
    return abnormal, f"today {_human(now_bytes)}, yesterday {_human(before)}" + (
        " (abnormal growth)" if abnormal else ""
    )


async def check_redis(target: Targets) -> tuple[Check, Check]:
    """Reachability; then the system state from the services' heartbeats."""
    if not target.redis_url:
        return Check("redis", Status.FAIL, "REDIS_URL is not set"), Check("services", Status.WARN, "unknown")
    client: Redis = make_redis(target.redis_url, socket_timeout=CHECK_TIMEOUT_S)
    shown = target.redis_url.split("@")[-1]
    try:
        started = time.perf_counter()
        await client.ping()
        latency = (time.perf_counter() - started) * 1000
        beats = await read_beats(client, target.processes)
    except Exception as exc:
        message = f"{shown} is not answering ({type(exc).__name__}): services pause with REDIS_UNAVAILABLE"
        return Check("redis", Status.FAIL, message), Check("services", Status.WARN, "unknown (no Redis)")
    finally:
        await client.aclose()
    state = system_state_of(beats, now_ms())
    down = [name for name in target.processes if beats.get(name) is None]
    reasons = ",".join(r.value for r in state.reasons) or "-"
    detail = f"system {state.mode.value} ({reasons})" + (f"; no heartbeat from {', '.join(down)}" if down else "")
    return (
        Check("redis", Status.OK, f"{shown} answered in {latency:.0f} ms"),
        Check("services", Status.OK if state.mode.value == "NORMAL" else Status.WARN, detail),
    )


def check_disk(target: Targets, limits: Thresholds) -> Check:
    path = target.var_dir if target.var_dir.exists() else Path.cwd()
    usage = shutil.disk_usage(path)
    free_pct = 100.0 * usage.free / usage.total
    detail = f"{_human(usage.free)} free of {_human(usage.total)} ({free_pct:.0f}%) at {path}"
    if usage.free < limits.disk_fail_bytes:
        return Check("disk", Status.FAIL, detail + ": DISK_LOW_PAUSE, free space now")
    if free_pct < limits.disk_warn_pct:
        return Check("disk", Status.WARN, detail + f": below {limits.disk_warn_pct:g}% free (DISK_LOW_DEGRADE)")
    return Check("disk", Status.OK, detail)


# --- all together -------------------------------------------------------------------


async def _guarded(name: str, coro: Awaitable[object], timeout_s: float) -> object:
    try:
        return await asyncio.wait_for(coro, timeout_s)
    except TimeoutError:
        return Check(name, Status.FAIL, f"no answer within {timeout_s:g}s")


def _flatten(results: list[object]) -> list[Check]:
    checks: list[Check] = []
    for result in results:
        checks.extend(result if isinstance(result, tuple) else [result])  # type: ignore[list-item]
    return checks


async def run_checks(target: Targets, limits: Thresholds | None = None) -> list[Check]:
    limits = limits or Thresholds()
    budget = CHECK_TIMEOUT_S * 2 + 2
    jobs: list[tuple[str, Callable[[], Awaitable[object]]]] = [
        ("rest", lambda: check_exchange_rest(target, limits)),
        ("ws", lambda: check_exchange_ws(target)),
        ("db", lambda: check_database(target, limits)),
        ("redis", lambda: check_redis(target)),
        *(
            (name, lambda name=name, options=options: check_venue(name, options, limits))
            for name, options in target.other_venues.items()
        ),
    ]
    results = await asyncio.gather(*(_guarded(name, make(), budget) for name, make in jobs))
    checks = [*_flatten(list(results)), check_disk(target, limits)]
    order = ["rest", "ws", "filters", "clock", "db", "redis", "services", "disk", "wal/audit"]
    return sorted(checks, key=lambda c: order.index(c.name) if c.name in order else len(order))


def verdict(checks: list[Check], *, strict: bool = False) -> tuple[int, str]:
    """Exit code and the one closing line: 0 when nothing failed (and, with strict, nothing warned)."""
    failed = [c.name for c in checks if c.status is Status.FAIL]
    warned = [c.name for c in checks if c.status is Status.WARN]
    if failed:
        return 1, f"FAIL: {', '.join(failed)} " + ("is" if len(failed) == 1 else "are") + " not well (see above)"
    if warned and strict:
        return 1, f"WARN: {', '.join(warned)} (strict: warnings fail)"
    if warned:
        return 0, f"OK with warnings: {', '.join(warned)}"
    return 0, "OK: all is well"
