"""MEXC's entry in the venue registry: its settings, validated, and the adapter they build."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from titan_common.exchanges.mexc import constants as C
from titan_common.exchanges.mexc.adapter import MexcAdapter, MexcConfig


class MexcSettings(BaseModel):
    """TITAN_MEXC_ENDPOINT, _API_KEY, _API_SECRET, _RECV_WINDOW, _TIMEOUT_S, _MARKET, _SYMBOLS."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    endpoint: str = C.SIMULATOR  # the simulator's MEXC face; or mainnet, or a URL
    api_key: SecretStr = SecretStr("")
    api_secret: SecretStr = SecretStr("")
    recv_window: Annotated[int, Field(ge=1000, le=60000)] = 5000
    timeout_s: Annotated[int, Field(ge=1, le=60)] = 10
    market: Literal["spot", "swap"] = "spot"  # swap only reads contracts and refuses to trade
    symbols: tuple[str, ...] = ()  # always covered by symbol-less queries (open orders, fills)

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        value = C.ENDPOINTS.get(value.strip().lower(), value.strip())
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"must be http(s)://host[:port] or one of {', '.join(C.ENDPOINTS)}")
        return value.rstrip("/")

    @field_validator("market", mode="before")
    @classmethod
    def _market(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("symbols", mode="before")
    @classmethod
    def _symbols(cls, value: object) -> object:
        """A comma list (TITAN_MEXC_SYMBOLS=BTCUSDT,ETHUSDT) or a sequence; upper-cased."""
        items = value.split(",") if isinstance(value, str) else value
        if isinstance(items, list | tuple):
            return tuple(dict.fromkeys(str(s).strip().upper() for s in items if str(s).strip()))
        return value

    @model_validator(mode="after")
    def _key_pair(self) -> MexcSettings:
        if bool(self.api_key.get_secret_value()) != bool(self.api_secret.get_secret_value()):
            raise ValueError("api_key and api_secret go together: give both or neither")
        return self


def build(settings: MexcSettings) -> MexcAdapter:
    return MexcAdapter(
        MexcConfig(
            endpoint=settings.endpoint,
            api_key=settings.api_key.get_secret_value(),
            api_secret=settings.api_secret.get_secret_value(),
            recv_window=settings.recv_window,
            timeout_s=settings.timeout_s,
            market=settings.market,
            symbols=settings.symbols,
        )
    )
