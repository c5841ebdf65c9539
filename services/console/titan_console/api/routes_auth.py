"""Logging in and out of the browser console, who am I, and nginx's auth_request check."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from titan_common.auth.http import basic_credentials
from titan_console.api import answers, bodies
from titan_console.api.answers import route
from titan_console.api.deps import access, authorize, current_user, get_console
from titan_console.core.access import Access, client_address
from titan_console.errors import ConsoleError
from titan_console.runtime.authenticator import AuthFailed, Principal
from titan_console.runtime.context import Console

router = APIRouter(dependencies=[Depends(authorize)])


def _secure(request: Request) -> bool:
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"


@router.post(
    "/api/auth/login",
    **route(None, body=bodies.LoginBody, level=Access.PUBLIC),
    responses={200: {"model": answers.Who}},
)
async def login(request: Request, console: Console = Depends(get_console)) -> JSONResponse:
    """Username and password (JSON) -> a session cookie (HttpOnly, SameSite=Strict) and the
    CSRF token the page sends back in X-CSRF-Token on every mutation."""
    body = await bodies.read(request, bodies.LoginBody)
    peer = request.client.host if request.client else None
    address = client_address(peer, request.headers, console.settings.trusted)
    try:
        verified = await console.auth.check_password(body.username, body.password, address)
    except AuthFailed as exc:
        headers = {"Retry-After": str(exc.retry_after_s)} if exc.retry_after_s else None
        raise ConsoleError(exc.status, exc.code, str(exc), headers=headers) from None
    token, principal = await console.auth.open_session(verified)
    await console.record("LOGIN", principal.username, {"address": address}, {}, True)
    response = JSONResponse(
        {
            "user": principal.username,
            "role": principal.role.value,
            "csrf_token": principal.csrf_token,
            "warnings": console.warnings,
        }
    )
    response.set_cookie(
        console.settings.session_cookie,
        token,
        max_age=console.settings.session_ttl_s,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        path="/",
    )
    return response


@router.post("/api/auth/logout", openapi_extra=access(Access.PUBLIC), responses={200: {"model": answers.Action}})
async def logout(request: Request, console: Console = Depends(get_console)) -> Response:
    """Ends the caller's own browser session (whatever its role); without one, a no-op."""
    token = request.cookies.get(console.settings.session_cookie)
    principal = await console.auth.from_session(token) if token else None
    if principal is not None and principal.session_hash:
        await console.auth.close_session(principal.session_hash)
    response = JSONResponse({"success": True, "user": principal.username if principal else None})
    response.delete_cookie(console.settings.session_cookie, path="/")
    return response


@router.get("/api/auth/me", **route(answers.Who))
async def me(who: Principal = Depends(current_user), console: Console = Depends(get_console)) -> dict[str, Any]:
    return {
        "user": who.username,
        "role": who.role.value,
        "via": who.via,
        "csrf_token": who.csrf_token,
        "system_mode": console.settings.system_mode.value,
        "warnings": console.warnings,
    }


@router.get("/api/auth/verify", openapi_extra=access(Access.PUBLIC), responses={200: {"model": answers.Who}})
async def verify(request: Request, console: Console = Depends(get_console)) -> Response:
    """For nginx `auth_request`: 200 with X-Titan-User for valid HTTP Basic credentials
    (any role), 401 otherwise. Failed attempts count towards the login throttle."""
    credentials = basic_credentials(request.headers.get("authorization"))
    challenge = {"WWW-Authenticate": 'Basic realm="titan"'}
    if credentials is None:
        raise ConsoleError(401, "UNAUTHORIZED", "HTTP Basic credentials required", headers=challenge)
    peer = request.client.host if request.client else None
    address = client_address(peer, request.headers, console.settings.trusted)
    try:
        who = await console.auth.check_password(credentials[0], credentials[1], address)
    except AuthFailed as exc:
        # nginx's auth_request understands only 2xx, 401 and 403
        status = 401 if exc.status == 429 else exc.status
        raise ConsoleError(status, exc.code, str(exc), headers=challenge) from None
    return JSONResponse(
        {"user": who.username, "role": who.role.value},
        headers={"X-Titan-User": who.username, "X-Titan-Role": who.role.value},
    )
