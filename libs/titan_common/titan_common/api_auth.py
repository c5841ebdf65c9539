"""Who is calling a mutating endpoint. Every mutation needs an identity for the audit trail.

Accepted:
- the internal service token (`X-Titan-Token`), which the console uses when it forwards an
  operator's request; the operator's id travels in `X-Titan-Operator`;
- an operator's own HTTP Basic credentials, checked against the users table (argon2).

Anything else is 401; a known user below the required role is 403.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import HTTPException, Request
from sqlalchemy import select

from titan_common.access import role_for_live
from titan_common.auth import Role, verify_password
from titan_common.db.models import User
from titan_common.service import ServiceRuntime
from titan_common.settings import SystemMode

TOKEN_HEADER = "X-Titan-Token"  # noqa: S105 - a header name
OPERATOR_HEADER = "X-Titan-Operator"


@dataclass(frozen=True)
class Operator:
    operator_id: str
    role: Role
    via: str  # "token" | "basic"


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else None


def require_role(minimum: Role, *, raises_risk: bool = False) -> Callable[[Request], Awaitable[Operator]]:
    """`raises_risk`: in LIVE the route needs admin (titan_common.access.role_for_live), the
    rule the console applies to the same actions. The internal token is the console or a
    service, which applied it already."""

    async def dependency(request: Request) -> Operator:
        runtime: ServiceRuntime = request.app.state.runtime
        live = runtime.settings.system_mode is SystemMode.LIVE
        required = minimum if minimum.at_least(role_for_live(live, raises_risk)) else role_for_live(live, raises_risk)
        token = request.headers.get(TOKEN_HEADER)
        if token is not None:
            expected = runtime.settings.internal_token.get_secret_value()
            if not hmac.compare_digest(token.encode(), expected.encode()):
                raise HTTPException(401, "UNAUTHORIZED", headers={"WWW-Authenticate": "Basic"})
            operator_id = request.headers.get(OPERATOR_HEADER, "internal")[:64] or "internal"
            return Operator(operator_id=operator_id, role=Role.ADMIN, via="token")
        credentials = _basic_credentials(request)
        if credentials is None or runtime.sessions is None:
            raise HTTPException(401, "UNAUTHORIZED", headers={"WWW-Authenticate": "Basic"})
        username, password = credentials
        async with runtime.sessions() as session:
            user = await session.scalar(select(User).where(User.username == username, User.disabled.is_(False)))
        # argon2 takes ~0.1 s of CPU: off the event loop
        if user is None or not await asyncio.to_thread(verify_password, user.password_hash, password):
            raise HTTPException(401, "UNAUTHORIZED", headers={"WWW-Authenticate": "Basic"})
        role = Role(user.role)
        if not role.at_least(required):
            raise HTTPException(403, "FORBIDDEN")
        return Operator(operator_id=user.username, role=role, via="basic")

    return dependency
