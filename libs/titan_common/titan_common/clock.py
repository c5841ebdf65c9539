"""Time is integer milliseconds since the epoch, UTC, everywhere in Titan."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now_ms() -> int:
    """Wall-clock time in UTC milliseconds."""
    return time.time_ns() // 1_000_000


def ms_to_datetime(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def utc_day(ms: int) -> str:
    """The UTC calendar day of a timestamp, as YYYY-MM-DD."""
    return ms_to_datetime(ms).strftime("%Y-%m-%d")


DAY_MS = 86_400_000


def utc_day_start_ms(day: str) -> int:
    """00:00 UTC of a YYYY-MM-DD day, in ms. Raises ValueError for anything else."""
    return int(datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC).timestamp() * 1000)
