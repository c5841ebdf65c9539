"""The 24/7 operations panel's ordering and arithmetic (operations-rules-live.md). Pure.

The panel is read in a fixed order: mode, alerts, stage changes, DB/disk/WAL/writer,
pending intents, reconcile drift, churn. These functions decide what comes first within
each section.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from titan_common.messages import IntentState

SEVERITY_ORDER = ("CRITICAL", "CRIT", "HIGH", "ERROR", "WARNING", "WARN", "MEDIUM", "LOW", "INFO", "DEBUG")
# the panel always shows these five, SENT_UNKNOWN first; other states follow when present
_S = IntentState
PENDING_STATES = tuple(s.value for s in (_S.SENT_UNKNOWN, _S.CREATED, _S.CONFIRMED, _S.NOT_FOUND, _S.FAILED_TERMINAL))
INTENT_STATE_ORDER = (*PENDING_STATES, *(s.value for s in (_S.PARTIALLY_FILLED, _S.FILLED, _S.CANCELLED, _S.REJECTED)))
PANEL_SECTIONS = ("mode", "alerts", "stage_changes", "storage", "intents", "reconcile", "churn")


def severity_rank(severity: str | None) -> int:
    upper = (severity or "").upper()
    return SEVERITY_ORDER.index(upper) if upper in SEVERITY_ORDER else len(SEVERITY_ORDER)


def order_alerts(alerts: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Unacknowledged first, then by severity (CRITICAL first), then newest first."""
    return sorted(
        alerts,
        key=lambda a: (a.get("acknowledged_ms") is not None, severity_rank(a.get("severity")), -int(a["ts_ms"])),
    )


def order_intents(counts: Mapping[str, int]) -> list[dict[str, Any]]:
    """Counts by state, SENT_UNKNOWN first (priority 1 in LIVE), then the table's order."""
    known = [s for s in INTENT_STATE_ORDER if s in counts or s in PENDING_STATES]
    rest = sorted(s for s in counts if s not in INTENT_STATE_ORDER)
    return [{"state": s, "count": int(counts.get(s, 0))} for s in known + rest]


# --- churn over 10 s and 60 s, from samples of execution's per-symbol counter ---------

_SAMPLE_RE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?P<labels>[^}]*)\})?\s+(?P<value>\S+)")


def parse_counter(exposition: str, name: str, label: str) -> dict[str, float]:
    """One labelled counter out of a Prometheus text exposition: {label value: count}."""
    values: dict[str, float] = {}
    for line in exposition.splitlines():
        match = _SAMPLE_RE.match(line)
        if match is None or match.group("name") != name:
            continue
        labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group("labels") or ""))
        if label in labels:
            values[labels[label]] = float(match.group("value"))
    return values


@dataclass(frozen=True)
class ChurnSample:
    ts_ms: int
    counts: Mapping[str, float]


def _at_or_before(samples: Sequence[ChurnSample], ts_ms: int) -> ChurnSample | None:
    chosen = None
    for sample in samples:
        if sample.ts_ms <= ts_ms:
            chosen = sample
    return chosen


def churn(
    samples: Sequence[ChurnSample], now_ms: int, *, limit_10s: int, limit_60s: int, near_pct: float = 0.8
) -> dict[str, Any]:
    """Cancels and stop replacements per symbol in the last 10 s and 60 s.

    A window reaching back before the first sample uses the first sample (the counts since
    then), so a fresh console under-reports rather than inventing churn."""
    if not samples:
        return {"available": False, "window_10s": {}, "window_60s": {}, "top_symbol": None, "near_limit": False}
    latest = samples[-1]

    def window(seconds: int) -> dict[str, int]:
        base = _at_or_before(samples, now_ms - seconds * 1000) or samples[0]
        return {
            symbol: int(count - base.counts.get(symbol, 0.0))
            for symbol, count in sorted(latest.counts.items())
            if count - base.counts.get(symbol, 0.0) > 0
        }

    w10, w60 = window(10), window(60)
    top = max(w60.items(), key=lambda kv: (kv[1], kv[0]), default=None)
    near = any(v >= near_pct * limit_10s for v in w10.values()) or any(v >= near_pct * limit_60s for v in w60.values())
    return {
        "available": True,
        "window_10s": w10,
        "window_60s": w60,
        "limit_10s": limit_10s,
        "limit_60s": limit_60s,
        "top_symbol": None if top is None else {"symbol": top[0], "count_60s": top[1]},
        "near_limit": near,
    }


def trim_samples(samples: list[ChurnSample], now_ms: int, keep_ms: int = 70_000) -> list[ChurnSample]:
    """Keep what the 60 s window needs, plus the one sample just before it."""
    older = [s for s in samples if s.ts_ms < now_ms - keep_ms]
    recent = [s for s in samples if s.ts_ms >= now_ms - keep_ms]
    return older[-1:] + recent
