"""The runbook's checklists as data: each box a machine can judge gets a verdict and the
value it was judged on; the others are MANUAL. Pure: the readings are gathered by the
caller (`titan checklist`), so every rule here is a plain function of them.

Thresholds are the daily-operations runbook's (`Limits`); a shared test machine may widen
the machine-wide ones, never the trading ones.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

MB = 1_000_000
SERVICES = ("brain", "execution", "console", "scavenger")


class Verdict(StrEnum):
    HOLDS = "✓"
    FAILS = "✗"
    MANUAL = "manual"


@dataclass(frozen=True)
class Box:
    section: str
    text: str
    verdict: Verdict
    value: str = ""

    def line(self) -> str:
        return f"{self.verdict.value:<6} {self.section}: {self.text}" + (f" ({self.value})" if self.value else "")


@dataclass(frozen=True)
class Limits:
    service_cpu_pct: Mapping[str, float] = field(
        default_factory=lambda: {"brain": 50.0, "execution": 50.0, "scavenger": 40.0, "console": 50.0}
    )
    service_memory_mb: Mapping[str, float] = field(
        default_factory=lambda: {"brain": 200.0, "execution": 300.0, "scavenger": 200.0, "console": 200.0}
    )
    cpu_pct: float = 70.0
    memory_pct: float = 80.0
    disk_free_pct: float = 20.0
    load_per_core: float = 1.0
    swap_pct: float = 10.0
    db_growth_pct: float = 10.0
    db_connections: int = 20
    redis_memory_mb: float = 1000.0
    response_s: float = 2.0
    funding_extreme: Decimal = Decimal("0.001")  # ±0.1%
    restart_gap_s: float = 600.0  # a service up this much less than the oldest one restarted


@dataclass
class Readings:
    """What `titan checklist` could read; None where a reading failed (the box fails)."""

    health: dict[str, dict[str, Any] | None] = field(default_factory=dict)  # service -> /health body
    response_s: dict[str, float] = field(default_factory=dict)
    cpu_pct: dict[str, float] = field(default_factory=dict)  # service -> % of a core
    rss_mb: dict[str, float] = field(default_factory=dict)
    machine_cpu_pct: float | None = None
    memory_pct: float | None = None
    disk_free_pct: float | None = None
    load_1m: float | None = None
    cores: int = 1
    swap_pct: float | None = None
    postgres_ok: bool = False
    db_size_bytes: int | None = None
    db_size_day_before: int | None = None  # the size recorded about a day ago, if any
    db_connections: int | None = None
    redis_ok: bool = False
    redis_memory_mb: float | None = None
    master_armed: bool | None = None
    breaker_active: bool | None = None
    config: dict[str, Any] | None = None  # the console's /api/console/config
    orphans: int | None = None  # execution's /positions/verify
    missing_stops: int | None = None
    positions: list[dict[str, Any]] | None = None
    equity: Decimal | None = None
    funding: dict[str, Decimal] = field(default_factory=dict)  # symbol -> current rate
    price_range_pct: dict[str, float] = field(default_factory=dict)  # symbol -> 24 h range, % of last
    critical_log_lines: int | None = None
    warning_log_lines: int | None = None
    backups_ok: bool | None = None
    backup_detail: str = ""
    daily: dict[str, Any] = field(default_factory=dict)  # the day's figures (eod sign-off)


def _box(section: str, text: str, ok: bool | None, value: str = "") -> Box:
    return Box(
        section, text, Verdict.HOLDS if ok else Verdict.FAILS, value if ok is not None else value or "no reading"
    )


def _manual(section: str, text: str) -> Box:
    return Box(section, text, Verdict.MANUAL, "a person judges this")


def service_boxes(r: Readings, limits: Limits) -> list[Box]:
    boxes = []
    for name in SERVICES:
        body = r.health.get(name)
        status = (body or {}).get("status")
        uptime = float((body or {}).get("uptime") or 0)
        ok = body is not None and status in ("ok", "healthy") and uptime > 0
        boxes.append(
            _box("System health", f"{name} status ok, uptime > 0", ok, f"{status or 'no answer'}, {uptime:.0f}s")
        )
    checks = [(b or {}).get("checks", {}) for b in r.health.values()]
    db = [c.get("db", {}).get("ok") for c in checks if "db" in c]
    redis = [c.get("redis", {}).get("ok") for c in checks if "redis" in c]
    boxes.append(_box("System health", "PostgreSQL connected", bool(db) and all(db) and r.postgres_ok))
    boxes.append(_box("System health", "Redis connected", bool(redis) and all(redis) and r.redis_ok))
    exchange = ((r.health.get("execution") or {}).get("checks") or {}).get("exchange") or {}
    boxes.append(_box("System health", "exchange API connected", bool(exchange.get("connected")),
                      str(exchange.get("name", ""))))  # fmt: skip
    return boxes


def process_boxes(r: Readings, limits: Limits) -> list[Box]:
    boxes = []
    for name in ("brain", "execution", "scavenger"):
        cpu, rss = r.cpu_pct.get(name), r.rss_mb.get(name)
        ok = (
            None
            if cpu is None or rss is None
            else cpu < limits.service_cpu_pct[name] and rss < limits.service_memory_mb[name]
        )
        value = "no metrics" if ok is None else f"CPU {cpu:.1f}%, {rss:.0f} MB"
        boxes.append(_box("Service status", f"titan-{name} online, CPU < {limits.service_cpu_pct[name]:.0f}%, "
                          f"memory < {limits.service_memory_mb[name]:.0f} MB", ok, value))  # fmt: skip
    answered = [n for n in SERVICES if r.health.get(n) is not None]
    boxes.append(_box("Service status", "no service errored or stopped", len(answered) == len(SERVICES),
                      f"{len(answered)}/{len(SERVICES)} answering"))  # fmt: skip
    uptimes = {n: float((r.health.get(n) or {}).get("uptime") or 0) for n in answered}
    if uptimes:
        oldest = max(uptimes.values())
        young = sorted(n for n, u in uptimes.items() if oldest - u > limits.restart_gap_s)
        boxes.append(_box("Service status", "restart counts stable (no service restarted since the stack started)",
                          not young, ", ".join(young) or "none restarted"))  # fmt: skip
    return boxes


def machine_boxes(r: Readings, limits: Limits) -> list[Box]:
    def under(value: float | None, limit: float) -> bool | None:
        return None if value is None else value < limit

    def show(value: float | None, unit: str = "%") -> str:
        return "" if value is None else f"{value:.1f}{unit}"

    load_limit = limits.load_per_core * r.cores
    return [
        _box("Resources", f"CPU < {limits.cpu_pct:.0f}%", under(r.machine_cpu_pct, limits.cpu_pct),
             show(r.machine_cpu_pct)),
        _box("Resources", f"memory < {limits.memory_pct:.0f}% of RAM", under(r.memory_pct, limits.memory_pct),
             show(r.memory_pct)),
        _box("Resources", f"disk > {limits.disk_free_pct:.0f}% free",
             None if r.disk_free_pct is None else r.disk_free_pct > limits.disk_free_pct,
             show(r.disk_free_pct) + " free"),
        _box("Resources", f"load average < {load_limit:g} ({r.cores} cores)", under(r.load_1m, load_limit),
             show(r.load_1m, "")),
        _box("Resources", f"swap < {limits.swap_pct:.0f}%", under(r.swap_pct, limits.swap_pct), show(r.swap_pct)),
    ]  # fmt: skip


def store_boxes(r: Readings, limits: Limits) -> list[Box]:
    growth_ok: bool | None
    if r.db_size_bytes is None:
        growth_ok, growth = None, ""
    elif not r.db_size_day_before:
        growth_ok, growth = True, f"{r.db_size_bytes / MB:.1f} MB, no size from a day ago yet"
    else:
        pct = (r.db_size_bytes - r.db_size_day_before) / r.db_size_day_before * 100
        growth_ok, growth = pct < limits.db_growth_pct, f"{r.db_size_bytes / MB:.1f} MB, {pct:+.1f}% in a day"
    return [
        _box("Database", "PostgreSQL connection successful", r.postgres_ok),
        _box("Database", f"database size growth < {limits.db_growth_pct:.0f}% a day", growth_ok, growth),
        _box("Database", f"active connections < {limits.db_connections}",
             None if r.db_connections is None else r.db_connections < limits.db_connections,
             str(r.db_connections or "")),
        _box("Database", "Redis PONG", r.redis_ok),
        _box("Database", f"Redis memory < {limits.redis_memory_mb:.0f} MB",
             None if r.redis_memory_mb is None else r.redis_memory_mb < limits.redis_memory_mb,
             "" if r.redis_memory_mb is None else f"{r.redis_memory_mb:.1f} MB"),
    ]  # fmt: skip


def trading_boxes(r: Readings, limits: Limits, bounds_ok: Callable[[dict[str, Any]], list[str]]) -> list[Box]:
    config = r.config or {}
    out_of_range = bounds_ok(config) if config else ["no config"]
    whitelist = config.get("asset_whitelist") or []
    exchange = ((r.health.get("execution") or {}).get("checks") or {}).get("exchange") or {}
    return [
        _box("Trading config", "master arm enabled", r.master_armed, "armed" if r.master_armed else "disarmed"),
        _box("Trading config", "circuit breaker not active",
             None if r.breaker_active is None else not r.breaker_active),
        _box("Trading config", "risk parameters within the runbook's ranges", not out_of_range,
             ", ".join(out_of_range) or str(config.get("risk_tuner", ""))),
        _box("Trading config", "asset whitelist enabled with approved symbols", bool(whitelist), ",".join(whitelist)),
        _box("Trading config", "API keys validated", bool(exchange.get("connected")) and not exchange.get("error"),
             str(exchange.get("error") or "")),
    ]  # fmt: skip


def position_boxes(r: Readings, limits: Limits) -> list[Box]:
    config = r.config or {}
    positions = r.positions
    count_ok = None if positions is None else len(positions) <= int(config.get("max_open_positions") or 0)
    share = Decimal(str(config.get("max_position_pct") or 0))
    too_big = []
    if positions is not None and r.equity:
        for p in positions:
            margin = Decimal(str(p.get("notional") or 0)) / max(Decimal(str(p.get("leverage") or 1)), Decimal(1))
            if margin > share * r.equity:
                too_big.append(str(p.get("symbol")))
    return [
        _box("Positions", "position count within max_open_positions", count_ok,
             "" if positions is None else f"{len(positions)} of {config.get('max_open_positions')}"),
        _box("Positions", "no orphaned positions (shadow state vs exchange)",
             None if r.orphans is None else r.orphans == 0 and not r.missing_stops,
             "" if r.orphans is None else f"{r.orphans} orphans, {r.missing_stops or 0} without a stop"),
        _box("Positions", "equity known", r.equity is not None and r.equity > 0, str(r.equity or "")),
        _box("Positions", "no position over its size limit", None if positions is None else not too_big,
             ", ".join(too_big)),
    ]  # fmt: skip


def market_boxes(r: Readings, limits: Limits) -> list[Box]:
    extreme = sorted(s for s, rate in r.funding.items() if abs(rate) > limits.funding_extreme)
    ranges = ", ".join(f"{s} {v:.1f}%" for s, v in sorted(r.price_range_pct.items()) if s in ("BTCUSDT", "ETHUSDT"))
    return [
        _box("Market", "BTC and ETH 24 h range read", bool(ranges), ranges),
        _box("Market", f"no extreme funding (beyond ±{limits.funding_extreme * 100}%)",
             None if not r.funding else not extreme, ", ".join(extreme) or f"{len(r.funding)} symbols"),
        _manual("Market", "market structure: trending or ranging"),
        _manual("Market", "news: major market-moving events"),
    ]  # fmt: skip


def log_boxes(r: Readings, limits: Limits) -> list[Box]:
    return [
        _box("Logs", "no critical errors in the application logs (24 h)",
             None if r.critical_log_lines is None else r.critical_log_lines == 0, f"{r.critical_log_lines} CRITICAL"),
        _box("Logs", "warning count within normal ranges (< 1000 in 24 h)",
             None if r.warning_log_lines is None else r.warning_log_lines < 1000, f"{r.warning_log_lines} WARNING"),
        _manual("Logs", "system-level errors in journalctl; database logs"),
    ]  # fmt: skip


def hourly_boxes(r: Readings, limits: Limits) -> list[Box]:
    slow = sorted(n for n, s in r.response_s.items() if s >= limits.response_s)
    answered = all(r.health.get(n) is not None for n in SERVICES)
    return [
        _box("Hourly", f"all services responding (< {limits.response_s:g} s)", answered and not slow,
             ", ".join(f"{n} {s * 1000:.0f} ms" for n, s in sorted(r.response_s.items()))),
        _box("Hourly", "circuit breaker not triggered", None if r.breaker_active is None else not r.breaker_active),
    ]  # fmt: skip


def backup_boxes(r: Readings, limits: Limits) -> list[Box]:
    return [_box("Backups", "database backup completed and verified", r.backups_ok, r.backup_detail)]


CHECKLISTS = ("premarket", "hourly", "midday", "postmarket", "eod", "weekly")


def boxes_for(name: str, r: Readings, limits: Limits, bounds_ok: Callable[[dict[str, Any]], list[str]]) -> list[Box]:
    """Every box of one checklist, in the runbook's order."""
    health = service_boxes(r, limits)
    if name == "premarket":
        return [*health, *process_boxes(r, limits), *machine_boxes(r, limits), *store_boxes(r, limits),
                *trading_boxes(r, limits, bounds_ok), *position_boxes(r, limits), *market_boxes(r, limits),
                *log_boxes(r, limits)]  # fmt: skip
    if name in ("hourly", "midday"):
        return [*hourly_boxes(r, limits), *health[-3:], *position_boxes(r, limits)[:2], *machine_boxes(r, limits)]
    if name == "postmarket":
        return [*position_boxes(r, limits), *hourly_boxes(r, limits)[1:], *machine_boxes(r, limits)[2:3],
                *backup_boxes(r, limits), *log_boxes(r, limits)]  # fmt: skip
    if name == "eod":
        return [*position_boxes(r, limits)[:2], *health, *backup_boxes(r, limits), *log_boxes(r, limits),
                _manual("End of day", "security review: authentication attempts, API access patterns")]  # fmt: skip
    if name == "weekly":
        return [*health, *machine_boxes(r, limits), *store_boxes(r, limits), *backup_boxes(r, limits)]
    raise ValueError(f"no checklist {name!r}: one of {', '.join(CHECKLISTS)}")


def holds(boxes: list[Box]) -> bool:
    """Every box a machine can judge holds."""
    return all(b.verdict is not Verdict.FAILS for b in boxes)


def sign_off_line(name: str, operator: str, when: str, boxes: list[Box], daily: Mapping[str, Any]) -> str:
    """The runbook's log line, with the sign-off's figures for the end of the day."""
    words = {"premarket": "Pre-market check", "hourly": "Hourly check", "midday": "Mid-day check",
             "postmarket": "Post-market check", "eod": "End-of-day procedures", "weekly": "Weekly check"}  # fmt: skip
    outcome = "completed successfully" if holds(boxes) else "completed with failures"
    passed = sum(b.verdict is Verdict.HOLDS for b in boxes)
    failed = sum(b.verdict is Verdict.FAILS for b in boxes)
    line = f"{when}: {words[name]} {outcome} ({passed} ✓, {failed} ✗) Operator: {operator}"
    if name == "eod":
        line += (
            f" | Daily P&L: ${daily.get('pnl', '?')} ({daily.get('pnl_pct', '?')}%)"
            f" | Max Drawdown: {daily.get('max_drawdown_pct', '?')}%"
            f" | System Uptime: {daily.get('uptime_pct', '?')}%"
            f" | Trades Executed: {daily.get('trades', '?')}"
            f" | Signal Success Rate: {daily.get('signal_success_pct', '?')}%"
        )
    return line
