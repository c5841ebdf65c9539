"""Client-side rate limiting: a token bucket per endpoint group, corrected by the venue.

Pure: time is passed in. The bucket refills at `rate_per_s` up to `capacity`. The venue's
own view (Bybit's X-Bapi-Limit-Status and -Reset-Timestamp) overrides ours when it is
stricter, and a 10006 blocks the group until the reset the venue named.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TokenBucket:
    rate_per_s: float
    capacity: float
    tokens: float = field(init=False)
    updated_ms: int = 0
    blocked_until_ms: int = 0

    def __post_init__(self) -> None:
        self.tokens = self.capacity

    def _refill(self, now_ms: int) -> None:
        if self.updated_ms:
            self.tokens = min(self.capacity, self.tokens + (now_ms - self.updated_ms) / 1000 * self.rate_per_s)
        self.updated_ms = now_ms

    def wait_ms(self, now_ms: int) -> int:
        """How long to wait before one request may go (0: now). Does not take a token."""
        self._refill(now_ms)
        if now_ms < self.blocked_until_ms:
            return self.blocked_until_ms - now_ms
        if self.tokens >= 1:
            return 0
        return int((1 - self.tokens) / self.rate_per_s * 1000) + 1

    def take(self, now_ms: int) -> int:
        """Take a token if one is free now; otherwise return the wait (and take nothing)."""
        wait = self.wait_ms(now_ms)
        if wait == 0:
            self.tokens -= 1
        return wait

    def observe(self, *, remaining: int | None, reset_ms: int | None, now_ms: int) -> None:
        """The venue's headers after a call: trust the stricter of its count and ours."""
        self._refill(now_ms)
        if remaining is not None:
            self.tokens = min(self.tokens, float(remaining))
            if remaining <= 0 and reset_ms and reset_ms > now_ms:
                self.blocked_until_ms = max(self.blocked_until_ms, reset_ms)

    def refused(self, *, reset_ms: int | None, now_ms: int, fallback_ms: int = 1000) -> None:
        """A rate-limit refusal: nothing more goes until the venue's reset (or a second)."""
        self.tokens = 0
        self.updated_ms = now_ms
        self.blocked_until_ms = max(
            self.blocked_until_ms, reset_ms if reset_ms and reset_ms > now_ms else now_ms + fallback_ms
        )
