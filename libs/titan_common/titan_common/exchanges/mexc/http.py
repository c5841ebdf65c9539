"""MEXC's REST API through ccxt's async client, paced by Titan's token buckets, with every
failure mapped to what the caller can conclude.

ccxt signs and sends (natively async: nothing blocks the loop). We call its implicit REST
methods (`request(path, [section, access], method, params)`) and parse MEXC's raw JSON
ourselves: amounts go out as exact decimal strings and come back as Decimal, a market buy
sends `quantity`, and lookups use `origClientOrderId`. ccxt's unified layer would round
through floats and its own precision. ccxt's rate limiter and retries are off: Titan's
buckets hold MEXC's limits (500 per 10 s per endpoint; order create+cancel 12/s), a 429 or
418 blocks the endpoint until its Retry-After, and nothing is ever resent here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import ccxt.async_support as ccxt_async  # type: ignore[import-untyped]
from ccxt.base import errors as ccxt_errors  # type: ignore[import-untyped]

from titan_common.clock import now_ms
from titan_common.exchanges import types as T
from titan_common.exchanges.mexc import constants as C
from titan_common.exchanges.ratelimit import TokenBucket

log = logging.getLogger(__name__)


class TitanMexc(ccxt_async.mexc):  # type: ignore[misc]
    """ccxt's mexc, each failure carrying the HTTP status, headers and MEXC code of its own
    response (ccxt's shared `last_response_headers` may belong to another request by then)."""

    def handle_errors(
        self,
        code: int,
        reason: str,
        url: str,
        method: str,
        headers: Any,
        body: str,
        response: Any,
        request_headers: Any,
        request_body: Any,
    ) -> None:
        try:
            super().handle_errors(code, reason, url, method, headers, body, response, request_headers, request_body)
        except ccxt_errors.BaseError as exc:
            annotate(exc, code, headers, response)
            raise
        if code is not None and int(code) >= 400:
            # ccxt's status map comes next, without the headers (Retry-After): raise here with them
            failure = ccxt_errors.ExchangeError(f"mexc {method} {url} HTTP {code} {reason} {str(body)[:300]}")
            annotate(failure, code, headers, response)
            raise failure


def annotate(exc: Exception, status: Any, headers: Any, response: Any) -> None:
    exc.titan_http_status = int(status) if status is not None else None  # type: ignore[attr-defined]
    exc.titan_headers = dict(headers or {})  # type: ignore[attr-defined]
    code = response.get("code") if isinstance(response, dict) else None
    try:
        exc.titan_mexc_code = int(code) if code is not None else None  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        exc.titan_mexc_code = None  # type: ignore[attr-defined]
    message = (response.get("msg") or response.get("message")) if isinstance(response, dict) else None
    exc.titan_mexc_msg = str(message) if message else ""  # type: ignore[attr-defined]


def retry_after_ms(headers: Mapping[str, Any] | None, now: int, fallback_ms: int = C.RETRY_AFTER_FALLBACK_MS) -> int:
    """When a refused request may be sent again: now + Retry-After (seconds), else the fallback."""
    for name, value in (headers or {}).items():
        if str(name).lower() == "retry-after":
            try:
                seconds = float(str(value).strip())
            except ValueError:
                break
            if seconds >= 0:
                return now + max(int(seconds * 1000), 1)
    return now + fallback_ms


def map_error(exc: Exception, now: int | None = None) -> T.ExchangeError:
    """A ccxt failure (annotated by TitanMexc where the venue answered) in Titan's words."""
    status: int | None = getattr(exc, "titan_http_status", None)
    code: int | None = getattr(exc, "titan_mexc_code", None)
    venue_message: str = getattr(exc, "titan_mexc_msg", "") or ""
    text = f"{venue_message or exc}"
    if status in (418, 429) or isinstance(exc, ccxt_errors.DDoSProtection):
        reset = retry_after_ms(getattr(exc, "titan_headers", None), now if now is not None else now_ms())
        what = "IP banned" if status == 418 else "rate limited"
        return T.RateLimited(f"MEXC {what} (HTTP {status}): {text}", status, reset_ms=reset)
    if status == 403:
        return T.ExchangeError(f"MEXC's firewall (WAF) refused the request (HTTP 403); not retried: {text}", 403)
    if status is not None and status >= 500:
        return T.OutcomeUnknown(f"MEXC HTTP {status}: the outcome is unknown, query before acting: {text}", status)
    if code in C.ORDER_NOT_FOUND_CODES or isinstance(exc, ccxt_errors.OrderNotFound):
        return T.OrderNotFound(text, code)
    lowered = venue_message.lower()
    if (
        code in C.DUPLICATE_CLIENT_ORDER_ID_CODES
        or isinstance(exc, ccxt_errors.DuplicateOrderId)
        or ("client" in lowered and any(hint in lowered for hint in C.DUPLICATE_MESSAGE_HINTS))
    ):
        return T.DuplicateClientOrderId(text, code)
    if code == C.TIMESTAMP_OUTSIDE_RECV_WINDOW:
        return T.TimestampRejected(text, code)
    if code in C.AUTH_CODES or isinstance(exc, ccxt_errors.AuthenticationError) or status == 401:
        return T.ExchangeError(f"MEXC refused the key: {text}", code or status)
    if code in C.REJECTION_CODES:
        return T.OrderRejected(text, code)
    if isinstance(exc, ccxt_errors.NetworkError):  # timeouts, dropped connections, ExchangeNotAvailable
        return T.OutcomeUnknown(f"{type(exc).__name__}: {exc}", code or status)
    # a code (or a ccxt class) not known to be a refusal: it may have happened
    return T.OutcomeUnknown(f"MEXC answered {code if code is not None else status}: {text}", code or status)


class MexcHttp:
    def __init__(self, access: T.RestAccess) -> None:
        self.endpoint = access.endpoint.rstrip("/")
        self.client = TitanMexc(
            {
                "apiKey": access.api_key,
                "secret": access.api_secret,
                "enableRateLimit": False,  # Titan's buckets pace it
                "timeout": access.timeout_s * 1000,
                "options": {
                    "recvWindow": access.recv_window,
                    "adjustForTimeDifference": False,
                    "maxRetriesOnFailure": 0,
                    "defaultType": "spot",
                },
            }
        )
        # every section at the endpoint: nothing leaves for api.mexc.com unless asked to. The
        # face (like MEXC) serves /api/v3/... at its root and the contract API at /api/v1/...
        self.client.urls["api"] = {
            "spot": {"public": self.endpoint, "private": self.endpoint},
            "spot2": {"public": self.endpoint + "/open/api/v2", "private": self.endpoint + "/open/api/v2"},
            "contract": {"public": self.endpoint + "/api/v1/contract", "private": self.endpoint + "/api/v1/private"},
            "broker": {"private": self.endpoint + "/api/v3/broker"},
        }
        # load_markets would first call the private capital/config/getall (coins and networks,
        # for withdrawals): Titan never needs it
        self.client.has["fetchCurrencies"] = False
        self.buckets: dict[str, TokenBucket] = {}
        self.order_bucket = TokenBucket(C.ORDER_RATE_PER_S, C.ORDER_BURST)
        self.last_rate_limited_ms = 0
        self.rate_limit_hits = 0

    def _buckets_for(self, method: str, path: str) -> list[TokenBucket]:
        key = f"{method} {path}"
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = TokenBucket(C.ENDPOINT_RATE_PER_S, C.ENDPOINT_BURST)
        return [bucket, self.order_bucket] if (method, path) in C.ORDER_PATHS else [bucket]

    async def _acquire(self, buckets: list[TokenBucket]) -> None:
        """A token from each bucket; refused at once while the venue has one blocked."""
        while True:
            now = now_ms()
            blocked = max(b.blocked_until_ms for b in buckets)
            if blocked > now:
                raise T.NotSent(f"MEXC rate limit: blocked for {blocked - now} ms more (not sent)", 429, blocked)
            wait = max(b.wait_ms(now) for b in buckets)
            if wait == 0:
                for b in buckets:
                    b.take(now)
                return
            await asyncio.sleep(wait / 1000)

    async def call(
        self, section: str, access: str, method: str, path: str, params: dict[str, Any] | None = None
    ) -> Any:
        """One request: `section` spot or contract, `access` public or private, MEXC's raw JSON back."""
        buckets = self._buckets_for(method, path)
        await self._acquire(buckets)
        try:
            return await self.client.request(path, [section, access], method, dict(params or {}))
        except Exception as exc:
            mapped = map_error(exc)
            if isinstance(mapped, T.RateLimited):
                self._note_rate_limited(buckets, mapped, getattr(exc, "titan_http_status", None))
            log.debug("mexc %s %s failed: %s", method, path, mapped)
            raise mapped from exc

    def _note_rate_limited(self, buckets: list[TokenBucket], refusal: T.RateLimited, status: int | None) -> None:
        now = now_ms()
        # a 418 is an IP ban: nothing goes anywhere until it ends
        for bucket in [*self.buckets.values(), self.order_bucket] if status == 418 else buckets:
            bucket.refused(reset_ms=refusal.reset_ms, now_ms=now)
        self.last_rate_limited_ms = now
        self.rate_limit_hits += 1

    async def close(self) -> None:
        await self.client.close()
