"""Capacity: one reading a day of what fills up (the database, Redis, the disk, memory), and
a straight-line projection of when each would cross its runbook limit. Pure: the history
comes in, the plan goes out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# what each figure may reach: the runbook's limits (Redis < 1 GB, disk > 20% free, RAM < 80%)
LIMITS = {"db_bytes": None, "redis_mb": 1000.0, "disk_used_pct": 80.0, "memory_pct": 80.0}


@dataclass(frozen=True)
class Projection:
    figure: str
    latest: float
    per_day: float | None  # the fitted slope; None under two days of history
    limit: float | None
    days_left: float | None  # until the limit at that slope; None: no limit, or not growing

    def line(self) -> str:
        slope = "-" if self.per_day is None else f"{self.per_day:+.3g}/day"
        left = (
            "no limit"
            if self.limit is None
            else "not growing"
            if self.days_left is None
            else f"{self.days_left:.0f} days"
        )
        return f"{self.figure:<14} now {self.latest:.4g}  trend {slope}  limit {self.limit or '-'}  reached in {left}"


def slope(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (day, value) points; None under two points."""
    if len(points) < 2:
        return None
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    var = sum((x - mx) ** 2 for x, _ in points)
    if var == 0:
        return None
    return sum((x - mx) * (y - my) for x, y in points) / var


def project(history: dict[str, dict[str, Any]]) -> list[Projection]:
    """history: day (YYYY-MM-DD, sorted) -> readings. One projection per figure."""
    days = sorted(history)
    out = []
    for figure, limit in LIMITS.items():
        points = [
            (float(i), float(history[d][figure])) for i, d in enumerate(days) if history[d].get(figure) is not None
        ]
        if not points:
            continue
        latest = points[-1][1]
        per_day = slope(points)
        days_left = None
        if limit is not None and per_day is not None and per_day > 0:
            days_left = max(0.0, (limit - latest) / per_day)
        out.append(Projection(figure, latest, per_day, limit, days_left))
    return out
