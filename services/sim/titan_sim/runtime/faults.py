"""Fault injection state (POST /sim/faults) and the per-endpoint-group rate limiter."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass
class Faults:
    latency_ms: int = 0
    jitter_ms: int = 0
    error_rate: float = 0.0  # share of requests answered with http_status or ret_code
    http_status: int | None = None  # e.g. 503: pybit raises FailedRequestError
    ret_code: int | None = None  # e.g. 10016: pybit raises InvalidRequestError (or retries 10002/10006)
    rate_limit_per_s: int | None = None  # overrides every group's limit
    drop_response: bool = False  # trade calls are executed, the answer never comes
    clock_skew_ms: int = 0  # the venue's clock runs ahead (+) or behind (-) for auth checks
    reject_symbol: str | None = None  # orders on this symbol are refused with 10001
    # these REST paths always fail (with ret_code, else 10016), e.g. ["/v5/position/trading-stop"]
    fail_paths: list[str] = field(default_factory=list)

    def update(self, changes: dict[str, Any]) -> None:
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known - {"ws_disconnect"}
        if unknown:
            raise ValueError(f"unknown fault(s): {', '.join(sorted(unknown))}")
        for key, value in changes.items():
            if key != "ws_disconnect":
                setattr(self, key, value)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def delay_s(self, rng: random.Random) -> float:
        if not self.latency_ms and not self.jitter_ms:
            return 0.0
        return max(0.0, (self.latency_ms + rng.uniform(-self.jitter_ms, self.jitter_ms)) / 1000)


class RateLimiter:
    """Fixed windows per (client, group): one second by default, like Bybit's per-UID
    limits. One limiter uses one window length (the MEXC face keeps a 10 s one and a 1 s one).

    The reset timestamp is the end of the current window on the real clock, so it is always
    in the future: pybit sleeps until it and crashes on a reset already past."""

    def __init__(self) -> None:
        self._windows: dict[tuple[str, str], tuple[int, int]] = {}

    def hit(self, client: str, group: str, limit: int, now_ms: int, window_ms: int = 1000) -> tuple[bool, int, int]:
        """Count one call; returns (allowed, remaining, reset_ms)."""
        window = now_ms // window_ms
        key = (client, group)
        start, count = self._windows.get(key, (window, 0))
        if start != window:
            start, count = window, 0
        reset = (window + 1) * window_ms
        if count >= limit:
            return False, 0, reset
        count += 1
        self._windows[key] = (start, count)
        if len(self._windows) > 10_000:
            self._windows = {k: v for k, v in self._windows.items() if v[0] == window}
        return True, limit - count, reset

    def clear(self) -> None:
        self._windows.clear()
