"""`titan review performance|health|weekly-report`: the runbook's weekly and monthly
reviews and trend analyses, from what Titan records: closed trades (execution), the equity
curve (the console), mode changes and alerts (the audit trail in Postgres).

Each prints a readable result, can write an HTML page with its charts, and exits 1 with
one FAIL line when a source cannot be read."""

from __future__ import annotations

import asyncio
import html
import json
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console

from titan_common.clock import now_ms, utc_day
from titan_common.performance import summarise_trades
from titan_common.settings import CommonSettings, load_settings
from titan_ops.cli.ops import embedded_database_url

console = Console(soft_wrap=True)  # one line per result, whatever the width
review_app = typer.Typer(help="Weekly and monthly reviews and trends.", no_args_is_help=True)
PERIODS = {"1d": 1, "7d": 7, "14d": 14, "30d": 30, "90d": 90}


def _period_days(period: str) -> int:
    if period not in PERIODS:
        console.print(f"FAIL --period takes one of {', '.join(PERIODS)}, not {period!r}", markup=False)
        raise typer.Exit(2)
    return PERIODS[period]


def _fail(message: str) -> typer.Exit:
    console.print(f"FAIL {message}", markup=False)
    return typer.Exit(1)


def performance_figures(settings: CommonSettings, days: int) -> dict[str, Any]:
    """Closed trades and the equity curve over the period, summarised (raises typer.Exit)."""
    since = now_ms() - days * 86_400_000
    try:
        with httpx.Client(timeout=20) as client:
            trades = (
                client.get(settings.url_of("execution") + f"/trades?limit=10000&since_ms={since}")
                .raise_for_status()
                .json()["trades"]
            )
            points = (
                client.get(settings.url_of("console") + f"/api/console/equity?hours={days * 24}")
                .raise_for_status()
                .json()["points"]
            )
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        raise _fail(f"trades or equity unreadable (execution and the console must answer): {exc}") from None
    pnls = [Decimal(str(t["netPnl"])) for t in trades]
    summary = summarise_trades(pnls, [Decimal(str(t.get("fees") or 0)) for t in trades])
    by_day: dict[str, Decimal] = {}
    for t, pnl in zip(trades, pnls, strict=True):
        day = utc_day(int(t["closedAt"]))
        by_day[day] = by_day.get(day, Decimal(0)) + pnl
    equity = [(int(p["ts_ms"]), float(p["equity"])) for p in points if p.get("equity") is not None]
    peak, worst = 0.0, 0.0
    for _, value in equity:
        peak = max(peak, value)
        if peak > 0:
            worst = max(worst, (peak - value) / peak)
    half = len(pnls) // 2
    first, second = summarise_trades(pnls[:half]), summarise_trades(pnls[half:])
    return {
        "days": days,
        "trades": summary.trades,
        "win_rate_pct": None if summary.win_rate is None else round(float(summary.win_rate) * 100, 1),
        "net_pnl": f"{summary.net_pnl:.2f}",
        "fees": f"{summary.fees:.2f}",
        "profit_factor": None if summary.profit_factor is None else round(float(summary.profit_factor), 2),
        "sharpe_per_trade": None if summary.sharpe_per_trade is None else round(summary.sharpe_per_trade, 2),
        "max_drawdown_pct": round(worst * 100, 2),
        "equity_first_last": [equity[0][1], equity[-1][1]] if equity else None,
        "pnl_by_day": {d: f"{v:.2f}" for d, v in sorted(by_day.items())},
        "trend": {
            "first_half_net_pnl": f"{first.net_pnl:.2f}",
            "second_half_net_pnl": f"{second.net_pnl:.2f}",
            "first_half_win_rate_pct": None if first.win_rate is None else round(float(first.win_rate) * 100, 1),
            "second_half_win_rate_pct": None if second.win_rate is None else round(float(second.win_rate) * 100, 1),
        },
        "equity_points": equity,
    }


async def _audit(database_url: str, since: int) -> list[tuple[int, str, str, dict[str, Any]]]:
    import asyncpg  # type: ignore[import-untyped]

    from titan_common.settings import normalise_database_url, plain_database_url

    conn = await asyncpg.connect(plain_database_url(normalise_database_url(database_url)), timeout=5)
    try:
        rows = await conn.fetch(
            "SELECT ts_ms, service, event_type, payload FROM audit_events "
            "WHERE ts_ms >= $1 AND event_type IN ('MODE_CHANGE', 'ALERT') ORDER BY ts_ms",
            since,
        )
    finally:
        await conn.close()
    return [(int(r["ts_ms"]), str(r["service"]), str(r["event_type"]), json.loads(r["payload"] or "{}")) for r in rows]


def health_figures(settings: CommonSettings, days: int) -> dict[str, Any]:
    """Mode changes (out of NORMAL and back) and alerts over the period, by service."""
    database_url = settings.database_url or embedded_database_url(settings.var_dir)
    if not database_url:
        raise _fail("no database: set DATABASE_URL (the audit trail is in Postgres)")
    since = now_ms() - days * 86_400_000
    try:
        events = asyncio.run(_audit(database_url, since))
    except Exception as exc:  # the database is the source: any failure to read it is the FAIL
        raise _fail(f"the audit trail is unreadable: {type(exc).__name__}: {exc}") from None
    degradations: Counter[str] = Counter()
    alerts: Counter[str] = Counter()
    per_day: Counter[str] = Counter()
    for ts, service, kind, payload in events:
        if kind == "MODE_CHANGE" and str(payload.get("mode") or payload.get("to") or "") != "NORMAL":
            degradations[service] += 1
            per_day[utc_day(ts)] += 1
        elif kind == "ALERT":
            alerts[str(payload.get("alert_type") or payload.get("type") or "ALERT")] += 1
    return {
        "days": days,
        "events": len(events),
        "degradations_by_service": dict(sorted(degradations.items())),
        "degradations_by_day": dict(sorted(per_day.items())),
        "alerts_by_type": dict(alerts.most_common()),
    }


def _bars(values: dict[str, float], label: str) -> str:
    if not values:
        return f"<p>no {html.escape(label)}</p>"
    top = max(abs(v) for v in values.values()) or 1.0
    rows = "".join(
        f'<rect x="{i * 24 + 4}" y="{60 - max(v, 0) / top * 56:.1f}" width="18" height="{abs(v) / top * 56:.1f}" '
        f'fill="{"#16a34a" if v >= 0 else "#dc2626"}"><title>{html.escape(d)}: {v}</title></rect>'
        for i, (d, v) in enumerate(values.items())
    )
    return f'<svg width="{len(values) * 24 + 8}" height="120" role="img" aria-label="{html.escape(label)}">{rows}</svg>'


def _line(points: list[tuple[int, float]], label: str) -> str:
    if len(points) < 2:
        return f"<p>no {html.escape(label)} yet</p>"
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    span_x, span_y = (max(xs) - min(xs)) or 1, (max(ys) - min(ys)) or 1.0
    coords = " ".join(
        f"{(x - min(xs)) / span_x * 780 + 10:.1f},{190 - (y - min(ys)) / span_y * 180:.1f}" for x, y in points
    )
    return (f'<svg width="800" height="200" role="img" aria-label="{html.escape(label)}">'
            f'<polyline fill="none" stroke="#2563eb" stroke-width="2" points="{coords}"/></svg>')  # fmt: skip


def page(title: str, performance: dict[str, Any] | None, health: dict[str, Any] | None) -> str:
    parts = [f"<h1>{html.escape(title)}</h1>"]
    if performance is not None:
        shown = {k: v for k, v in performance.items() if k not in ("equity_points", "pnl_by_day", "trend")}
        rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in shown.items())
        parts += ["<h2>Performance</h2>", f"<table>{rows}</table>", "<h3>Equity</h3>",
                  _line(performance["equity_points"], "equity curve"), "<h3>Net P&amp;L by day</h3>",
                  _bars({d: float(v) for d, v in performance["pnl_by_day"].items()}, "daily P&L")]  # fmt: skip
    if health is not None:
        parts += ["<h2>Health</h2>", "<h3>Degradations by day</h3>",
                  _bars({d: float(v) for d, v in health["degradations_by_day"].items()}, "degradations"),
                  f"<p>by service: {html.escape(str(health['degradations_by_service']))}</p>",
                  f"<p>alerts: {html.escape(str(health['alerts_by_type']))}</p>"]  # fmt: skip
    style = "body{font-family:system-ui,sans-serif;margin:2rem}td,th{border:1px solid #ccc;padding:.2rem .5rem}"
    return f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{html.escape(title)}</title>" \
           f"<style>{style}</style></head><body>{''.join(parts)}</body></html>\n"  # fmt: skip


def _print(figures: dict[str, Any], skip: tuple[str, ...] = ("equity_points",)) -> None:
    for key, value in figures.items():
        if key not in skip:
            console.print(f"{key:<22} {value}", markup=False, soft_wrap=True)


@review_app.command("performance")
def review_performance(
    period: Annotated[str, typer.Option(help="1d, 7d, 14d, 30d or 90d")] = "7d",
    trend: Annotated[bool, typer.Option("--trend", help="compare the period's halves")] = False,
    html_out: Annotated[Path | None, typer.Option("--html", help="also write the page here")] = None,
) -> None:
    """Trades, win rate, P&L, profit factor, Sharpe and drawdown over the period (weekly,
    monthly review); with --trend, the first half against the second."""
    settings = load_settings(CommonSettings)
    figures = performance_figures(settings, _period_days(period))
    _print(figures, ("equity_points",) if trend else ("equity_points", "trend"))
    if trend:
        t = figures["trend"]
        direction = (
            "improving" if Decimal(t["second_half_net_pnl"]) > Decimal(t["first_half_net_pnl"]) else "not improving"
        )
        console.print(f"trend                  {direction} (net P&L {t['first_half_net_pnl']} -> "
                      f"{t['second_half_net_pnl']})", markup=False)  # fmt: skip
    if html_out is not None:
        html_out.parent.mkdir(parents=True, exist_ok=True)
        html_out.write_text(page(f"Titan performance, last {period}", figures, None), encoding="utf-8")
        console.print(f"page written to {html_out}", markup=False)
    console.print("OK", markup=False)


@review_app.command("health")
def review_health(period: Annotated[str, typer.Option(help="1d, 7d, 14d, 30d or 90d")] = "7d") -> None:
    """Mode changes out of NORMAL and alerts over the period, by service and by day."""
    settings = load_settings(CommonSettings)
    _print(health_figures(settings, _period_days(period)))
    console.print("OK", markup=False)


@review_app.command("weekly-report")
def review_weekly_report(out: Annotated[Path | None, typer.Option(help="the HTML page")] = None) -> None:
    """The week's performance and health in one page, under <var>/reports/."""
    settings = load_settings(CommonSettings)
    performance = performance_figures(settings, 7)
    health = health_figures(settings, 7)
    target = out or settings.var_dir / "reports" / f"weekly-{utc_day(now_ms())}.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(page(f"Titan weekly report, week to {utc_day(now_ms())}", performance, health), encoding="utf-8")
    _print({k: v for k, v in performance.items() if k not in ("pnl_by_day", "trend")})
    _print(health)
    console.print(f"report written to {target}", markup=False)
    console.print("OK", markup=False)
