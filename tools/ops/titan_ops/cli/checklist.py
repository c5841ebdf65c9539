"""`titan checklist premarket|hourly|midday|postmarket|eod|weekly`: the runbook's boxes,
each ticked by a reading (titan_ops.checklist judges them), one line per box, exit 0
only when every box a machine can judge holds. `--sign OPERATOR` appends the runbook's
log line (and, at the end of the day, its figures) to the daily-ops log."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import httpx
import psutil  # type: ignore[import-untyped]
import typer
from rich.console import Console

from titan_common.clock import utc_day
from titan_common.config import RiskTuner, TradingConfig
from titan_common.settings import CommonSettings, load_settings
from titan_ops.checklist import CHECKLISTS, SERVICES, Limits, Readings, Verdict, boxes_for, sign_off_line
from titan_ops.cli.ops import embedded_database_url
from titan_ops.cli.runbook import parse_sample

console = Console(soft_wrap=True)  # one line per result, whatever the width
LOG_WINDOW_S = 86_400


def limits_from_env() -> Limits:
    """The runbook's thresholds; TITAN_CHECKLIST_<NAME> widens a machine-wide one (a shared
    test machine is not a trading host: its load is other people's)."""
    limits = Limits()
    changes: dict[str, float] = {}
    for name in ("cpu_pct", "memory_pct", "load_per_core", "swap_pct"):
        raw = os.environ.get(f"TITAN_CHECKLIST_{name.upper()}")
        if raw:
            changes[name] = float(raw)
    return replace(limits, **changes)  # type: ignore[arg-type]


def out_of_range(config: dict[str, Any]) -> list[str]:
    """Risk parameters outside the console's bounds (the runbook's ranges)."""
    try:
        TradingConfig.model_validate({k: v for k, v in config.items() if k in TradingConfig.model_fields})
        RiskTuner.model_validate(config.get("risk_tuner") or {})
    except ValueError as exc:
        return [str(exc).splitlines()[0]]
    return []


def _json(client: httpx.Client, url: str) -> Any:
    response = client.get(url)
    response.raise_for_status()
    return response.json()


def read_services(settings: CommonSettings, r: Readings) -> None:
    with httpx.Client(timeout=5) as client:
        first: dict[str, Any] = {}
        for name in SERVICES:
            started = time.monotonic()
            try:
                r.health[name] = _json(client, settings.url_of(name) + "/health")
            except (httpx.HTTPError, ValueError):
                r.health[name] = None
            r.response_s[name] = time.monotonic() - started
            with contextlib.suppress(httpx.HTTPError):
                first[name] = parse_sample(client.get(settings.url_of(name) + "/metrics").text)
        time.sleep(1.0)
        for name, a in first.items():
            try:
                b = parse_sample(client.get(settings.url_of(name) + "/metrics").text)
            except httpx.HTTPError:
                continue
            if a.cpu_seconds is not None and b.cpu_seconds is not None and b.at > a.at:
                r.cpu_pct[name] = 100.0 * (b.cpu_seconds - a.cpu_seconds) / (b.at - a.at)
            if b.rss_bytes is not None:
                r.rss_mb[name] = b.rss_bytes / 1e6
        console_url, execution_url = settings.url_of("console"), settings.url_of("execution")
        for read in (
            lambda: setattr(r, "master_armed", _json(client, console_url + "/api/console/master-arm")["master_arm"]),
            lambda: setattr(r, "breaker_active", bool(_json(client, settings.url_of("brain") + "/breaker")["active"])),
            lambda: setattr(r, "config", _json(client, console_url + "/api/console/config")),
            lambda: _verify(r, _json(client, execution_url + "/positions/verify")),
            lambda: setattr(r, "positions", _json(client, execution_url + "/positions")["positions"]),
            lambda: setattr(r, "equity", Decimal(str(_json(client, execution_url + "/wallet")["equity"]))),
            lambda: _tickers(r, _json(client, settings.url_of("simulator") + "/v5/market/tickers?category=linear")),
        ):  # fmt: skip
            try:
                read()  # type: ignore[no-untyped-call]
            except (httpx.HTTPError, ValueError, KeyError, TypeError, InvalidOperation):
                continue


def _verify(r: Readings, report: dict[str, Any]) -> None:
    r.orphans = len(report.get("diffs") or [])
    r.missing_stops = len(report.get("unprotected") or [])


def _tickers(r: Readings, body: dict[str, Any]) -> None:
    for row in (body.get("result") or {}).get("list") or []:
        symbol = str(row["symbol"])
        if row.get("fundingRate") not in (None, ""):
            r.funding[symbol] = Decimal(str(row["fundingRate"]))
        high, low, last = (float(row.get(k) or 0) for k in ("highPrice24h", "lowPrice24h", "lastPrice"))
        if last > 0 and high >= low > 0:
            r.price_range_pct[symbol] = (high - low) / last * 100


def read_backups(r: Readings) -> None:
    """The backup directory as `titan backup status` reads it (titan_worker's functions)."""
    import importlib

    from titan_common.clock import now_ms

    try:
        backups = importlib.import_module("titan_worker.backups")
        settings = load_settings(importlib.import_module("titan_worker.settings").JobSettings)
        report = backups.status(settings.backups_path, now_ms=now_ms(), max_age_h=settings.backup_max_age_h)
    except Exception as exc:
        r.backups_ok, r.backup_detail = False, f"{type(exc).__name__}: {exc}"
        return
    r.backups_ok = bool(report.get("ok"))
    r.backup_detail = "; ".join(report.get("problems") or []) or f"{report.get('count', 0)} backup(s)"


def read_machine(settings: CommonSettings, r: Readings) -> None:
    r.machine_cpu_pct = psutil.cpu_percent(interval=1.0)
    r.memory_pct = psutil.virtual_memory().percent
    usage = psutil.disk_usage(str(settings.var_dir if settings.var_dir.exists() else Path.cwd()))
    r.disk_free_pct = usage.free / usage.total * 100
    r.load_1m = os.getloadavg()[0]
    r.cores = psutil.cpu_count() or 1
    swap = psutil.swap_memory()
    r.swap_pct = swap.percent if swap.total else 0.0


async def _postgres(database_url: str, r: Readings) -> None:
    import asyncpg  # type: ignore[import-untyped]

    from titan_common.settings import normalise_database_url, plain_database_url

    conn = await asyncpg.connect(plain_database_url(normalise_database_url(database_url)), timeout=5)
    try:
        r.db_size_bytes = int(await conn.fetchval("SELECT pg_database_size(current_database())"))
        r.db_connections = int(
            await conn.fetchval("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        )
        r.postgres_ok = True
    finally:
        await conn.close()


def remember_size(r: Readings, sizes: Path) -> None:
    """Keep a size a day, so the next days can say how fast the database grows."""
    if r.db_size_bytes is None:
        return
    history: dict[str, int] = {}
    with contextlib.suppress(OSError, ValueError):
        history = json.loads(sizes.read_text())
    today = utc_day(int(time.time() * 1000))
    earlier = sorted(day for day in history if day < today)
    r.db_size_day_before = history[earlier[-1]] if earlier else None
    history[today] = r.db_size_bytes
    sizes.parent.mkdir(parents=True, exist_ok=True)
    sizes.write_text(json.dumps(dict(sorted(history.items())[-60:])))


async def _redis(redis_url: str, r: Readings) -> None:
    from redis.asyncio import Redis

    client: Redis = Redis.from_url(redis_url, socket_timeout=3, socket_connect_timeout=3)
    try:
        r.redis_ok = bool(await client.ping())
        info = await client.info("memory")
        r.redis_memory_mb = float(info.get("used_memory", 0)) / 1e6
    finally:
        await client.aclose()


def read_stores(settings: CommonSettings, r: Readings) -> None:
    database_url = settings.database_url or embedded_database_url(settings.var_dir)
    redis_url = settings.redis_url or "redis://127.0.0.1:6390/0"
    if database_url:
        try:
            asyncio.run(_postgres(database_url, r))
        except Exception:  # any failure is a failed box, which names it
            r.postgres_ok = False
        remember_size(r, settings.var_dir / "status" / "db-size.json")
    try:
        asyncio.run(_redis(redis_url, r))
    except Exception:
        r.redis_ok = False


def read_logs(settings: CommonSettings, r: Readings) -> None:
    since = time.time() - LOG_WINDOW_S
    critical = warning = 0
    for path in (settings.var_dir / "log").glob("*.log"):
        try:
            if path.stat().st_mtime < since:
                continue
            with path.open(encoding="utf-8", errors="replace") as handle:
                for line in handle:
                    critical += " CRITICAL " in line
                    warning += " WARNING " in line
        except OSError:
            continue
    r.critical_log_lines, r.warning_log_lines = critical, warning


def daily_figures(settings: CommonSettings, r: Readings) -> dict[str, Any]:
    """The end-of-day sign-off's figures: the day's closed trades (execution), its equity
    and drawdown (the brain), the services' uptime within the day, and the share of the
    day's signals the brain approved."""
    from titan_common.clock import now_ms
    from titan_common.performance import summarise_trades

    now = now_ms()
    day_start = now - now % 86_400_000
    figures: dict[str, Any] = {}
    with httpx.Client(timeout=10) as client:
        try:
            trades = _json(client, settings.url_of("execution") + f"/trades?limit=10000&since_ms={day_start}")["trades"]
            summary = summarise_trades([Decimal(t["netPnl"]) for t in trades])
            figures["trades"] = summary.trades
            figures["pnl"] = f"{summary.net_pnl:.2f}"
            if r.equity:
                figures["pnl_pct"] = f"{summary.net_pnl / max(r.equity - summary.net_pnl, Decimal(1)) * 100:.2f}"
        except (httpx.HTTPError, ValueError, KeyError, InvalidOperation):
            pass
        try:
            drawdown = _json(client, settings.url_of("brain") + "/dashboard").get("dailyDrawdown")
            figures["max_drawdown_pct"] = f"{float(drawdown or 0) * 100:.2f}"
        except (httpx.HTTPError, ValueError, TypeError):
            pass
        try:
            signals = _json(client, settings.url_of("console") + "/api/console/signals?limit=1000")["signals"]
            today = [s for s in signals if int(s.get("ts_ms") or s.get("timestamp") or 0) >= day_start]
            approved = [s for s in today if s.get("verdict") == "APPROVE"]
            figures["signal_success_pct"] = f"{len(approved) / len(today) * 100:.1f}" if today else "n/a"
        except (httpx.HTTPError, ValueError, KeyError, TypeError):
            pass
    elapsed_s = max(1.0, (now - day_start) / 1000)
    uptimes = [min(float((b or {}).get("uptime") or 0), elapsed_s) / elapsed_s for b in r.health.values()]
    figures["uptime_pct"] = f"{min(uptimes) * 100:.1f}" if uptimes else "0"
    return figures


def ops_log_path(settings: CommonSettings) -> Path:
    """TITAN_DAILY_OPS_LOG (deployed: the runbook's /var/log/titan/daily-ops.log), else var/log/."""
    return settings.daily_ops_log or settings.var_dir / "log" / "daily-ops.log"


def checklist(
    name: Annotated[str, typer.Argument(help="premarket|hourly|midday|postmarket|eod|weekly")],
    sign: Annotated[str | None, typer.Option("--sign", help="append the sign-off line for this operator")] = None,
) -> None:
    """Run every box of a runbook checklist that a machine can check: one line each, ✓ or ✗
    with the value read; "manual" for what a person must judge. Exit 0 only when every
    checkable box holds."""
    if name not in CHECKLISTS:
        console.print(f"[red]FAIL[/red] no checklist {name!r}: one of {', '.join(CHECKLISTS)}")
        raise typer.Exit(2)
    settings = load_settings(CommonSettings)
    readings = Readings()
    read_services(settings, readings)
    read_machine(settings, readings)
    read_stores(settings, readings)
    read_logs(settings, readings)
    read_backups(readings)
    boxes = boxes_for(name, readings, limits_from_env(), out_of_range)
    for box in boxes:
        console.print(box.line(), markup=False, soft_wrap=True)
    failed = [b for b in boxes if b.verdict is Verdict.FAILS]
    if sign:
        when = datetime.now(tz=UTC).strftime("%a %b %d %H:%M:%S UTC %Y")
        line = sign_off_line(name, sign, when, boxes, daily_figures(settings, readings) if name == "eod" else {})
        path = ops_log_path(settings)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")
        console.print(f"signed off in {path}", markup=False)
    if failed:
        named = "; ".join(f"{b.section}: {b.text}" for b in failed)
        console.print(f"FAIL {len(failed)} box(es) do not hold: {named}", markup=False, soft_wrap=True)
        raise typer.Exit(1)
    console.print(f"OK every checkable box of {name} holds ({len(boxes)} boxes)", markup=False)
