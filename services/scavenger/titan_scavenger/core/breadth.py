"""The breadth scanner's pure parts (CM-09): the cycle's slot and id, when a cycle must abort,
and the breadth statistics and data integrity of one scan. Log-only: nothing here trades.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from titan_common.reasons import ReasonCode
from titan_scavenger.core.market import Bar

KIND = "BREADTH"


def slot_start(now_ms: int, slot_ms: int) -> int:
    return now_ms // slot_ms * slot_ms


def cycle_prefix(exchange: str) -> str:
    return f"breadth:{exchange}:"


def cycle_id_for(exchange: str, slot_ms: int) -> str:
    """The cycle id is the time slot (per venue): `breadth:bybit:2026-11-23T10:15Z`."""
    stamp = datetime.fromtimestamp(slot_ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%MZ")
    return f"{cycle_prefix(exchange)}{stamp}"[:64]


def clock_offset_ms(local_sent_ms: int, server_ms: int, local_received_ms: int) -> int:
    """The exchange clock minus ours, taking the request's midpoint as the moment it answered."""
    return server_ms - (local_sent_ms + local_received_ms) // 2


def abort_reason(
    offset_ms: int | None, round_trip_ms: float, *, timestamp_tolerance_ms: int, api_lag_ms: int
) -> ReasonCode | None:
    """TIMESTAMP_MISMATCH when the exchange clock is off ours by more than the tolerance (or
    unknown); API_LAG when a call took longer than api_lag_ms."""
    if round_trip_ms > api_lag_ms:
        return ReasonCode.API_LAG
    if offset_ms is None or abs(offset_ms) > timestamp_tolerance_ms:
        return ReasonCode.TIMESTAMP_MISMATCH
    return None


def closed_bars(bars: Sequence[Bar], slot_ms: int, bar_ms: int) -> list[Bar]:
    """The bars that had closed when the slot began (oldest first)."""
    return [b for b in bars if b.start_ms + bar_ms <= slot_ms]


@dataclass(frozen=True)
class SymbolScan:
    symbol: str
    last: Bar | None  # the bar that closed at the slot boundary
    change_pct: float | None  # its close against the previous close
    above_sma: bool | None
    new_high: bool | None
    new_low: bool | None
    missing_bars: int
    aligned: bool  # the last closed bar is the one that ends at the slot


def scan_symbol(symbol: str, bars: Sequence[Bar], slot_ms: int, bar_ms: int, lookback: int) -> SymbolScan:
    closed = closed_bars(bars, slot_ms, bar_ms)
    expected_starts = {slot_ms - bar_ms * i for i in range(1, lookback + 2)}
    present = {b.start_ms for b in closed}
    missing = len(expected_starts - present)
    if len(closed) < 2:
        return SymbolScan(symbol, closed[-1] if closed else None, None, None, None, None, missing, False)
    last, previous = closed[-1], closed[-2]
    history = closed[-lookback - 1 : -1]
    sma = sum(b.close for b in closed[-lookback:]) / len(closed[-lookback:])
    return SymbolScan(
        symbol=symbol,
        last=last,
        change_pct=(last.close - previous.close) / previous.close * 100 if previous.close else None,
        above_sma=last.close > sma,
        new_high=last.close > max(b.close for b in history),
        new_low=last.close < min(b.close for b in history),
        missing_bars=missing,
        aligned=last.start_ms == slot_ms - bar_ms,
    )


@dataclass(frozen=True)
class BreadthReport:
    symbols: int
    advancers: int
    decliners: int
    unchanged: int
    pct_above_sma: float | None
    new_highs: int
    new_lows: int
    avg_change_pct: float | None
    median_change_pct: float | None
    regime: str  # RISK_ON | RISK_OFF | NEUTRAL | NO_DATA
    integrity: dict[str, Any] = field(default_factory=dict)


def breadth(scans: Sequence[SymbolScan], *, lookback: int) -> BreadthReport:
    changes = [s.change_pct for s in scans if s.change_pct is not None]
    above = [s.above_sma for s in scans if s.above_sma is not None]
    advancers = sum(1 for c in changes if c > 0)
    decliners = sum(1 for c in changes if c < 0)
    pct_above = round(100 * sum(above) / len(above), 2) if above else None
    if not changes or pct_above is None:
        regime = "NO_DATA"
    elif advancers >= 0.6 * len(changes) and pct_above >= 60:
        regime = "RISK_ON"
    elif decliners >= 0.6 * len(changes) and pct_above <= 40:
        regime = "RISK_OFF"
    else:
        regime = "NEUTRAL"
    gaps = {s.symbol: s.missing_bars for s in scans if s.missing_bars}
    return BreadthReport(
        symbols=len(scans),
        advancers=advancers,
        decliners=decliners,
        unchanged=len(changes) - advancers - decliners,
        pct_above_sma=pct_above,
        new_highs=sum(1 for s in scans if s.new_high),
        new_lows=sum(1 for s in scans if s.new_low),
        avg_change_pct=round(statistics.fmean(changes), 4) if changes else None,
        median_change_pct=round(statistics.median(changes), 4) if changes else None,
        regime=regime,
        integrity={
            "bars_expected_per_symbol": lookback + 1,
            "symbols_with_gaps": sorted(gaps),
            "missing_bars": sum(gaps.values()),
            "symbols_without_data": sorted(s.symbol for s in scans if s.last is None),
            "misaligned_symbols": sorted(s.symbol for s in scans if s.last is not None and not s.aligned),
        },
    )


def report_dict(report: BreadthReport) -> dict[str, Any]:
    return {
        "symbols": report.symbols,
        "advancers": report.advancers,
        "decliners": report.decliners,
        "unchanged": report.unchanged,
        "pct_above_sma": report.pct_above_sma,
        "new_highs": report.new_highs,
        "new_lows": report.new_lows,
        "avg_change_pct": report.avg_change_pct,
        "median_change_pct": report.median_change_pct,
        "regime": report.regime,
    }


def latency_summary(latencies_ms: Sequence[float]) -> dict[str, float | int | None]:
    if not latencies_ms:
        return {"calls": 0, "avg_ms": None, "p95_ms": None, "max_ms": None}
    ordered = sorted(latencies_ms)
    return {
        "calls": len(ordered),
        "avg_ms": round(statistics.fmean(ordered), 3),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 3),
        "max_ms": round(ordered[-1], 3),
    }


def payload(
    *,
    integrity: Mapping[str, Any],
    timing: Mapping[str, Any],
    health: Mapping[str, Any],
    verdict: Mapping[str, Any],
    financials: Mapping[str, Any],
) -> dict[str, Any]:
    """The ai_audit_payload of an execution_logs row: always all five sections."""
    return {
        "integrity": dict(integrity),
        "timing": dict(timing),
        "health": dict(health),
        "verdict": dict(verdict),
        "financials": dict(financials),
    }
