"""The execution service's one settings object."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import Field, SecretStr, model_validator

from titan_common.settings import ServiceSettings


class ExecutionSettings(ServiceSettings):
    # One execution process per venue account (docs/decisions.md). It trades
    # TITAN_EXECUTION_VENUE (one of TITAN_VENUES; by default the first), and its account, whose
    # name its rows and events carry, is named after that venue unless TITAN_EXCHANGE names it.
    execution_venue: str = ""
    exchange: str = "bybit"
    # PAPER: `titan up` points these at the simulator with its generated key pair
    bybit_endpoint: str = "http://127.0.0.1:9100"
    bybit_api_key: SecretStr = SecretStr("")
    bybit_api_secret: SecretStr = SecretStr("")
    bybit_recv_window: Annotated[int, Field(ge=1000, le=60000)] = 5000
    consumer_group: str = "execution"
    # a SENT_UNKNOWN intent is declared NOT_FOUND only after this many not-found answers...
    not_found_after: Annotated[int, Field(ge=2)] = 3
    # ...spread over at least this long since it was sent
    not_found_min_age_ms: Annotated[int, Field(ge=1000)] = 5000
    resolve_interval_s: Annotated[float, Field(gt=0)] = 1.0
    # CONFIRMED/PARTIALLY_FILLED intents unchanged this long are re-checked over REST
    open_refresh_s: Annotated[float, Field(gt=0)] = 3.0
    reconcile_interval_s: Annotated[float, Field(gt=0)] = 60.0
    reconcile_recheck_s: Annotated[float, Field(gt=0)] = 5.0  # the follow-up run after drift
    protection_attempts: Annotated[int, Field(ge=1)] = 2
    # RATE_LIMIT clears only after this long without a refusal from the exchange
    rate_limit_stability_s: Annotated[float, Field(gt=0)] = 10.0
    # after a WebSocket loss, the stream must stay up this long before WS_DOWN clears
    ws_stable_s: Annotated[float, Field(gt=0)] = 5.0
    clock_check_s: Annotated[float, Field(gt=0)] = 60.0
    clock_drift_threshold_ms: Annotated[int, Field(ge=50)] = 1000
    # cancels and stop replacements per symbol; over either limit, entries there are refused
    churn_limit_10s: Annotated[int, Field(ge=1)] = 10
    churn_limit_60s: Annotated[int, Field(ge=1)] = 30
    # the price band: an entry is refused (PRICE_MOVED) when the venue's price has moved from
    # its reference by more than this share of the reference's distance to the stop
    price_band_share: Annotated[Decimal, Field(gt=0, le=1)] = Decimal("0.25")
    wallet_poll_s: Annotated[float, Field(gt=0)] = 10.0
    mark_poll_s: Annotated[float, Field(gt=0)] = 2.0  # open positions' mark price and live PnL
    # a spot venue's Titan-side stops: the price is read this often (at least once a second),
    # and a feed older than price_stale_s puts the venue in DEGRADE (API_LAG)
    titan_stop_poll_s: Annotated[float, Field(gt=0, le=1)] = 0.5
    price_stale_s: Annotated[float, Field(gt=0, le=60)] = 3.0
    # an emergency action that arrives during startup recovery waits this long for it (then
    # 503 STARTUP_RECOVER); below the console's action timeout, so the operator gets an answer
    emergency_ready_wait_s: Annotated[float, Field(gt=0, le=60)] = 20.0

    @model_validator(mode="after")
    def _account_named_by_its_venue(self) -> ExecutionSettings:
        self.execution_venue = self.own_venue("execution", self.execution_venue)
        if "exchange" not in self.model_fields_set:
            self.exchange = self.execution_venue
        return self

    @property
    def service_name(self) -> str:
        """`execution` for the first venue's process, `execution-<venue>` for another's: its
        heartbeat, audit rows and metrics carry it, and it decides the port."""
        return self.execution_service(self.execution_venue)
