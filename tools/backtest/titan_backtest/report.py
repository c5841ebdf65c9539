"""A run's figures as JSON (the whole result: `titan backtest` prints it) and as an HTML page
(the equity curve, the drawdown and the trades)."""

from __future__ import annotations

import html
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from titan_backtest.engine import BacktestOptions, BacktestRun, ClosedTrade, sharpe_of

ZERO = Decimal(0)
CENT = Decimal("0.01")


def _money(value: Decimal) -> str:
    return str(value.quantize(CENT))


def trade_figures(trades: Iterable[ClosedTrade]) -> dict[str, Any]:
    trades = list(trades)
    wins = [t.pnl for t in trades if t.pnl > 0]
    losses = [t.pnl for t in trades if t.pnl <= 0]
    gross_loss = -sum(losses, ZERO)
    return {
        "trades": len(trades),
        "net_pnl": _money(sum((t.pnl for t in trades), ZERO)),
        "win_rate": round(len(wins) / len(trades), 4) if trades else None,
        "profit_factor": round(float(sum(wins, ZERO) / gross_loss), 4) if gross_loss > 0 else None,
    }


def max_drawdown_pct(curve: list[tuple[int, Decimal]], start: Decimal) -> float:
    peak, worst = start, ZERO
    for _, equity in curve:
        peak = max(peak, equity)
        if peak > 0:
            worst = max(worst, (peak - equity) / peak)
    return round(float(worst * 100), 4)


def summarise(run: BacktestRun, options: BacktestOptions, *, data: str, config_tag: str) -> dict[str, Any]:
    """The run's result: the headline figures, then per trap type and per symbol, then how
    the signals were decided."""
    start = options.starting_equity
    figures = trade_figures(run.trades)
    net = sum((t.pnl for t in run.trades), ZERO)
    outcomes: dict[str, int] = {}
    for d in run.decisions:
        key = d.verdict.value if d.verdict.value == "APPROVE" else (d.reasons[0] if d.reasons else "VETO")
        outcomes[key] = outcomes.get(key, 0) + 1
    by_trap = {
        kind: trade_figures(t for t in run.trades if t.trap_type == kind)
        for kind in sorted({t.trap_type for t in run.trades})
    }
    by_symbol = {
        s: trade_figures(t for t in run.trades if t.symbol == s) for s in sorted({t.symbol for t in run.trades})
    }
    return {
        "data": data,
        "config": config_tag,
        "venue": options.venue,
        "from_ms": run.first_ms,
        "to_ms": run.last_ms,
        "symbols": list(run.symbols),
        "starting_equity": _money(start),
        "ending_equity": _money(start + net),
        "trades": figures["trades"],
        "net_pnl": figures["net_pnl"],
        "return_pct": round(float(net / start * 100), 4) if start else None,
        "max_drawdown_pct": max_drawdown_pct(run.equity_curve, start),
        "sharpe": sharpe_of(run.equity_curve),
        "win_rate": figures["win_rate"],
        "profit_factor": figures["profit_factor"],
        "by_trap_type": by_trap,
        "by_symbol": by_symbol,
        "signals": len(run.decisions) + run.dropped_signals,
        "signals_without_geometry": run.dropped_signals,
        "decisions": dict(sorted(outcomes.items(), key=lambda kv: (-kv[1], kv[0]))),
        "trade_list": [t.as_dict() for t in run.trades],
    }


def _polyline(points: list[tuple[float, float]], width: int, height: int) -> str:
    if len(points) < 2:
        return ""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    span_x, span_y = (x1 - x0) or 1.0, (y1 - y0) or 1.0
    coords = " ".join(f"{(x - x0) / span_x * width:.1f},{height - (y - y0) / span_y * height:.1f}" for x, y in points)
    return f'<polyline fill="none" stroke="currentColor" stroke-width="1.5" points="{coords}"/>'


def _chart(label: str, points: list[tuple[float, float]], height: int) -> str:
    line = _polyline(points, 800, height)
    return f'<svg width="800" height="{height}" role="img" aria-label="{label}">{line}</svg>'


def html_report(result: dict[str, Any], run: BacktestRun, options: BacktestOptions) -> str:
    """One self-contained page: the figures, the equity curve, the drawdown, the trades."""
    curve = run.equity_curve[:: max(1, len(run.equity_curve) // 600)]  # at most ~600 points drawn
    peak = options.starting_equity
    equity_points, drawdown_points = [], []
    for ts, equity in curve:
        peak = max(peak, equity)
        equity_points.append((float(ts), float(equity)))
        drawdown_points.append((float(ts), -float((peak - equity) / peak * 100) if peak else 0.0))
    headline = [
        ("trades", result["trades"]), ("net P&L", result["net_pnl"]), ("return %", result["return_pct"]),
        ("max drawdown %", result["max_drawdown_pct"]), ("Sharpe", result["sharpe"]),
        ("win rate", result["win_rate"]), ("profit factor", result["profit_factor"]),
    ]  # fmt: skip
    cells = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in headline)
    columns = ("symbol", "side", "trap_type", "qty", "entry_price", "exit_price", "exit_reason", "pnl")
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(t[c]))}</td>" for c in columns) + "</tr>" for t in result["trade_list"]
    )
    head = "".join(f"<th>{c}</th>" for c in columns)
    title = f"Titan backtest: {html.escape(result['data'])}, config {html.escape(result['config'])}"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2rem;color:#222}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.25rem .5rem;text-align:right}}svg{{color:#2563eb;background:#f8fafc}}
.dd svg{{color:#dc2626}}</style></head><body>
<h1>{title}</h1>
<table>{cells}</table>
<h2>Equity</h2>{_chart("equity curve", equity_points, 200)}
<h2>Drawdown %</h2><div class="dd">{_chart("drawdown", drawdown_points, 120)}</div>
<h2>Trades</h2><table><tr>{head}</tr>{rows}</table>
</body></html>
"""
