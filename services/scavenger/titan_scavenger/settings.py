"""The scavenger's one settings object (environment: TITAN_<FIELD>)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr, model_validator

from titan_common.settings import ServiceSettings

Positive = Annotated[float, Field(gt=0)]


class ScavengerSettings(ServiceSettings):
    # One scavenger per venue's market (docs/decisions.md): it watches TITAN_SCAVENGER_VENUE
    # (one of TITAN_VENUES; by default the first) and its signals name that venue.
    scavenger_venue: str = ""
    # the venue: `titan up` points these at the simulator in PAPER (keys only matter for the
    # breadth scanner's mark-to-market equity; market data is public)
    exchange: str = "bybit"  # the venue's name in cycle ids and snapshots (the venue's, unless set)
    bybit_endpoint: str = "http://127.0.0.1:9100"
    bybit_api_key: SecretStr = SecretStr("")
    bybit_api_secret: SecretStr = SecretStr("")
    bybit_recv_window: Annotated[int, Field(ge=1000, le=60000)] = 5000

    # intake: the whitelist plus the top N symbols by 24 h turnover
    top_n_symbols: Annotated[int, Field(ge=0, le=500)] = 20
    max_symbols: Annotated[int, Field(ge=1, le=500)] = 100
    universe_refresh_s: Positive = 3600.0
    stale_after_s: Positive = 5.0  # no trade or ticker for this long: WS_DOWN (PAUSE)
    stream_stable_s: Positive = 3.0  # after a drop, data must flow this long before signals resume
    stream_restart_after_s: Positive = 20.0  # silent this long: tear the stream down and reconnect
    max_feed_lag_ms: Annotated[int, Field(ge=100)] = 10_000
    reconnect_backoff_max_s: Positive = 30.0

    # the trap map
    trap_rebuild_s: Positive = 60.0
    max_traps: Annotated[int, Field(ge=1, le=500)] = 20
    trap_max_distance_pct: Annotated[float, Field(gt=0, le=50)] = 3.0
    reward_risk: Annotated[float, Field(gt=0, le=20)] = 3.0
    bars_history: Annotated[int, Field(ge=200, le=1000)] = 200  # 120 for the bands' lookback, 2 days for DAILY_LEVEL
    funding_refresh_s: Positive = 1800.0

    # TRAP_SPRUNG
    proximity_pct: Annotated[float, Field(gt=0, le=5)] = 0.1
    burst_min_trades: Annotated[int, Field(ge=1)] = 50
    burst_window_ms: Annotated[int, Field(ge=1)] = 100
    trap_cooldown_s: Annotated[float, Field(ge=0)] = 300.0
    signal_ttl_ms: Annotated[int, Field(ge=100)] = 5_000
    max_leverage_hint: Annotated[int, Field(ge=1, le=100)] = 20

    # the breadth scanner (CM-09): log-only, one cycle per slot
    scanner_enabled: bool = True
    scanner_slot_s: Annotated[int, Field(ge=60)] = 900
    # the internal schedule runs a slot this long after it opens, unless the Celery beat job
    # (which triggers at the slot's start) already ran it
    scanner_delay_s: Annotated[float, Field(ge=0)] = 60.0
    scanner_lookback: Annotated[int, Field(ge=2, le=200)] = 20
    scanner_max_symbols: Annotated[int, Field(ge=1)] = 1000
    scanner_timestamp_tolerance_ms: Annotated[int, Field(ge=10)] = 1000
    scanner_api_lag_ms: Annotated[int, Field(ge=10)] = 2000

    @model_validator(mode="after")
    def _watches_one_venue(self) -> ScavengerSettings:
        self.scavenger_venue = self.own_venue("scavenger", self.scavenger_venue)
        if "exchange" not in self.model_fields_set:
            self.exchange = self.scavenger_venue
        return self

    @property
    def service_name(self) -> str:
        """`scavenger` for the first venue's market, `scavenger-<venue>` for another's: its
        heartbeat, mode and port."""
        return self.venue_service("scavenger", self.scavenger_venue)

    @property
    def has_credentials(self) -> bool:
        key = self.venue_options(self.scavenger_venue).get("api_key")
        secret = key.get_secret_value() if isinstance(key, SecretStr) else key
        return bool(secret)
