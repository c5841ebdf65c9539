"""Calling another Titan service over HTTP, as the internal service identity.

Mutations carry the internal token and the operator on whose behalf they act, so the
callee's audit trail names the person, not the caller. Reads need no token on loopback.
"""

from __future__ import annotations

from typing import Any

import httpx

from titan_common.auth.tokens import OPERATOR_HEADER, TOKEN_HEADER
from titan_common.settings import CommonSettings


class ServiceUnavailable(Exception):
    """The other service did not answer (connection refused, timeout)."""


class InternalClient:
    def __init__(self, settings: CommonSettings, *, timeout_s: float = 10.0) -> None:
        self.settings = settings
        self._http = httpx.AsyncClient(timeout=timeout_s)

    async def request(
        self,
        service: str,
        method: str,
        path: str,
        *,
        operator_id: str | None = None,
        json: Any = None,
        params: dict[str, Any] | None = None,
    ) -> httpx.Response:
        """One call to `service`; the caller reads status and body. Raises ServiceUnavailable."""
        headers = {}
        if operator_id is not None:
            headers[TOKEN_HEADER] = self.settings.internal_token.get_secret_value()
            headers[OPERATOR_HEADER] = operator_id
        try:
            return await self._http.request(
                method, self.settings.url_of(service) + path, headers=headers, json=json, params=params
            )
        except httpx.TransportError as exc:
            raise ServiceUnavailable(f"{service} did not answer: {type(exc).__name__}") from exc

    async def close(self) -> None:
        await self._http.aclose()
