"""Authentication and authorisation for every console route.

Every router of the console carries `authorize` as a dependency, so a route cannot exist
without passing through it (the auth matrix test checks that, route by route). A route
states its level with `access(...)`; without one, GET needs viewer and anything else
operator (core.access). Mutations from a browser session also need the session's CSRF
token in `X-CSRF-Token`, and any mutation whose Origin names another site is refused.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request
from sqlalchemy.exc import SQLAlchemyError

from titan_common.auth.http import basic_credentials
from titan_common.auth.roles import Role
from titan_common.auth.tokens import same_secret
from titan_common.request_guard import SAFE_METHODS, same_origin
from titan_console.core.access import Access, Caller, client_address, decide, is_local
from titan_console.errors import ConsoleError
from titan_console.runtime import console_of
from titan_console.runtime.authenticator import LOCAL_VIEWER, AuthFailed, Principal
from titan_console.runtime.context import Console

ACCESS_KEY = "x-titan-access"
CSRF_HEADER = "X-CSRF-Token"


def access(level: Access) -> dict[str, Any]:
    """Route metadata: `@router.post(path, openapi_extra=access(Access.ADMIN))`."""
    return {ACCESS_KEY: level.value}


def route_access(request: Request) -> Access | None:
    route = request.scope.get("route")
    extra = getattr(route, "openapi_extra", None) or {}
    value = extra.get(ACCESS_KEY)
    return Access(value) if value else None


def console_of_request(request: Request) -> Console:
    return console_of(request.app.state.runtime)


async def get_console(request: Request) -> Console:
    """FastAPI dependency (`async`: a plain `def` one would cost a thread-pool hop per request)."""
    return console_of_request(request)


def _challenge_headers(request: Request) -> dict[str, str] | None:
    """Ask for Basic credentials, except from the console's own pages (no browser pop-up)."""
    if request.headers.get("x-requested-with") or request.cookies:
        return None
    return {"WWW-Authenticate": 'Basic realm="titan"'}


async def identify(console: Console, headers: Any, cookies: Any, peer: str | None) -> Principal | None:
    """Who is calling: Basic credentials, else a session cookie, else nobody. Wrong
    credentials raise (they are never treated as anonymous)."""
    address = client_address(peer, headers, console.settings.trusted)
    credentials = basic_credentials(headers.get("authorization"))
    if credentials is not None:
        return await console.auth.check_password(credentials[0], credentials[1], address)
    if headers.get("authorization"):
        raise AuthFailed(401, "UNAUTHORIZED", "unsupported Authorization header; use HTTP Basic")
    token = cookies.get(console.settings.session_cookie)
    if token:
        try:
            return await console.auth.from_session(token)
        except (OSError, SQLAlchemyError) as exc:
            raise AuthFailed(503, "DB_UNAVAILABLE", "the session store is not reachable") from exc
    return None


async def authorize(request: Request) -> Principal:
    console = console_of_request(request)
    peer = request.client.host if request.client else None
    level = route_access(request)
    principal: Principal | None = None
    if level is not Access.PUBLIC:  # public routes (login, verify) check credentials themselves
        try:
            principal = await identify(console, request.headers, request.cookies, peer)
        except AuthFailed as exc:
            headers = {"Retry-After": str(exc.retry_after_s)} if exc.retry_after_s else _challenge_headers(request)
            raise ConsoleError(exc.status, exc.code, str(exc), headers=headers) from None
    local = is_local(peer, request.headers, console.settings.trusted)
    verdict = decide(level, request.method, Caller(role=principal.role if principal else None, local=local))
    if not verdict.allowed:
        headers = _challenge_headers(request) if verdict.status == 401 else None
        raise ConsoleError(verdict.status, verdict.code, verdict.message, headers=headers)
    if request.method.upper() not in SAFE_METHODS and level is not Access.PUBLIC:
        if not same_origin(request.headers.get("origin"), request.headers.get("host")):
            raise ConsoleError(403, "CSRF_FAILED", "cross-site request refused (Origin does not match)")
        if principal is not None and principal.via == "session":
            sent = request.headers.get(CSRF_HEADER, "")
            if not principal.csrf_token or not same_secret(sent, principal.csrf_token):
                raise ConsoleError(403, "CSRF_FAILED", f"missing or wrong {CSRF_HEADER} header")
    if principal is None:
        principal = Principal(LOCAL_VIEWER if local else "anonymous", Role.VIEWER, "local" if local else "none")
    request.state.principal = principal
    return principal


async def current_user(principal: Principal = Depends(authorize)) -> Principal:
    """The authenticated caller of a route (authorize runs once per request)."""
    return principal


def body_label(body: dict[str, Any] | None) -> str | None:
    """A body's `operator_id` is a label for the record, never the authority."""
    if not body:
        return None
    label = body.get("operator_id")
    return str(label)[:64] if label is not None else None
