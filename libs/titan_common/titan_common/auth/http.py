"""Who is calling a mutating endpoint. Every mutation needs an identity for the audit trail.

Accepted:
- the internal service token (`X-Titan-Token`, titan_common.auth.tokens), which the console
  uses when it forwards an operator's request; the operator's id travels in `X-Titan-Operator`;
- an operator's own HTTP Basic credentials, checked against the users table (argon2).

Anything else is 401; a known user below the required role is 403.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import HTTPException, Request

from titan_common.auth.accounts import enabled_user
from titan_common.auth.passwords import verify_password_off_loop
from titan_common.auth.roles import Role, role_for_live
from titan_common.auth.tokens import OPERATOR_HEADER, TOKEN_HEADER, same_secret
from titan_common.service import ServiceRuntime
from titan_common.settings import SystemMode


@dataclass(frozen=True)
class Operator:
    operator_id: str
    role: Role
    via: str  # "token" | "basic"


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """(username, password) from an `Authorization: Basic ...` header; None for any other."""
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else None


def _unauthorized() -> HTTPException:
    return HTTPException(401, "UNAUTHORIZED", headers={"WWW-Authenticate": "Basic"})


def require_role(minimum: Role, *, raises_risk: bool = False) -> Callable[[Request], Awaitable[Operator]]:
    """`raises_risk`: in LIVE the route needs admin (titan_common.auth.roles.role_for_live),
    the rule the console applies to the same actions. The internal token is the console or a
    service, which applied it already."""

    async def dependency(request: Request) -> Operator:
        runtime: ServiceRuntime = request.app.state.runtime
        live = runtime.settings.system_mode is SystemMode.LIVE
        required = minimum if minimum.at_least(role_for_live(live, raises_risk)) else role_for_live(live, raises_risk)
        token = request.headers.get(TOKEN_HEADER)
        if token is not None:
            if not same_secret(token, runtime.settings.internal_token.get_secret_value()):
                raise _unauthorized()
            operator_id = request.headers.get(OPERATOR_HEADER, "internal")[:64] or "internal"
            return Operator(operator_id=operator_id, role=Role.ADMIN, via="token")
        credentials = basic_credentials(request.headers.get("authorization"))
        if credentials is None or runtime.sessions is None:
            raise _unauthorized()
        username, password = credentials
        async with runtime.sessions() as session:
            user = await enabled_user(session, username)
        if user is None or not await verify_password_off_loop(user.password_hash, password):
            raise _unauthorized()
        role = Role(user.role)
        if not role.at_least(required):
            raise HTTPException(403, "FORBIDDEN")
        return Operator(operator_id=user.username, role=role, via="basic")

    return dependency
