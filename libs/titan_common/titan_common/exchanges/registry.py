"""The venue registry: a venue's name and its settings give an adapter.

Every Titan process builds its adapters here, never by hand. Adding a venue is one folder
beside `bybit/` (the file roles are in README.md, with a `_template`) and one line in
VENUES. A name not in VENUES is refused at start with one message naming the known ones.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from titan_common.exchanges.bybit import venue as bybit
from titan_common.exchanges.mexc import venue as mexc
from titan_common.exchanges.protocol import ExchangeAdapter


@dataclass(frozen=True)
class Venue:
    """A venue's entry, and the traits the brain and execution ask without importing its folder."""

    name: str
    settings: type[BaseModel]  # validates the venue's options (endpoint, key pair...)
    build: Callable[[Any], ExchangeAdapter]  # an adapter from validated settings
    # A spot venue: long-only (a sell can only sell coins held), leverage 1, no venue-side
    # stop orders (place_order with a stop, set_trading_stop and amend_order are refused: the
    # caller protects the position itself), and holdings rather than positions (positions()
    # is empty; Titan's position is its own inventory from its fills, checked against
    # balances()). False: a derivatives venue (shorts, leverage, stops held by the venue).
    spot: bool = False
    # Whether private_events() streams orders and fills. False: it yields nothing and fills
    # are found only by polling executions_since (and orders by order_by_client_id).
    private_stream: bool = True


VENUES: dict[str, Venue] = {
    "bybit": Venue("bybit", bybit.BybitSettings, bybit.build, spot=False, private_stream=True),
    "mexc": Venue("mexc", mexc.MexcSettings, mexc.build, spot=True, private_stream=False),
}


class VenueError(ValueError):
    """An unknown venue, or a venue's settings that do not validate; str() says which and why."""


def venue(name: str) -> Venue:
    found = VENUES.get(name.strip().lower())
    if found is None:
        raise VenueError(f"unknown venue {name!r}; known venues: {', '.join(sorted(VENUES))}")
    return found


def venue_settings(name: str, options: Mapping[str, Any]) -> BaseModel:
    """The venue's settings, validated; VenueError names every bad option as TITAN_<VENUE>_<OPTION>."""
    spec = venue(name)
    try:
        return spec.settings.model_validate(dict(options))
    except ValidationError as exc:
        problems = "; ".join(
            (f"TITAN_{spec.name.upper()}_{str(err['loc'][0]).upper()}: " if err["loc"] else "")
            + str(err["msg"]).removeprefix("Value error, ")
            for err in exc.errors()
        )
        raise VenueError(f"venue {spec.name}: {problems}") from None


def adapter_for(name: str, options: Mapping[str, Any]) -> ExchangeAdapter:
    """An adapter for the venue `name` from its options (validated first)."""
    return venue(name).build(venue_settings(name, options))
