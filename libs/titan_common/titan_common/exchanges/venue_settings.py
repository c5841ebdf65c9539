"""What every venue's settings share: an endpoint (a known name or a URL), a key pair given
whole or not at all, the receive window and the request timeout. Each venue's `venue.py`
extends it with its own options and its named endpoints (`ENDPOINTS`)."""

from __future__ import annotations

from typing import Annotated, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator


class VenueSettings(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    ENDPOINTS: ClassVar[dict[str, str]] = {}  # named endpoints (mainnet, testnet...) -> URL

    endpoint: str
    api_key: SecretStr = SecretStr("")
    api_secret: SecretStr = SecretStr("")
    recv_window: Annotated[int, Field(ge=1000, le=60000)] = 5000
    timeout_s: Annotated[int, Field(ge=1, le=60)] = 10

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        value = cls.ENDPOINTS.get(value.strip().lower(), value.strip())
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"must be http(s)://host[:port] or one of {', '.join(cls.ENDPOINTS)}")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _key_pair(self) -> Self:
        if bool(self.api_key.get_secret_value()) != bool(self.api_secret.get_secret_value()):
            raise ValueError("api_key and api_secret go together: give both or neither")
        return self
