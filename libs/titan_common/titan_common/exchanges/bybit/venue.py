"""Bybit's entry in the venue registry: its settings, validated, and the adapter they build."""

from __future__ import annotations

from typing import ClassVar

from titan_common.exchanges.bybit import constants as C
from titan_common.exchanges.bybit.adapter import BybitAdapter, BybitConfig
from titan_common.exchanges.venue_settings import VenueSettings


class BybitSettings(VenueSettings):
    """TITAN_BYBIT_ENDPOINT, TITAN_BYBIT_API_KEY, TITAN_BYBIT_API_SECRET, TITAN_BYBIT_RECV_WINDOW."""

    ENDPOINTS: ClassVar[dict[str, str]] = C.ENDPOINTS

    endpoint: str = "http://127.0.0.1:9100"  # the simulator; or mainnet, testnet, demo, or a URL


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
