"""The <venue> REST client: the venue's official connector or ccxt, paced by
titan_common.exchanges.ratelimit.TokenBucket. A synchronous client runs in a small thread pool
(bybit/); a natively async one (ccxt.async_support, as mexc/) runs on the loop. Its own retries
and rate limiter are off; every failure is mapped to ExchangeError subclasses (OrderRejected
only for REJECTION_CODES, OutcomeUnknown for timeouts, 5xx and unknown codes), and a rate-limit
refusal blocks its bucket until the venue's reset and raises RateLimited(reset_ms=...)."""

from __future__ import annotations

from typing import Any


class VenueHttp:
    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        raise NotImplementedError
