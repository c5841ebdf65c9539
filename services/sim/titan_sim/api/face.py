"""What both faces' routes share: the venue behind a request, the injected latency, the
handler's call, and a response held back as if the network had dropped it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi import Request, Response

from titan_sim.core.model import ExchangeError
from titan_sim.runtime.faults import Faults
from titan_sim.runtime.venue import Venue

Handler = Callable[[Venue, dict[str, Any]], Any] | Callable[[Venue, dict[str, Any]], Awaitable[Any]]
DISCONNECT_POLL_S = 0.2
Default = TypeVar("Default", bound=int | None)


def venue_of(request: Request) -> Venue:
    venue: Venue = request.app.state.venue
    return venue


async def arrived(request: Request, *, mexc: bool) -> tuple[Venue, Faults]:
    """A request reached a face: counted, then delayed by that face's injected latency."""
    venue = venue_of(request)
    if mexc:
        venue.mexc_requests += 1
        faults = venue.mexc_faults
    else:
        venue.requests += 1
        faults = venue.faults
    delay = faults.delay_s(venue.fault_rng)
    if delay:
        await asyncio.sleep(delay)
    return venue, faults


async def call(handler: Handler, venue: Venue, params: dict[str, Any]) -> Any:
    result = handler(venue, params)
    if asyncio.iscoroutine(result):
        result = await result
    return result


async def held_as_dropped(request: Request, hold_s: float, headers: dict[str, str] | None = None) -> Response:
    """Nothing until the client gives up (or `hold_s` passes), then a bare 504: the request
    took effect, and the client never hears so."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + hold_s
    # polling is how Starlette exposes a client's disconnect
    while loop.time() < deadline and not await request.is_disconnected():  # noqa: ASYNC110
        await asyncio.sleep(DISCONNECT_POLL_S)
    return Response(b"", status_code=504, headers=headers)


def bounded_int(
    params: dict[str, Any], key: str, default: Default, low: int, high: int, *, code: int, prefix: str
) -> int | Default:
    """An optional integer parameter within [low, high]; refused with the face's code and
    message prefix ("params error" on Bybit, "param is error" on MEXC)."""
    raw = params.get(key)
    if raw in (None, ""):
        return default
    try:
        value = int(str(raw))
    except ValueError:
        raise ExchangeError(code, f"{prefix}: {key} must be an integer") from None
    if not low <= value <= high:
        raise ExchangeError(code, f"{prefix}: {key} must be within [{low}, {high}]")
    return value
