"""Is the market data fresh enough to act on? A pure state machine over receive times.

- STARTING: no data yet, within `stale_after_ms` of the start (the service is recovering).
- LIVE: data arrived within `stale_after_ms`.
- DOWN: no data for `stale_after_ms`, or the stream reconnected (what it carried meanwhile
  is lost). DOWN ends only after data has flowed without a gap for `stable_for_ms`.

Only price-bearing messages count as data (trades, tickers): a venue can keep pushing
candles while its market is frozen. A message whose exchange timestamp lags ours by more
than `max_lag_ms` does not count either.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class StreamStatus(StrEnum):
    STARTING = "STARTING"
    LIVE = "LIVE"
    DOWN = "DOWN"


@dataclass
class StreamHealth:
    started_ms: int
    stale_after_ms: int = 5_000
    stable_for_ms: int = 3_000
    max_lag_ms: int = 10_000
    last_data_ms: int | None = None
    down_since_ms: int | None = None
    flowing_since_ms: int | None = None  # while DOWN: since when data has flowed without a gap
    downs: int = 0

    def on_data(self, received_ms: int, exchange_ts_ms: int | None = None) -> None:
        if exchange_ts_ms and received_ms - exchange_ts_ms > self.max_lag_ms:
            return  # a lagging feed is not fresh data
        if self.last_data_ms is not None and received_ms - self.last_data_ms > self.stale_after_ms:
            self.flowing_since_ms = None  # a gap restarts the stability count
        if self.flowing_since_ms is None:
            self.flowing_since_ms = received_ms
        self.last_data_ms = received_ms

    def on_reconnect(self, now_ms: int) -> None:
        self._go_down(now_ms)
        self.flowing_since_ms = None

    def evaluate(self, now_ms: int) -> StreamStatus:
        reference = self.last_data_ms if self.last_data_ms is not None else self.started_ms
        if now_ms - reference > self.stale_after_ms:
            self._go_down(now_ms)
            self.flowing_since_ms = None
            return StreamStatus.DOWN
        if self.last_data_ms is None:
            return StreamStatus.DOWN if self.down_since_ms is not None else StreamStatus.STARTING
        if self.down_since_ms is not None:
            flowing = self.flowing_since_ms
            if flowing is None or now_ms - flowing < self.stable_for_ms:
                return StreamStatus.DOWN
            self.down_since_ms = None
        return StreamStatus.LIVE

    def age_ms(self, now_ms: int) -> int | None:
        return None if self.last_data_ms is None else now_ms - self.last_data_ms

    def _go_down(self, now_ms: int) -> None:
        if self.down_since_ms is None:
            self.down_since_ms = now_ms
            self.downs += 1
