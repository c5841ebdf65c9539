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
from titan_common.exchanges.protocol import ExchangeAdapter


@dataclass(frozen=True)
class Venue:
    name: str
    settings: type[BaseModel]  # validates the venue's options (endpoint, key pair...)
    build: Callable[[Any], ExchangeAdapter]  # an adapter from validated settings


VENUES: dict[str, Venue] = {
    "bybit": Venue("bybit", bybit.BybitSettings, bybit.build),
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
