"""Which backups and audit files to keep. Pure: names and timestamps in, decisions out.

Backups follow a grandfather-father-son policy: the newest backup of each of the last
`keep_daily` UTC days that have a backup, and the newest of each of the last
`keep_weekly` ISO weeks that have one. Counting days *with* a backup (not calendar days)
means a week without backups never leaves the system with none.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

DAILY = "daily"
WEEKLY = "weekly"


@dataclass(frozen=True)
class RetentionPlan:
    keep: dict[int, tuple[str, ...]]  # backup timestamp (ms) -> why it is kept: daily, weekly
    prune: tuple[int, ...]  # timestamps to delete, oldest first


def _day(ts_ms: int) -> date:
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).date()


def plan_retention(stamps: Iterable[int], *, keep_daily: int, keep_weekly: int) -> RetentionPlan:
    """Decide which backups (by creation time, ms) to keep and which to prune."""
    newest_first = sorted(set(stamps), reverse=True)
    reasons: dict[int, list[str]] = {}

    def keep_newest_per(bucket: str, key_of: Callable[[int], Hashable], count: int) -> None:
        seen: list[Hashable] = []
        for stamp in newest_first:
            key = key_of(stamp)
            if key in seen:
                continue
            if len(seen) >= count:
                break
            seen.append(key)
            reasons.setdefault(stamp, []).append(bucket)

    keep_newest_per(DAILY, _day, keep_daily)
    keep_newest_per(WEEKLY, lambda stamp: _day(stamp).isocalendar()[:2], keep_weekly)
    prune = tuple(sorted(s for s in newest_first if s not in reasons))
    return RetentionPlan(keep={s: tuple(r) for s, r in reasons.items()}, prune=prune)


AUDIT_FILE = re.compile(r"^(?P<service>[A-Za-z0-9_.-]+)-(?P<day>\d{4}-\d{2}-\d{2})\.jsonl$")


def expired_audit_files(names: Iterable[str], *, today: date, keep_days: int) -> list[str]:
    """JSONL audit files (`<service>-YYYY-MM-DD.jsonl`) dated before today - keep_days.

    Today's file and anything not named like an audit file are never chosen."""
    cutoff = today - timedelta(days=keep_days)
    expired = []
    for name in names:
        match = AUDIT_FILE.match(name)
        if match is None:
            continue
        try:
            day = date.fromisoformat(match.group("day"))
        except ValueError:
            continue
        if day < cutoff:
            expired.append(name)
    return sorted(expired)
