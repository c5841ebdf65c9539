"""Requests every Titan service refuses before any route sees them, whoever the caller.
Pure: no I/O (the ASGI middleware is titan_common.service.RequestGuard).

- Cross-site: a mutation whose Origin names another site is refused, and so is a body that
  is not JSON (a browser can post a form or text/plain cross-site without asking; it cannot
  post application/json without a CORS preflight, which Titan never grants).
- NUL bytes: Postgres text cannot hold one.
"""

from __future__ import annotations

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def same_origin(origin: str | None, host: str | None) -> bool:
    """A browser's Origin must name the host it is talking to. No Origin (curl) is fine:
    cross-site requests from a browser always carry one."""
    if not origin:
        return True
    if origin == "null" or not host:
        return False
    without_scheme = origin.split("://", 1)[-1].rstrip("/")
    return without_scheme.lower() == host.lower()


def is_json_media_type(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def mutation_refusal(
    method: str, *, origin: str | None, host: str | None, content_type: str | None, has_body: bool
) -> tuple[int, str, str] | None:
    """Why a request must be refused before any route sees it, as (status, code, message),
    or None. Reads pass; a mutation with no body needs no content type (`curl -X POST`)."""
    if method.upper() in SAFE_METHODS:
        return None
    if not same_origin(origin, host):
        return 403, "CSRF_FAILED", "cross-site request refused (Origin does not match)"
    if (has_body or content_type) and not is_json_media_type(content_type):
        shown = content_type or "none"
        return 415, "UNSUPPORTED_MEDIA_TYPE", f"a request body must be application/json (Content-Type: {shown})"
    return None


NUL_MESSAGE = "NUL bytes are not allowed in text"


def nul_in_url(raw: bytes) -> bool:
    """A NUL in a path or query string, raw or %-encoded."""
    return b"\x00" in raw or b"%00" in raw.lower()


def nul_in_json(raw: bytes) -> bool:
    """A NUL in a JSON body: only as the escape \\u0000 (a raw NUL is not JSON at all)."""
    return b"\x00" in raw or b"\\u0000" in raw.lower()
