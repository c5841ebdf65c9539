"""Bybit's entry in the venue registry: its settings, validated, and the adapter they build."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from titan_common.exchanges.bybit import constants as C
from titan_common.exchanges.bybit.adapter import BybitAdapter, BybitConfig


class BybitSettings(BaseModel):
    """TITAN_BYBIT_ENDPOINT, TITAN_BYBIT_API_KEY, TITAN_BYBIT_API_SECRET, TITAN_BYBIT_RECV_WINDOW."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    endpoint: str = "http://127.0.0.1:9100"  # the simulator; or mainnet, testnet, demo, or a URL
    api_key: SecretStr = SecretStr("")
    api_secret: SecretStr = SecretStr("")
    recv_window: Annotated[int, Field(ge=1000, le=60000)] = 5000
    timeout_s: Annotated[int, Field(ge=1, le=60)] = 10

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        value = C.ENDPOINTS.get(value.strip().lower(), value.strip())
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"must be http(s)://host[:port] or one of {', '.join(C.ENDPOINTS)}")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _key_pair(self) -> BybitSettings:
        if bool(self.api_key.get_secret_value()) != bool(self.api_secret.get_secret_value()):
            raise ValueError("api_key and api_secret go together: give both or neither")
        return self


def build(settings: BybitSettings) -> BybitAdapter:
    return BybitAdapter(
        BybitConfig(
            endpoint=settings.endpoint,
            api_key=settings.api_key.get_secret_value(),
            api_secret=settings.api_secret.get_secret_value(),
            recv_window=settings.recv_window,
            timeout_s=settings.timeout_s,
        )
    )
