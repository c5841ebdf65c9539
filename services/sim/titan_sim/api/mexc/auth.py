"""MEXC spot v3 request signing, checked as the venue does, on the venue's wall clock."""

from __future__ import annotations

import hashlib
import hmac

from titan_sim.core.model import ExchangeError

INVALID_KEY = 10072  # invalid access key (ccxt: BadRequest)
BAD_SIGNATURE = 700002  # signature not valid (ccxt: AuthenticationError)
OUTSIDE_RECV_WINDOW = 700003  # (ccxt: InvalidNonce)
RECV_WINDOW_TOO_LARGE = 700005  # (ccxt: InvalidNonce)
BAD_PARAM = 33333
DEFAULT_RECV_WINDOW_MS = 5000
MAX_RECV_WINDOW_MS = 60_000
FUTURE_TOLERANCE_MS = 1000  # MEXC: timestamp < serverTime + 1000
AUTH_CODES = frozenset({INVALID_KEY, BAD_SIGNATURE})


def sign(secret: str, payload: bytes) -> str:
    return hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


def split_signature(raw_query: str) -> tuple[str, str]:
    """(the query string as sent without its `signature` parameter, the signature)."""
    kept, signature = [], ""
    for part in raw_query.split("&"):
        if part.startswith("signature="):
            signature = part.removeprefix("signature=")
        elif part:
            kept.append(part)
    return "&".join(kept), signature


def verify(
    *,
    api_key_header: str,
    raw_query: str,
    body: bytes,
    params: dict[str, str],
    api_key: str,
    api_secret: str,
    server_now_ms: int,
) -> None:
    """Raise ExchangeError unless the request carries the key, a fresh timestamp and a
    lowercase hex HMAC-SHA256 over the query string then the body, exactly as sent."""
    if not api_key_header or not hmac.compare_digest(api_key_header, api_key):
        raise ExchangeError(INVALID_KEY, "Api key info invalid")
    try:
        recv_window = int(params.get("recvWindow") or DEFAULT_RECV_WINDOW_MS)
    except ValueError:
        raise ExchangeError(BAD_PARAM, "param is error: recvWindow") from None
    if not 0 < recv_window <= MAX_RECV_WINDOW_MS:
        raise ExchangeError(RECV_WINDOW_TOO_LARGE, "recvWindow must less than 60000")
    try:
        timestamp = int(params.get("timestamp") or "")
    except ValueError:
        raise ExchangeError(OUTSIDE_RECV_WINDOW, "Timestamp for this request is outside of the recvWindow.") from None
    if not (timestamp < server_now_ms + FUTURE_TOLERANCE_MS and server_now_ms - timestamp <= recv_window):
        raise ExchangeError(OUTSIDE_RECV_WINDOW, "Timestamp for this request is outside of the recvWindow.")
    query, signature = split_signature(raw_query)
    if not signature and body:
        # all parameters in a form body: the signature travels there
        form, signature = split_signature(body.decode("latin-1"))
        body = form.encode("latin-1")
    expected = sign(api_secret, query.encode("latin-1") + body)
    if not signature or not hmac.compare_digest(expected, signature):
        raise ExchangeError(BAD_SIGNATURE, "Signature for this request is not valid.")
