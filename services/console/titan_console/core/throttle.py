"""Failed-login throttling. Pure: the caller passes the time in; state lives in the object.

Failures are counted per key (the console uses one key per username+address and one per
address alone, with a higher limit). Past `max_failures` within `window_ms`, the key is
locked for `lock_ms`, doubling with each further failure up to `max_lock_ms`. A success
clears the key.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class _Failures:
    count: int
    last_ms: int


class LoginThrottle:
    def __init__(
        self, *, max_failures: int = 5, window_ms: int = 300_000, lock_ms: int = 30_000, max_lock_ms: int = 900_000
    ) -> None:
        self.max_failures = max_failures
        self.window_ms = window_ms
        self.lock_ms = lock_ms
        self.max_lock_ms = max_lock_ms
        self._failures: dict[str, _Failures] = {}

    def retry_after_ms(self, key: str, now_ms: int) -> int:
        """0 when an attempt may proceed, else how long the key stays locked."""
        entry = self._current(key, now_ms)
        if entry is None:
            return 0
        return max(0, entry.last_ms + self._lock_of(entry) - now_ms)

    def failure(self, key: str, now_ms: int) -> None:
        entry = self._current(key, now_ms)
        self._failures[key] = _Failures(count=(entry.count if entry else 0) + 1, last_ms=now_ms)

    def success(self, key: str) -> None:
        self._failures.pop(key, None)

    def prune(self, now_ms: int) -> None:
        """Forget keys whose window and lock have both passed."""
        for key in list(self._failures):
            self._current(key, now_ms)

    def _lock_of(self, entry: _Failures) -> int:
        if entry.count < self.max_failures:
            return 0
        return int(min(self.max_lock_ms, self.lock_ms * 2 ** (entry.count - self.max_failures)))

    def _current(self, key: str, now_ms: int) -> _Failures | None:
        entry = self._failures.get(key)
        if entry is None:
            return None
        if now_ms - entry.last_ms > self.window_ms and now_ms >= entry.last_ms + self._lock_of(entry):
            del self._failures[key]
            return None
        return entry
