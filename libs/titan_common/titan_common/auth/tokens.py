"""Tokens: the internal service token and the console's browser sessions.

The internal token (`TITAN_INTERNAL_TOKEN`) travels in `X-Titan-Token` when the console or
a service calls another service's mutation on an operator's behalf; the operator's id
travels in `X-Titan-Operator`. A browser session is a random token in a cookie plus a CSRF
token the page sends back; only the SHA-256 of the session token is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_HEADER = "X-Titan-Token"  # noqa: S105 - a header name
OPERATOR_HEADER = "X-Titan-Operator"


def same_secret(sent: str, expected: str) -> bool:
    """Constant-time comparison, so the time taken tells nothing about the secret."""
    return hmac.compare_digest(sent.encode(), expected.encode())


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


def new_csrf_token() -> str:
    return secrets.token_urlsafe(24)


def token_hash(token: str) -> str:
    """What is stored of a session token (a database leak gives no usable session)."""
    return hashlib.sha256(token.encode()).hexdigest()
