"""What every Bybit-shaped REST route shares: faults, rate limits, auth, the envelope."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request, Response

from titan_sim.api import auth
from titan_sim.api.face import Handler, arrived, bounded_int, call, held_as_dropped
from titan_sim.core.model import ExchangeError
from titan_sim.runtime.clock import wall_ms
from titan_sim.runtime.venue import Venue

RATE_LIMITED = 10006
SERVER_ERROR = 10016
BAD_PARAM = 10001


def envelope(ret_code: int, ret_msg: str, result: Any, now_ms: int) -> bytes:
    body = {"retCode": ret_code, "retMsg": ret_msg, "result": result, "retExtInfo": {}, "time": now_ms}
    return json.dumps(body, separators=(",", ":")).encode()


class Group:
    """An endpoint group with its own per-second budget (Bybit limits per endpoint)."""

    def __init__(self, name: str, kind: str) -> None:
        self.name = name
        self.kind = kind  # "trade", "query" or "public"

    def limit(self, venue: Venue) -> int:
        if venue.faults.rate_limit_per_s is not None:
            return venue.faults.rate_limit_per_s
        settings = venue.settings
        if self.kind == "trade":
            return settings.sim_trade_rate_limit
        if self.kind == "query":
            return settings.sim_query_rate_limit
        return settings.sim_public_rate_limit


async def handle(
    request: Request,
    group: Group,
    handler: Handler,
    *,
    signed: bool,
    holds_on_drop: bool = False,
) -> Response:
    venue, faults = await arrived(request, mexc=False)
    body = await request.body() if request.method == "POST" else b""
    headers = {k.lower(): v for k, v in request.headers.items()}
    now_real = wall_ms()
    limit = group.limit(venue)
    client = headers.get("x-bapi-api-key") or (request.client.host if request.client else "?")
    allowed, remaining, reset = venue.limiter.hit(client, group.name, limit, now_real)
    rate_headers = {
        "X-Bapi-Limit-Status": str(remaining),
        "X-Bapi-Limit": str(limit),
        "X-Bapi-Limit-Reset-Timestamp": str(reset),
        "Timenow": str(venue.server_wall_ms()),
    }

    def reply(code: int, message: str, result: Any, status: int = 200) -> Response:
        content = envelope(code, message, result if result is not None else {}, venue.server_wall_ms())
        return Response(content, status_code=status, media_type="application/json", headers=rate_headers)

    if not allowed:
        return reply(RATE_LIMITED, "Too many visits. Exceeded the API Rate Limit.", {})
    if faults.fail_paths and request.url.path in faults.fail_paths:
        return reply(faults.ret_code or SERVER_ERROR, "injected fault: this endpoint fails", {})
    if faults.error_rate and venue.fault_rng.random() < faults.error_rate:
        if faults.http_status and faults.http_status != 200:
            return reply(SERVER_ERROR, "injected fault", {}, status=faults.http_status)
        return reply(faults.ret_code or SERVER_ERROR, "injected fault: server error", {})
    try:
        if signed:
            payload = body if request.method == "POST" else auth.query_payload(request.scope.get("query_string", b""))
            auth.verify_rest(
                headers,
                payload,
                api_key=venue.settings.sim_api_key,
                api_secret=venue.settings.sim_api_secret.get_secret_value(),
                server_now_ms=venue.server_wall_ms(),
            )
        params = _params(request, body)
        result = await call(handler, venue, params)
    except ExchangeError as exc:
        return reply(exc.code, exc.message, {})
    if holds_on_drop and faults.drop_response:
        # the order is in the book; the client never hears so (its intent stays SENT_UNKNOWN)
        venue.held_responses += 1
        return await held_as_dropped(request, venue.settings.sim_drop_hold_s, rate_headers)
    return reply(0, "OK", result)


def _params(request: Request, body: bytes) -> dict[str, Any]:
    if request.method == "GET":
        return dict(parse_qsl(request.scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
    if not body:
        return {}
    try:
        parsed = json.loads(body)
    except ValueError:
        raise ExchangeError(BAD_PARAM, "params error: body is not JSON") from None
    if not isinstance(parsed, dict):
        raise ExchangeError(BAD_PARAM, "params error: body must be a JSON object")
    return parsed


def int_param(params: dict[str, Any], key: str, default: int, low: int, high: int) -> int:
    return bounded_int(params, key, default, low, high, code=BAD_PARAM, prefix="params error")


def opt_int(params: dict[str, Any], key: str) -> int | None:
    raw = params.get(key)
    if raw in (None, ""):
        return None
    try:
        return int(str(raw))
    except ValueError:
        raise ExchangeError(BAD_PARAM, f"params error: {key} must be an integer") from None


def cursor_param(params: dict[str, Any]) -> int | None:
    raw = params.get("cursor")
    if not raw:
        return None
    try:
        return int(str(raw).removeprefix("c"))
    except ValueError:
        raise ExchangeError(BAD_PARAM, "params error: cursor invalid") from None


def cursor_out(seq: int | None) -> str:
    return "" if seq is None else f"c{seq}"


def require_linear(params: dict[str, Any]) -> None:
    category = params.get("category")
    if category != "linear":
        raise ExchangeError(BAD_PARAM, "params error: category must be linear")
