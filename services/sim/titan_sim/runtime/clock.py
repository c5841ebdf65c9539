"""The simulated clock: wall time, optionally faster, paused, or jumped forward."""

from __future__ import annotations

import time


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


class SimClock:
    def __init__(self, time_scale: float = 1.0, start_ms: int | None = None, paused: bool = False) -> None:
        self._anchor_wall = wall_ms()
        self._anchor_sim = self._anchor_wall if start_ms is None else start_ms
        self._scale = time_scale
        self._paused = paused

    def now_ms(self) -> int:
        if self._paused:
            return self._anchor_sim
        return self._anchor_sim + int((wall_ms() - self._anchor_wall) * self._scale)

    def _rebase(self) -> None:
        self._anchor_sim = self.now_ms()
        self._anchor_wall = wall_ms()

    @property
    def time_scale(self) -> float:
        return self._scale

    @property
    def paused(self) -> bool:
        return self._paused

    def set_scale(self, scale: float) -> None:
        self._rebase()
        self._scale = scale

    def set_paused(self, paused: bool) -> None:
        self._rebase()
        self._paused = paused

    def advance(self, ms: int) -> int:
        """Jump forward (never backward: candles and funding only move one way)."""
        self._rebase()
        self._anchor_sim += max(0, ms)
        return self._anchor_sim
