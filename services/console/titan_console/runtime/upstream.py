"""Calls to the other services, with their failures turned into clear 503s.

Reads go without credentials (loopback); mutations carry the internal token and the
authenticated operator, so the callee's audit trail names the person.
"""

from __future__ import annotations

import asyncio
from typing import Any, TypedDict, Unpack

import httpx

from titan_common.internal import InternalClient, ServiceUnavailable
from titan_console.core.venues import VenueFailure, every_venue_failed
from titan_console.errors import ConsoleError
from titan_console.settings import ConsoleSettings


class CallOptions(TypedDict, total=False):
    operator_id: str | None  # set: a mutation, with the internal token and the operator
    json: Any
    params: dict[str, Any] | None
    fast: bool  # the short timeout of the once-a-second reads


class Upstream:
    def __init__(self, settings: ConsoleSettings) -> None:
        self.settings = settings
        self.reads = InternalClient(settings, timeout_s=settings.upstream_timeout_s)
        self.actions = InternalClient(settings, timeout_s=settings.action_timeout_s)
        # the once-a-second reads behind STATE_UPDATE must not stall it
        self.fast = InternalClient(settings, timeout_s=min(1.0, settings.upstream_timeout_s))

    async def call(self, service: str, method: str, path: str, **options: Unpack[CallOptions]) -> httpx.Response:
        """The raw answer, or ConsoleError 503 `<SERVICE>_UNAVAILABLE` when nobody answers."""
        operator_id = options.get("operator_id")
        client = self.actions if operator_id is not None else self.fast if options.get("fast") else self.reads
        try:
            return await client.request(
                service, method, path, operator_id=operator_id, json=options.get("json"), params=options.get("params")
            )
        except (ServiceUnavailable, httpx.TimeoutException) as exc:
            raise ConsoleError(
                503, f"{service.upper()}_UNAVAILABLE", f"{service} did not answer ({type(exc).__name__})"
            ) from exc

    async def json(self, service: str, method: str, path: str, **options: Unpack[CallOptions]) -> Any:
        """The JSON body of a 2xx answer; an error answer is passed on in the one error shape."""
        response = await self.call(service, method, path, **options)
        if response.status_code == 404 and _is_missing_route(response):
            raise ConsoleError(
                503, f"{service.upper()}_ENDPOINT_UNAVAILABLE", f"{service} does not serve {method} {path} (yet)"
            )
        if response.status_code >= 400:
            raise passthrough(service, response)
        try:
            return response.json()
        except ValueError as exc:
            raise ConsoleError(502, "BAD_UPSTREAM_ANSWER", f"{service} answered {path} with no JSON") from exc

    async def each_venue(
        self,
        method: str,
        path: str,
        *,
        kind: str = "execution",
        venue: str | None = None,
        **options: Unpack[CallOptions],
    ) -> dict[str, Any]:
        """The same call to every venue's process of `kind` at once (execution: one per venue
        account; the scavenger: one per venue's market): each venue's JSON answer, or its
        VenueFailure. A venue that fails never holds up the others. Raises the first failure
        only when no venue answered at all. `venue` asks that venue's process alone."""

        async def one(service: str) -> Any:
            try:
                return await self.json(service, method, path, **options)
            except ConsoleError as exc:
                return VenueFailure(exc.code, exc.message, exc.status)

        services = self.settings.venue_services(kind)
        if venue is not None:
            if venue not in services:
                raise ConsoleError(422, "UNKNOWN_VENUE", f"venue must be one of {', '.join(services)}")
            services = {venue: services[venue]}
        answers = await asyncio.gather(*(one(service) for service in services.values()))
        by_venue = dict(zip(services, answers, strict=True))
        failed = every_venue_failed(by_venue)
        if failed is not None:
            raise ConsoleError(failed.status, failed.code, failed.message)
        return by_venue

    async def try_json(self, service: str, path: str, *, params: dict[str, Any] | None = None) -> Any | None:
        """A best-effort read for dashboards (short timeout): None instead of an error."""
        try:
            return await self.json(service, "GET", path, params=params, fast=True)
        except (TimeoutError, ConsoleError):
            return None

    async def text(self, service: str, path: str) -> str | None:
        try:
            response = await self.call(service, "GET", path, fast=True)
        except ConsoleError:
            return None
        return response.text if response.status_code == 200 else None

    async def close(self) -> None:
        await self.reads.close()
        await self.actions.close()
        await self.fast.close()


def _is_missing_route(response: httpx.Response) -> bool:
    """FastAPI's own 404 for a path it has no route for (not a 404 the route chose)."""
    try:
        body = response.json()
    except ValueError:
        return True
    error = body.get("error") if isinstance(body, dict) else None
    return isinstance(error, dict) and error.get("message") in ("Not Found", "NOT_FOUND")


def passthrough(service: str, response: httpx.Response) -> ConsoleError:
    """Another service's error answer, kept in the one shape with its status and code."""
    try:
        error = response.json().get("error", {})
    except (ValueError, AttributeError):
        error = {}
    code = str(error.get("code") or f"{service.upper()}_ERROR")
    message = str(error.get("message") or f"{service} answered {response.status_code}")
    return ConsoleError(response.status_code, code, f"{service}: {message}", details=error.get("details"))
