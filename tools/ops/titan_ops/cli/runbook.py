"""The runbooks' checks as `titan` subcommands; scripts/*.sh are thin wrappers over these.

Each command talks to the running services over HTTP (so it works the same against
embedded or external stores), prints a readable result, and exits non-zero with a
one-line reason when something is wrong.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console
from rich.table import Table

from titan_common.clock import now_ms, utc_day
from titan_common.performance import summarise_trades
from titan_common.settings import CommonSettings, load_settings

console = Console()
positions_app = typer.Typer(help="Positions: the shadow state against the exchange.", no_args_is_help=True)
reconcile_app = typer.Typer(help="Reconciliation runs and reports.", no_args_is_help=True)
perf_app = typer.Typer(help="Performance: live resource use and trading results.", no_args_is_help=True)
status_app = typer.Typer(help="Status messages for the team.", no_args_is_help=True)
keys_app = typer.Typer(help="Exchange API keys.", no_args_is_help=True)

# the operator manual's "Key Metrics to Watch" thresholds: (warning, critical)
LATENCY_MS = (100.0, 500.0)
MEMORY_MB = (450.0, 500.0)
CPU_PCT = (70.0, 90.0)
TIMEFRAMES_MS = {"1h": 3_600_000, "1d": 86_400_000, "7d": 7 * 86_400_000, "30d": 30 * 86_400_000}


def _settings() -> CommonSettings:
    return load_settings(CommonSettings)


def fail(reason: str, code: int = 1) -> typer.Exit:
    """Print the one-line reason and return the exit to raise."""
    console.print(f"[red]FAIL[/red] {reason}")
    return typer.Exit(code)


def _get(client: httpx.Client, url: str) -> Any:
    response = client.get(url)
    response.raise_for_status()
    return response.json()


def dependency_lines(bodies: dict[str, dict[str, Any]]) -> list[str]:
    """The runbook's checklist lines under the service table: Postgres, Redis, the exchange."""

    def seen(check: str) -> str:
        states = [b.get("checks", {}).get(check, {}).get("ok") for b in bodies.values()]
        states = [s for s in states if s is not None]
        if not states:
            return "[red]unknown[/red] (no service answered)"
        return "[green]connected[/green]" if all(states) else "[red]NOT connected[/red]"

    exchange = bodies.get("execution", {}).get("checks", {}).get("exchange", {})
    exchange_text = (
        "[red]unknown[/red] (execution did not answer)" if not exchange
        else f"{exchange.get('name', 'exchange')} "
        + ("[green]connected[/green]" if exchange.get("connected") else "[red]NOT connected[/red]")
    )  # fmt: skip
    return [f"Database: PostgreSQL {seen('db')}, Redis {seen('redis')}", f"Exchange APIs: {exchange_text}"]


def diff_table(diffs: list[dict[str, Any]]) -> Table:
    """Reconcile differences, one row each (with the run id when the report spans runs)."""
    columns = ["kind", "symbol", "field", "shadow", "exchange", "severity", "action"]
    with_run = any("run_id" in d for d in diffs)
    table = Table(*(["run"] if with_run else []), *columns)
    for d in diffs:
        table.add_row(*([str(d.get("run_id"))] if with_run else []), *(str(d.get(c)) for c in columns))
    return table


# --- positions ----------------------------------------------------------------------


@positions_app.command("verify")
def positions_verify() -> None:
    """Shadow positions against the exchange's, read-only. Exit 1 on any difference or missing stop."""
    settings = _settings()
    try:
        with httpx.Client(timeout=15) as client:
            report = _get(client, settings.url_of("execution") + "/positions/verify")
    except httpx.HTTPError as exc:
        raise fail(f"execution did not answer /positions/verify: {type(exc).__name__}") from None
    console.print(f"shadow positions: {report['shadow_count']}   exchange positions: {report['exchange_count']}")
    if report["diffs"]:
        console.print(diff_table(report["diffs"]))
    if report["unprotected"]:
        raise fail(f"positions without a stop on the exchange: {', '.join(report['unprotected'])}")
    if not report["ok"]:
        raise fail(f"{len(report['diffs'])} difference(s) between the shadow state and the exchange")
    console.print("[green]OK[/green] no orphaned positions: the shadow state matches the exchange")


# --- reconciliation -----------------------------------------------------------------


@reconcile_app.command("report")
def reconcile_report(
    date: Annotated[str, typer.Option(help="UTC day, YYYY-MM-DD (default: today)")] = "",
) -> None:
    """Every reconcile run of one day: verdicts, triggers, differences. Exit 1 if any run was BAD."""
    settings = _settings()
    day = date or utc_day(now_ms())
    try:
        with httpx.Client(timeout=15) as client:
            report = _get(client, settings.url_of("execution") + f"/api/state/reconciliation-report?date={day}")
    except httpx.HTTPStatusError as exc:
        raise fail(f"execution refused the report for {day!r}: HTTP {exc.response.status_code}") from None
    except httpx.HTTPError as exc:
        raise fail(f"execution did not answer: {type(exc).__name__}") from None
    by_status = report["by_status"]
    console.print(f"reconciliation report for {day}: {report['runs']} run(s)")
    console.print("  by verdict: " + (", ".join(f"{k} {v}" for k, v in sorted(by_status.items())) or "-"))
    console.print("  by trigger: " + (", ".join(f"{k} {v}" for k, v in sorted(report["by_trigger"].items())) or "-"))
    if report["diffs"]:
        console.print(diff_table(report["diffs"]))
    if by_status.get("BAD"):
        raise fail(f"{by_status['BAD']} reconcile run(s) on {day} were BAD (drift beyond tolerance)")
    if report["runs"] == 0:
        raise fail(f"no reconcile ran on {day}; is execution running?")
    console.print(f"[green]OK[/green] {report['runs']} run(s), none BAD")


# --- performance --------------------------------------------------------------------


@dataclass
class Sample:
    at: float
    cpu_seconds: float | None
    rss_bytes: float | None
    latency_ms: dict[str, float]  # histogram name -> p99 estimate


def histogram_quantile(buckets: list[tuple[float, float]], q: float) -> float | None:
    """Prometheus-style quantile from cumulative (upper bound, count) buckets."""
    buckets = sorted(buckets)
    if not buckets or buckets[-1][1] == 0:
        return None
    rank = q * buckets[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if bound == float("inf"):
                return lower_bound
            width = count - lower_count
            return lower_bound + (bound - lower_bound) * ((rank - lower_count) / width if width else 1.0)
        lower_bound, lower_count = bound, count
    return lower_bound


def parse_sample(text: str) -> Sample:
    cpu = rss = None
    latencies: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name == "process_cpu_seconds":
            cpu = sum(s.value for s in family.samples)
        elif family.name == "process_resident_memory_bytes":
            rss = sum(s.value for s in family.samples)
        elif family.type == "histogram" and "latency" in family.name:
            buckets: dict[float, float] = {}
            for s in family.samples:
                if s.name.endswith("_bucket"):
                    bound = float(s.labels["le"])
                    buckets[bound] = buckets.get(bound, 0.0) + s.value
            p99 = histogram_quantile(list(buckets.items()), 0.99)
            if p99 is not None:
                latencies[family.name] = p99
    return Sample(time.monotonic(), cpu, rss, latencies)


def _grade(value: float, thresholds: tuple[float, float]) -> str:
    return "critical" if value > thresholds[1] else "warning" if value > thresholds[0] else "ok"


@perf_app.command("monitor")
def perf_monitor(
    duration: Annotated[int, typer.Option(help="Seconds to watch")] = 300,
    interval: Annotated[float, typer.Option(help="Seconds between samples")] = 5.0,
) -> None:
    """Watch every service's CPU, memory and p99 latencies for --duration seconds, against the
    manual's thresholds. Exit 1 on a critical reading or a service that stops answering."""
    settings = _settings()
    first: dict[str, Sample] = {}
    last: dict[str, Sample] = {}
    unreachable: set[str] = set()
    deadline = time.monotonic() + max(duration, 0)
    with httpx.Client(timeout=5) as client:
        while True:
            for name in settings.trading_processes:
                try:
                    response = client.get(settings.url_of(name) + "/metrics")
                    response.raise_for_status()
                except httpx.HTTPError:
                    unreachable.add(name)
                    continue
                sample = parse_sample(response.text)
                first.setdefault(name, sample)
                last[name] = sample
            if time.monotonic() + interval > deadline:
                break
            time.sleep(interval)
    table = Table("service", "cpu %", "memory MB", "p99 latency ms", "grade")
    worst = "ok"
    for name in settings.trading_processes:
        if name not in last:
            table.add_row(name, "-", "-", "-", "[red]unreachable[/red]")
            continue
        a, b = first[name], last[name]
        grades = []
        cpu_text = "-"
        if a.cpu_seconds is not None and b.cpu_seconds is not None and b.at > a.at:
            cpu = 100.0 * (b.cpu_seconds - a.cpu_seconds) / (b.at - a.at)
            cpu_text = f"{cpu:.1f}"
            grades.append(_grade(cpu, CPU_PCT))
        memory_text = "-"
        if b.rss_bytes is not None:
            memory = b.rss_bytes / 1e6
            memory_text = f"{memory:.0f}"
            grades.append(_grade(memory, MEMORY_MB))
        latency_text = ", ".join(f"{k.removeprefix('titan_')}={v:.1f}" for k, v in b.latency_ms.items()) or "-"
        grades += [_grade(v, LATENCY_MS) for v in b.latency_ms.values()]
        grade = "critical" if "critical" in grades else "warning" if "warning" in grades else "ok"
        worst = grade if grade == "critical" or (grade == "warning" and worst == "ok") else worst
        colour = {"ok": "green", "warning": "yellow", "critical": "red"}[grade]
        table.add_row(name, cpu_text, memory_text, latency_text, f"[{colour}]{grade}[/{colour}]")
    console.print(table)
    if unreachable:
        raise fail(f"service(s) did not answer /metrics: {', '.join(sorted(unreachable))}")
    if worst == "critical":
        raise fail("a reading is beyond the manual's critical threshold (see the table)")
    console.print(f"[green]OK[/green] watched {len(last)} services for {duration}s; worst grade: {worst}")


@perf_app.command("summary")
def perf_summary(
    timeframe: Annotated[str, typer.Option(help="1h, 1d, 7d or 30d")] = "1d",
) -> None:
    """Trading results over the timeframe: trades, win rate, PnL, profit factor, Sharpe."""
    if timeframe not in TIMEFRAMES_MS:
        raise fail(f"unknown timeframe {timeframe!r}; choose from {', '.join(TIMEFRAMES_MS)}", 2)
    settings = _settings()
    since = now_ms() - TIMEFRAMES_MS[timeframe]
    try:
        with httpx.Client(timeout=15) as client:
            trades = _get(client, settings.url_of("execution") + f"/trades?limit=10000&since_ms={since}")["trades"]
            try:
                dashboard = _get(client, settings.url_of("brain") + "/dashboard")
            except (httpx.HTTPError, ValueError):
                dashboard = None
    except httpx.HTTPError as exc:
        raise fail(f"execution did not answer /trades: {type(exc).__name__}") from None
    summary = summarise_trades([Decimal(t["netPnl"]) for t in trades], [Decimal(t["fees"]) for t in trades])
    rows = [
        ("timeframe", timeframe),
        ("trades", str(summary.trades)),
        ("wins / losses", f"{summary.wins} / {summary.losses}"),
        ("win rate", "-" if summary.win_rate is None else f"{summary.win_rate * 100:.1f}%"),
        ("net PnL", f"{summary.net_pnl:.2f} USDT"),
        ("fees", f"{summary.fees:.2f} USDT"),
        ("profit factor", "-" if summary.profit_factor is None else f"{summary.profit_factor:.2f}"),
        ("Sharpe (per trade)", "-" if summary.sharpe_per_trade is None else f"{summary.sharpe_per_trade:.2f}"),
    ]
    if isinstance(dashboard, dict):
        rows.append(("equity (brain NAV)", str(dashboard.get("nav"))))
        rows.append(("phase", str(dashboard.get("phase"))))
    table = Table("figure", "value")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    if summary.win_rate is not None and summary.trades >= 10 and summary.win_rate < Decimal("0.40"):
        raise fail(f"win rate {summary.win_rate * 100:.1f}% is below the manual's 40% critical line")


# --- status messages ----------------------------------------------------------------


@status_app.command("send")
def status_send(
    type_: Annotated[str, typer.Option("--type", help="premarket, midday, eod or adhoc")] = "adhoc",
) -> None:
    """Compose a status message (health, mode, positions, equity) and deliver it: to
    TITAN_STATUS_WEBHOOK_URL when set, always to var/status/ as JSON."""
    if type_ not in ("premarket", "midday", "eod", "adhoc"):
        raise fail(f"unknown --type {type_!r}; choose premarket, midday, eod or adhoc", 2)
    settings = _settings()
    message: dict[str, Any] = {"type": type_, "ts_ms": now_ms(), "services": {}}
    with httpx.Client(timeout=5) as client:
        for name in settings.trading_processes:
            try:
                body = _get(client, settings.url_of(name) + "/health")
                message["services"][name] = {"status": body.get("status"), "mode": body.get("mode")}
            except (httpx.HTTPError, ValueError):
                message["services"][name] = {"status": "unhealthy", "mode": None}
        try:
            positions = _get(client, settings.url_of("execution") + "/positions")
            message["positions"] = positions.get("count")
        except (httpx.HTTPError, ValueError):
            message["positions"] = None
        try:
            message["equity"] = _get(client, settings.url_of("execution") + "/wallet").get("equity")
        except (httpx.HTTPError, ValueError):
            message["equity"] = None
    out_dir = Path(settings.var_dir) / "status"
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(tz=UTC).strftime("%Y%m%dT%H%M%SZ")
    path = out_dir / f"{type_}-{stamp}.json"
    path.write_text(json.dumps(message, indent=2))
    down = [n for n, s in message["services"].items() if s["status"] not in ("ok", "healthy")]
    summary = (
        f"Titan {type_} status: "
        + ("all services healthy" if not down else f"NOT healthy: {', '.join(down)}")
        + f"; positions {message['positions']}; equity {message['equity']}"
    )
    console.print(summary)
    console.print(f"written to {path}")
    webhook = os.environ.get("TITAN_STATUS_WEBHOOK_URL", "")
    if webhook:
        try:
            httpx.post(webhook, json={"text": summary, "status": message}, timeout=10).raise_for_status()
            console.print("delivered to the status webhook")
        except httpx.HTTPError as exc:
            raise fail(f"status webhook refused the message: {type(exc).__name__}") from None
    else:
        console.print("no TITAN_STATUS_WEBHOOK_URL configured: the file above is the status")
    if down:
        raise fail(f"service(s) not healthy: {', '.join(down)}")


# --- API keys -----------------------------------------------------------------------


def _masked(value: str) -> str:
    return "(not set)" if not value else f"****{value[-4:]}" if len(value) > 8 else "****"


@keys_app.command("rotate")
def keys_rotate(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only check and explain; change nothing")] = False,
) -> None:
    """Check the exchange key in use and walk through rotating it. Keys are never printed."""
    settings = _settings()
    key = os.environ.get("TITAN_BYBIT_API_KEY", "")
    sim_credentials = Path(settings.var_dir) / "sim-credentials.json"
    source = "environment (TITAN_BYBIT_API_KEY)" if key else (
        f"simulator credentials ({sim_credentials})" if sim_credentials.exists() else "none found"
    )  # fmt: skip
    console.print(f"key in use: {_masked(key)} from {source}; mode {settings.system_mode.value}")
    try:
        with httpx.Client(timeout=5) as client:
            health = _get(client, settings.url_of("execution") + "/health")
        connected = bool(health.get("checks", {}).get("exchange", {}).get("connected"))
    except (httpx.HTTPError, ValueError):
        connected = False
    console.print(f"execution's exchange connection: {'connected' if connected else 'NOT connected'}")
    steps = [
        "create the new key pair on the exchange (trade permission, IP allow-list, no withdrawal)",
        "test it against testnet/demo: TITAN_BYBIT_ENDPOINT=... titan doctor",
        "set TITAN_BYBIT_API_KEY / TITAN_BYBIT_API_SECRET in the deployment's env file",
        "restart execution (pm2 restart titan-execution, or systemctl restart titan-execution)",
        "check: ./scripts/health-check.sh and ./scripts/verify-positions.sh",
        "revoke the old key on the exchange",
    ]
    for number, step in enumerate(steps, 1):
        console.print(f"  {number}. {step}")
    if dry_run:
        if not connected:
            raise fail("execution is not connected to the exchange with the current key")
        console.print("[green]OK[/green] dry run: the current key works; nothing was changed")
        return
    raise fail("keys are rotated in the deployment's env file, never by this tool; follow the steps above", 2)
