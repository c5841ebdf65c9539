"""Bybit's entry in the venue registry: its settings, validated, and the adapter they build."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field

from titan_common.exchanges.bybit import constants as C
from titan_common.exchanges.bybit.adapter import BybitAdapter, BybitConfig
from titan_common.exchanges.venue_settings import VenueSettings


class BybitSettings(VenueSettings):
    """TITAN_BYBIT_ENDPOINT, TITAN_BYBIT_API_KEY, TITAN_BYBIT_API_SECRET, TITAN_BYBIT_RECV_WINDOW,
    TITAN_BYBIT_TRADE_RATE_PER_S."""

    ENDPOINTS: ClassVar[dict[str, str]] = C.ENDPOINTS

    endpoint: str = "http://127.0.0.1:9100"  # the simulator; or mainnet, testnet, demo, or a URL
    # order calls per second Titan allows itself: Bybit's default per-account limit; an account
    # whose limit Bybit raised may raise it (the venue's X-Bapi-Limit-Status still caps it)
    trade_rate_per_s: Annotated[float, Field(gt=0, le=1000)] = C.GROUP_LIMITS["trade"]


def build(settings: BybitSettings) -> BybitAdapter:
    return BybitAdapter(
        BybitConfig(
            endpoint=settings.endpoint,
            api_key=settings.api_key.get_secret_value(),
            api_secret=settings.api_secret.get_secret_value(),
            recv_window=settings.recv_window,
            timeout_s=settings.timeout_s,
            trade_rate_per_s=settings.trade_rate_per_s,
        )
    )
