"""The daily report as one self-contained HTML page with an inline SVG equity chart. Pure."""

from __future__ import annotations

from decimal import Decimal
from html import escape
from typing import Any

from titan_worker.core.report import DailyReport

CHART_W, CHART_H, PAD = 720, 220, 32

ROWS = (
    ("Daily P&L", "daily_pnl_usd", "$"),
    ("Daily P&L %", "daily_pnl_pct", "%"),
    ("Max drawdown", "max_drawdown_pct", "%"),
    ("System uptime", "uptime_pct", "%"),
    ("Trades executed", "trades_executed", ""),
    ("Win rate", "win_rate_pct", "%"),
    ("Sharpe (per trade)", "sharpe", ""),
    ("Signal success rate", "signal_success_rate_pct", "%"),
    ("Realised P&L (net of fees)", "realised_pnl_usd", "$"),
    ("Fees", "fees_usd", "$"),
    ("Start equity", "start_equity", "$"),
    ("End equity", "end_equity", "$"),
    ("Breaker trips", "breaker_trips", ""),
)


def _cell(value: Any, unit: str) -> str:
    if value is None:
        return "-"
    text = escape(str(value))
    return f"${text}" if unit == "$" else f"{text}%" if unit == "%" else text


def equity_svg(curve: list[tuple[int, str]]) -> str:
    """A polyline of equity over the day, scaled to the chart; a note when there is no data."""
    if len(curve) < 2:
        return f'<svg width="{CHART_W}" height="{CHART_H}" role="img"><text x="{PAD}" y="{CHART_H // 2}">no equity snapshots this day</text></svg>'  # noqa: E501
    xs = [ts for ts, _ in curve]
    ys = [Decimal(eq) for _, eq in curve]
    x0, x1 = xs[0], xs[-1]
    lo, hi = min(ys), max(ys)
    span_y = hi - lo or Decimal(1)
    span_x = (x1 - x0) or 1
    inner_w, inner_h = CHART_W - 2 * PAD, CHART_H - 2 * PAD
    points = " ".join(
        f"{PAD + inner_w * (x - x0) / span_x:.1f},{PAD + float((hi - y) / span_y) * inner_h:.1f}"
        for x, y in zip(xs, ys, strict=True)
    )
    return (
        f'<svg width="{CHART_W}" height="{CHART_H}" viewBox="0 0 {CHART_W} {CHART_H}" role="img" '
        f'aria-label="equity over the day">'
        f'<rect x="0" y="0" width="{CHART_W}" height="{CHART_H}" fill="#fbfbfb" stroke="#ddd"/>'
        f'<polyline fill="none" stroke="#1f6feb" stroke-width="2" points="{points}"/>'
        f'<text x="4" y="{PAD - 8}" font-size="12">${escape(str(hi))}</text>'
        f'<text x="4" y="{CHART_H - 8}" font-size="12">${escape(str(lo))}</text>'
        "</svg>"
    )


def render_html(report: DailyReport) -> str:
    figures = report.figures
    rows = "\n".join(
        f"<tr><th>{escape(label)}</th><td>{_cell(figures.get(key), unit)}</td></tr>" for label, key, unit in ROWS
    )
    vetoes = "".join(
        f"<li>{escape(reason)}: {count}</li>" for reason, count in dict(figures.get("veto_reasons", {})).items()
    )
    audit = "".join(f"<li>{escape(sev)}: {count}</li>" for sev, count in dict(figures.get("audit_events", {})).items())
    day = escape(report.day)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Titan daily report {day}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2rem;color:#222}}table{{border-collapse:collapse}}
th,td{{padding:.3rem .8rem;border-bottom:1px solid #eee;text-align:left}}td{{font-variant-numeric:tabular-nums}}</style>
</head><body>
<h1>Titan daily report: {day} (UTC)</h1>
<h2>Equity</h2>
{equity_svg(report.equity_curve)}
<h2>Figures</h2>
<table>
{rows}
</table>
<h2>Vetoes by reason</h2><ul>{vetoes or "<li>none</li>"}</ul>
<h2>Audit events by severity</h2><ul>{audit or "<li>none</li>"}</ul>
</body></html>
"""
