"""The browser console: two pages and their static files (no build step)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.exc import SQLAlchemyError

from titan_console.api.deps import access, authorize, get_console
from titan_console.core.access import Access
from titan_console.runtime.context import Console

PACKAGE = Path(__file__).resolve().parent.parent
TEMPLATES = PACKAGE / "templates"
STATIC = PACKAGE / "static"

router = APIRouter(dependencies=[Depends(authorize)])


def _page(name: str) -> HTMLResponse:
    html = (TEMPLATES / name).read_text(encoding="utf-8")
    return HTMLResponse(html, headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY"})


@router.get("/", openapi_extra=access(Access.PUBLIC), response_class=HTMLResponse, response_model=None)
async def index(request: Request, console: Console = Depends(get_console)) -> Response:
    """The console itself; without a live session, the login page."""
    token = request.cookies.get(console.settings.session_cookie)
    try:
        signed_in = bool(token) and await console.auth.from_session(token or "") is not None
    except (OSError, SQLAlchemyError):
        signed_in = False  # the login page then says what is wrong
    if not signed_in:
        return RedirectResponse("/login", status_code=303)
    return _page("index.html")


@router.get("/login", openapi_extra=access(Access.PUBLIC), response_class=HTMLResponse)
async def login_page() -> HTMLResponse:
    return _page("login.html")
