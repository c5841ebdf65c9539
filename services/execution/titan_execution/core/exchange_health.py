"""Pure checks on the exchange connection: clock offset and order churn."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


def clock_offset_ms(local_sent_ms: int, server_ms: int, local_received_ms: int) -> int:
    """The exchange clock minus ours, taking the request's midpoint as the moment it answered."""
    return server_ms - (local_sent_ms + local_received_ms) // 2


def clock_drifted(offset_ms: int, threshold_ms: int) -> bool:
    return abs(offset_ms) > threshold_ms


@dataclass
class ChurnCounter:
    """Cancels and replaces per symbol over short and long windows."""

    limit_10s: int = 10
    limit_60s: int = 30
    _events: dict[str, deque[int]] = field(default_factory=dict)

    def record(self, symbol: str, now_ms: int) -> bool:
        """Count one cancel/replace; True when the symbol is now over either limit."""
        events = self._events.setdefault(symbol, deque())
        events.append(now_ms)
        while events and events[0] <= now_ms - 60_000:
            events.popleft()
        return self.over_limit(symbol, now_ms)

    def symbols_over_limit(self, now_ms: int) -> set[str]:
        return {symbol for symbol in self._events if self.over_limit(symbol, now_ms)}

    def over_limit(self, symbol: str, now_ms: int) -> bool:
        events = self._events.get(symbol, deque())
        last_10s = sum(1 for t in events if t > now_ms - 10_000)
        last_60s = sum(1 for t in events if t > now_ms - 60_000)
        return last_10s > self.limit_10s or last_60s > self.limit_60s
