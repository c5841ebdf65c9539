"""MEXC's entry in the venue registry: its settings, validated, and the adapter they build."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import field_validator

from titan_common.exchanges.mexc import constants as C
from titan_common.exchanges.venue_settings import VenueSettings

if TYPE_CHECKING:
    from titan_common.exchanges.mexc.adapter import MexcAdapter


class MexcSettings(VenueSettings):
    """TITAN_MEXC_ENDPOINT, _API_KEY, _API_SECRET, _RECV_WINDOW, _TIMEOUT_S, _MARKET, _SYMBOLS."""

    ENDPOINTS: ClassVar[dict[str, str]] = C.ENDPOINTS

    endpoint: str = C.SIMULATOR  # the simulator's MEXC face; or mainnet, or a URL
    market: Literal["spot", "swap"] = "spot"  # swap only reads contracts and refuses to trade
    symbols: tuple[str, ...] = ()  # always covered by symbol-less queries (open orders, fills)

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


def build(settings: MexcSettings) -> MexcAdapter:
    # ccxt (~80 MiB resident) is loaded only by a process that builds a MEXC adapter: the
    # registry, which every process imports, must not pull it into Bybit-only ones
    from titan_common.exchanges.mexc.adapter import MexcAdapter, MexcConfig

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
