"""<Venue>'s registry entry: its settings (TITAN_<VENUE>_<OPTION>, validated at start) and
the adapter they build. Then add `"<venue>": Venue("<venue>", VenueSettings, build, spot=...,
private_stream=...)` to registry.VENUES (the traits are documented on registry.Venue)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, SecretStr

from titan_common.exchanges._template.adapter import VenueAdapter


class VenueSettings(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    endpoint: str
    api_key: SecretStr = SecretStr("")
    api_secret: SecretStr = SecretStr("")


def build(settings: VenueSettings) -> VenueAdapter:
    raise NotImplementedError
