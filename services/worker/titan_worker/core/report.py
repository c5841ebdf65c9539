"""The daily report's figures from one UTC day of records. Pure Decimal maths.

Definitions (docs/decisions-deploy.md explains the choices):
- daily P&L: last equity of the day minus the day's start equity (the brain's
  `day_start_equity`, i.e. equity at 00:00 UTC), in $ and as % of the start;
- max drawdown: the largest fall from a running peak over the day's equity curve,
  starting from the start equity;
- uptime: the share of the day's minutes (up to `now` for today) with an equity snapshot;
  the brain writes one every 60 s while the stack runs and can see the account;
- trades executed: round trips closed that day; win rate and Sharpe (per trade, not
  annualised) on their net P&L, with titan_common.performance's definitions;
- signal success rate: approvals over decisions the brain made that day.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from titan_common.performance import max_drawdown, summarise_trades

MINUTE_MS = 60_000
DAY_MS = 86_400_000
CENT = Decimal("0.01")
MAX_CHART_POINTS = 288  # one per 5 minutes over a day


@dataclass(frozen=True)
class EquityPoint:
    ts_ms: int
    equity: Decimal
    day_start_equity: Decimal


@dataclass(frozen=True)
class ClosedTrade:
    closed_ms: int
    symbol: str
    net_pnl: Decimal  # after fees
    fees: Decimal


@dataclass(frozen=True)
class DayRecords:
    day: str  # YYYY-MM-DD (UTC)
    start_ms: int  # 00:00 UTC of the day
    now_ms: int  # when the report is made (bounds uptime for a day still running)
    equity: Sequence[EquityPoint]
    trades: Sequence[ClosedTrade]
    signals_received: int
    decisions_by_verdict: Mapping[str, int]
    veto_reasons: Mapping[str, int]
    audit_by_severity: Mapping[str, int]
    breaker_trips: int


@dataclass(frozen=True)
class DailyReport:
    day: str
    generated_ms: int
    figures: dict[str, Any] = field(default_factory=dict)
    equity_curve: list[tuple[int, str]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "day": self.day,
            "generated_ms": self.generated_ms,
            **self.figures,
            "equity_curve": [{"ts_ms": ts, "equity": eq} for ts, eq in self.equity_curve],
        }


def day_start_ms(day: str) -> int:
    """00:00 UTC of a YYYY-MM-DD day, in ms. Raises ValueError for anything else."""
    return int(datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC).timestamp() * 1000)


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value.quantize(CENT, rounding=ROUND_HALF_UP))


def _two(value: Decimal | None) -> str | None:
    return None if value is None else str(value.quantize(CENT, rounding=ROUND_HALF_UP))


def _pct(fraction: Decimal | None) -> str | None:
    return None if fraction is None else str((fraction * 100).quantize(CENT, rounding=ROUND_HALF_UP))


def uptime_fraction(stamps: Sequence[int], start_ms: int, end_ms: int) -> Decimal | None:
    """Minutes in [start, end) holding at least one snapshot, over the minutes in the span."""
    minutes = (end_ms - start_ms) // MINUTE_MS
    if minutes <= 0:
        return None
    seen = {(ts - start_ms) // MINUTE_MS for ts in stamps if start_ms <= ts < end_ms}
    return min(Decimal(1), Decimal(len(seen)) / minutes)


def downsample(points: Sequence[EquityPoint], limit: int = MAX_CHART_POINTS) -> list[EquityPoint]:
    """At most `limit` points, evenly spaced, always keeping the last."""
    if len(points) <= limit:
        return list(points)
    step = len(points) / (limit - 1)
    chosen = [points[int(i * step)] for i in range(limit - 1)]
    return [*chosen, points[-1]]


def build_daily_report(records: DayRecords, generated_ms: int) -> DailyReport:
    equity = sorted(records.equity, key=lambda p: p.ts_ms)
    start_equity: Decimal | None = None
    end_equity: Decimal | None = None
    pnl: Decimal | None = None
    pnl_fraction: Decimal | None = None
    drawdown: Decimal | None = None
    if equity:
        first = equity[0]
        start_equity = first.day_start_equity if first.day_start_equity > 0 else first.equity
        end_equity = equity[-1].equity
        pnl = end_equity - start_equity
        pnl_fraction = pnl / start_equity if start_equity > 0 else None
        drawdown = max_drawdown([start_equity, *(p.equity for p in equity)])

    trades = sorted(records.trades, key=lambda t: t.closed_ms)
    summary = summarise_trades([t.net_pnl for t in trades], [t.fees for t in trades])

    end_ms = min(records.start_ms + DAY_MS, records.now_ms)
    uptime = uptime_fraction([p.ts_ms for p in equity], records.start_ms, end_ms)

    approved = int(records.decisions_by_verdict.get("APPROVE", 0))
    decided = sum(int(v) for v in records.decisions_by_verdict.values())
    success = Decimal(approved) / decided if decided else None

    figures: dict[str, Any] = {
        "start_equity": _money(start_equity),
        "end_equity": _money(end_equity),
        "daily_pnl_usd": _money(pnl),
        "daily_pnl_pct": _pct(pnl_fraction),
        "max_drawdown_pct": _pct(drawdown),
        "uptime_pct": _pct(uptime),
        "trades_executed": summary.trades,
        "wins": summary.wins,
        "losses": summary.losses,
        "realised_pnl_usd": _money(summary.net_pnl),
        "fees_usd": _money(summary.fees),
        "win_rate_pct": _pct(summary.win_rate),
        "sharpe": _two(summary.sharpe_per_trade),
        "profit_factor": _two(summary.profit_factor),
        "best_trade_usd": _money(summary.best),
        "worst_trade_usd": _money(summary.worst),
        "signals_received": records.signals_received,
        "signals_approved": approved,
        "signals_decided": decided,
        "signal_success_rate_pct": _pct(success),
        "veto_reasons": dict(sorted(records.veto_reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
        "audit_events": dict(sorted(records.audit_by_severity.items())),
        "breaker_trips": records.breaker_trips,
        "symbols_traded": sorted({t.symbol for t in trades}),
    }
    curve = [(p.ts_ms, _money(p.equity) or "") for p in downsample(equity)]
    return DailyReport(day=records.day, generated_ms=generated_ms, figures=figures, equity_curve=curve)
