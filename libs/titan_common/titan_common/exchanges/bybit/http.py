"""pybit's synchronous HTTP client, run in a small thread pool, with errors made meaningful.

pybit already retries 10002 (widening recv_window) and 10006 (sleeping until the reset
time) and network errors. What reaches us is mapped to what the caller can conclude:
OutcomeUnknown (it may have happened), RateLimited, TimestampRejected, OrderNotFound,
DuplicateClientOrderId, NotModified, or OrderRejected (it definitely did not happen).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests
from pybit.exceptions import FailedRequestError, InvalidRequestError
from pybit.unified_trading import HTTP

from titan_common.clock import now_ms
from titan_common.exchanges import types as T
from titan_common.exchanges.bybit import constants as C
from titan_common.exchanges.ratelimit import TokenBucket

log = logging.getLogger(__name__)


def map_error(exc: Exception) -> T.ExchangeError:
    if isinstance(exc, InvalidRequestError):
        code = int(exc.status_code)
        message = str(exc.message)
        if code == C.ORDER_NOT_FOUND:
            return T.OrderNotFound(message, code)
        if code == C.DUPLICATE_ORDER_LINK_ID:
            return T.DuplicateClientOrderId(message, code)
        if code in C.NOT_MODIFIED_CODES:
            return T.NotModified(message, code)
        if code == C.RATE_LIMITED:
            return T.RateLimited(message, code)
        if code == C.TIMESTAMP_OUT_OF_WINDOW:
            return T.TimestampRejected(message, code)
        if code in C.AUTH_CODES:
            return T.ExchangeError(f"authentication refused: {message}", code)
        if code in C.REJECTION_CODES:
            return T.OrderRejected(message, code)
        return T.OutcomeUnknown(message, code)  # SERVER_ERROR, and any code not known to be a refusal
    if isinstance(exc, FailedRequestError):
        status = int(exc.status_code) if str(exc.status_code).isdigit() else None
        if status in (403, 429):
            return T.RateLimited(f"HTTP {status}", status)
        return T.OutcomeUnknown(f"HTTP failure: {exc.message}", status)
    if isinstance(exc, requests.exceptions.RequestException | ConnectionError | TimeoutError):
        return T.OutcomeUnknown(f"{type(exc).__name__}: {exc}")
    return T.OutcomeUnknown(f"unexpected {type(exc).__name__}: {exc}")


def _limit_headers(headers: Any) -> tuple[int | None, int | None]:
    def number(name: str) -> int | None:
        value = headers.get(name) if hasattr(headers, "get") else None
        return int(value) if value is not None and str(value).lstrip("-").isdigit() else None

    return number("X-Bapi-Limit-Status"), number("X-Bapi-Limit-Reset-Timestamp")


class BybitHttp:
    def __init__(
        self, access: T.RestAccess, *, max_workers: int = 8, trade_rate_per_s: float = C.GROUP_LIMITS["trade"]
    ) -> None:
        self._session = HTTP(
            testnet=False,
            api_key=access.api_key,
            api_secret=access.api_secret,
            recv_window=access.recv_window,
            timeout=access.timeout_s,
            return_response_headers=True,
        )
        # pybit reads the endpoint at call time; no trailing slash
        self._session.endpoint = access.endpoint.rstrip("/")
        # Titan owns its retries: pybit would sleep in this worker thread and resend on 10002
        # and 10006 (seconds, unseen by RATE_LIMIT, TIMESTAMP_MISMATCH and the token bucket).
        # Set after construction: pybit replaces an empty retry_codes given to it by its defaults.
        self._session.retry_codes = set()
        self._session.max_retries = 1
        # proxies from the environment once, here, not on every request: requests would scan
        # the environment and look for a .netrc on each one (pybit signs its own headers)
        client = self._session.client
        client.proxies.update(requests.utils.get_environ_proxies(self._session.endpoint))
        client.trust_env = False
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="bybit-http")
        rates = {**C.GROUP_LIMITS, "trade": trade_rate_per_s}
        self.buckets = {group: TokenBucket(rate, rate) for group, rate in rates.items()}
        self.last_rate_limited_ms = 0
        self.rate_limit_hits = 0
        self.slowest_send_ms = 0  # the longest one request held a worker thread

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Run one pybit method off the event loop, within its group's rate; returns `result`."""
        bucket = self.buckets["trade" if method in C.TRADE_METHODS else "query"]
        while (wait := bucket.take(now_ms())) > 0:  # noqa: ASYNC110 - pacing to a computed time, not waiting on an event
            await asyncio.sleep(wait / 1000)
        loop = asyncio.get_running_loop()
        bound = functools.partial(getattr(self._session, method), **params)
        sent = time.monotonic()
        try:
            body, _elapsed, headers = await loop.run_in_executor(self._pool, bound)
        except Exception as exc:
            self._note_send(sent)
            mapped = map_error(exc)
            if isinstance(mapped, T.RateLimited):
                self._note_rate_limited(bucket, getattr(exc, "resp_headers", None))
            log.debug("bybit %s failed: %s", method, mapped)
            raise mapped from exc
        self._note_send(sent)
        remaining, reset = _limit_headers(headers)
        bucket.observe(remaining=remaining, reset_ms=reset, now_ms=now_ms())
        if remaining == 0:
            self._note_rate_limited(bucket, headers)
        result: dict[str, Any] = body.get("result") or {}
        return result

    def _note_send(self, sent: float) -> None:
        self.slowest_send_ms = max(self.slowest_send_ms, int((time.monotonic() - sent) * 1000))

    def _note_rate_limited(self, bucket: TokenBucket, headers: Any) -> None:
        _remaining, reset = _limit_headers(headers or {})
        bucket.refused(reset_ms=reset, now_ms=now_ms())
        self.last_rate_limited_ms = now_ms()
        self.rate_limit_hits += 1

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
