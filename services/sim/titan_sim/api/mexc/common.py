"""What every MEXC-shaped route shares: its faults, its rate limits, auth, the error body.

MEXC answers data as plain JSON and errors as HTTP 4xx/5xx with `{"code": ..., "msg": ...}`.
A 429 carries `Retry-After` (seconds) and no `code`, so ccxt maps it by status
(RateLimitExceeded) instead of by an unknown code.
"""

from __future__ import annotations

import json
import math
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request, Response

from titan_sim.api.face import Handler, arrived, bounded_int, call, held_as_dropped
from titan_sim.api.mexc import auth
from titan_sim.core.model import ExchangeError
from titan_sim.runtime.clock import wall_ms
from titan_sim.runtime.venue import Venue

INTERNAL_ERROR = 20002  # "Internal system error": the injected fault's default code
ENDPOINT_WINDOW_MS = 10_000
ORDER_GROUP = "order"  # POST /order and the cancels share 12 per second


INJECTED_RETRY_AFTER_S = 5  # an injected 429's Retry-After


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    content = json.dumps(body, separators=(",", ":")).encode()
    return Response(content, status_code=status, media_type="application/json", headers=headers)


def error(code: int, message: str, status: int | None = None) -> Response:
    if status is None:
        status = 401 if code in auth.AUTH_CODES else 400
    return json_response({"code": code, "msg": message}, status)


def too_many(reset_ms: int, now_ms: int) -> Response:
    retry_after = max(1, math.ceil((reset_ms - now_ms) / 1000))
    return json_response({"msg": "Too Many Requests"}, 429, {"Retry-After": str(retry_after)})


def _rate_limited(venue: Venue, request: Request, client: str, order_limited: bool) -> Response | None:
    """The per-endpoint 10 s budget, then the shared order budget; a fault's per-second limit
    replaces both."""
    now = wall_ms()
    endpoint = f"{request.method} {request.url.path}"
    override = venue.mexc_faults.rate_limit_per_s
    if override is not None:
        allowed, _, reset = venue.mexc_order_limiter.hit(client, "fault:" + endpoint, override, now)
        return None if allowed else too_many(reset, now)
    limit = venue.settings.sim_mexc_endpoint_limit
    allowed, _, reset = venue.mexc_endpoint_limiter.hit(client, endpoint, limit, now, ENDPOINT_WINDOW_MS)
    if not allowed:
        return too_many(reset, now)
    if order_limited:
        allowed, _, reset = venue.mexc_order_limiter.hit(
            client, ORDER_GROUP, venue.settings.sim_mexc_order_rate_limit, now
        )
        if not allowed:
            return too_many(reset, now)
    return None


def params_of(raw_query: str, body: bytes, content_type: str) -> dict[str, str]:
    """Query parameters win over the body's (MEXC's rule); a body is a form or a JSON object."""
    params: dict[str, str] = {}
    if body:
        if "json" in content_type:
            try:
                parsed = json.loads(body)
            except ValueError:
                raise ExchangeError(auth.BAD_PARAM, "param is error: body is not JSON") from None
            if isinstance(parsed, dict):
                params.update({str(k): str(v) for k, v in parsed.items() if v is not None})
        else:
            params.update(parse_qsl(body.decode("latin-1"), keep_blank_values=True))
    params.update(parse_qsl(raw_query, keep_blank_values=True))
    params.pop("signature", None)
    return params


async def handle(
    request: Request,
    handler: Handler,
    *,
    signed: bool,
    order_limited: bool = False,
    holds_on_drop: bool = False,
) -> Response:
    venue, faults = await arrived(request, mexc=True)
    key_header = request.headers.get("x-mexc-apikey", "")
    client = key_header or (request.client.host if request.client else "?")
    limited = _rate_limited(venue, request, client, order_limited)
    if limited is not None:
        return limited
    if faults.fail_paths and request.url.path in faults.fail_paths:
        return _injected(faults.http_status, faults.ret_code)
    if faults.error_rate and venue.fault_rng.random() < faults.error_rate:
        return _injected(faults.http_status, faults.ret_code)
    raw_query = request.scope.get("query_string", b"").decode("latin-1")
    body = await request.body() if request.method in ("POST", "DELETE", "PUT") else b""
    try:
        params = params_of(raw_query, body, request.headers.get("content-type", ""))
        if signed:
            auth.verify(
                api_key_header=key_header,
                raw_query=raw_query,
                body=body,
                params=params,
                api_key=venue.settings.sim_mexc_api_key,
                api_secret=venue.settings.sim_mexc_api_secret.get_secret_value(),
                server_now_ms=venue.mexc_wall_ms(),
            )
        result = await call(handler, venue, params)
    except ExchangeError as exc:
        return error(exc.code, exc.message)
    if holds_on_drop and faults.drop_response:
        # executed; the client never hears so (its order's outcome stays unknown)
        venue.mexc_held_responses += 1
        return await held_as_dropped(request, venue.settings.sim_drop_hold_s)
    return json_response(result)


def _injected(http_status: int | None, code: int | None) -> Response:
    """An injected failure: a bare HTTP status (ccxt maps it by status), or a MEXC code."""
    if http_status == 429:  # MEXC's 429 always says when to come back
        return json_response({"msg": "injected fault"}, 429, {"Retry-After": str(INJECTED_RETRY_AFTER_S)})
    if http_status and http_status != 200:
        return json_response({"msg": "injected fault"}, http_status)
    if code is not None:
        return error(code, "injected fault")
    return error(INTERNAL_ERROR, "Internal system error please contact support", 500)


def int_param(params: dict[str, Any], key: str, default: int | None, low: int, high: int) -> int | None:
    return bounded_int(params, key, default, low, high, code=auth.BAD_PARAM, prefix="param is error")
