"""Bybit v5 request signing, checked exactly as the venue does, on the real wall clock."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import unquote

from titan_sim.core.model import ExchangeError

BAD_KEY = 10003
BAD_SIGNATURE = 10004
BAD_TIMESTAMP = 10002
FUTURE_TOLERANCE_MS = 1000


def sign(secret: str, payload: bytes) -> str:
    return hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


def verify_rest(
    headers: dict[str, str],
    payload: bytes,
    *,
    api_key: str,
    api_secret: str,
    server_now_ms: int,
) -> None:
    """Raise ExchangeError(10003/10002/10004) unless the request is signed and fresh.

    `payload` is the percent-decoded query string as received (GET) or the raw body (POST):
    re-serialising either would change the bytes the client signed."""
    key = headers.get("x-bapi-api-key", "")
    if not key or not hmac.compare_digest(key, api_key):
        raise ExchangeError(BAD_KEY, "API key is invalid.")
    try:
        timestamp = int(headers.get("x-bapi-timestamp", ""))
        recv_window = int(headers.get("x-bapi-recv-window", "5000") or "5000")
    except ValueError:
        raise ExchangeError(BAD_TIMESTAMP, "invalid request, please check your timestamp") from None
    if not server_now_ms - recv_window <= timestamp < server_now_ms + FUTURE_TOLERANCE_MS:
        raise ExchangeError(
            BAD_TIMESTAMP,
            f"invalid request, please check your server timestamp or recv_window param. "
            f"req_timestamp[{timestamp}],server_timestamp[{server_now_ms}],recv_window[{recv_window}]",
        )
    prefix = f"{timestamp}{key}{headers.get('x-bapi-recv-window', '5000')}".encode()
    expected = sign(api_secret, prefix + payload)
    if not hmac.compare_digest(expected, headers.get("x-bapi-sign", "").lower()):
        raise ExchangeError(BAD_SIGNATURE, "error sign! origin_string[...]")


def query_payload(raw_query: bytes) -> bytes:
    """The GET payload pybit signed: the query string as sent, percent-decoded, order kept."""
    return unquote(raw_query.decode("latin-1")).encode()


def verify_ws_auth(args: list[object], *, api_key: str, api_secret: str, server_now_ms: int) -> str | None:
    """None when the private-stream auth op is valid, else the reason."""
    if len(args) != 3:
        return "auth args must be [api_key, expires, signature]"
    key, expires, signature = args
    if key != api_key:
        return "Invalid apikey"
    try:
        expires_ms = int(str(expires))
    except ValueError:
        return "Params Error"
    if expires_ms <= server_now_ms:
        return "Request expired"
    expected = sign(api_secret, f"GET/realtime{expires_ms}".encode())
    if not hmac.compare_digest(expected, str(signature)):
        return "Invalid sign"
    return None
