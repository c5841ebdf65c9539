"""The <venue> REST client: the venue's official connector or ccxt, run off the event loop in
a thread pool, paced by titan_common.exchanges.ratelimit.TokenBucket. Its own retries are off;
every failure is mapped to ExchangeError subclasses (OrderRejected only for REJECTION_CODES)."""

from __future__ import annotations

from typing import Any


class VenueHttp:
    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        raise NotImplementedError
