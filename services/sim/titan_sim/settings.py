"""The simulator's one settings object. It is an exchange: it needs no Postgres or Redis."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import Field, SecretStr, field_validator, model_validator

from titan_common.settings import CommonSettings
from titan_sim.core.instruments import DEFAULT_SYMBOLS

# Dev defaults; `titan up` generates a key pair and passes it as TITAN_SIM_API_KEY/SECRET.
DEFAULT_API_KEY = "titan-sim-key"
DEFAULT_API_SECRET = "titan-sim-secret"  # noqa: S105 - a local simulator's dev default
# the MEXC face's own pair; `titan up` generates one and passes TITAN_SIM_MEXC_API_KEY/SECRET
DEFAULT_MEXC_API_KEY = "titan-sim-mexc-key"
DEFAULT_MEXC_API_SECRET = "titan-sim-mexc-secret"  # noqa: S105 - a local simulator's dev default


class SimSettings(CommonSettings):
    sim_seed: int = 42
    sim_symbols: str = ",".join(DEFAULT_SYMBOLS)  # comma-separated USDT perpetuals
    sim_balance: Annotated[Decimal, Field(gt=0)] = Decimal(10000)
    sim_api_key: str = DEFAULT_API_KEY
    sim_api_secret: SecretStr = SecretStr(DEFAULT_API_SECRET)
    # demo mode: momentum bursts at random, every min..max seconds
    sim_demo_bursts: bool = False
    sim_demo_burst_interval_s: tuple[float, float] = (30.0, 90.0)
    # simulated time runs this many times faster than the wall (funding every 8 h of it)
    sim_time_scale: Annotated[float, Field(gt=0, le=1_000_000)] = 1.0
    sim_tick_ms: Annotated[int, Field(ge=10, le=5000)] = 100
    sim_backfill_minutes: Annotated[int, Field(ge=1, le=60 * 24 * 31)] = 7 * 24 * 60
    # per-second limits per API key and endpoint group (Bybit: 10/s trade, 50/s queries)
    sim_trade_rate_limit: Annotated[int, Field(ge=1)] = 10
    sim_query_rate_limit: Annotated[int, Field(ge=1)] = 50
    sim_public_rate_limit: Annotated[int, Field(ge=1)] = 600
    # how long a drop_response fault holds the connection before closing it unanswered
    sim_drop_hold_s: Annotated[float, Field(gt=0)] = 30.0
    # the MEXC spot v3 face (its port is simulator_mexc_port, TITAN_SIM_MEXC_PORT): its own key
    # pair and a spot account on the same market
    sim_mexc_balance: Annotated[Decimal, Field(ge=0)] = Decimal(10000)
    sim_mexc_api_key: str = DEFAULT_MEXC_API_KEY
    sim_mexc_api_secret: SecretStr = SecretStr(DEFAULT_MEXC_API_SECRET)
    # MEXC: 500 requests per 10 s per endpoint; order placement and cancels 12 per second
    sim_mexc_endpoint_limit: Annotated[int, Field(ge=1)] = 500
    sim_mexc_order_rate_limit: Annotated[int, Field(ge=1)] = 12

    # replay mode: a recorded market (1-minute klines, .csv or .csv.gz, a file or a folder)
    # instead of the walk, its symbols instead of sim_symbols
    sim_replay: str | None = None
    sim_replay_from: str | None = None  # YYYY-MM-DD or UTC ms; default: the data's start + 50 h
    sim_replay_to: str | None = None  # exclusive; default: the data's end
    sim_replay_speed: Annotated[float, Field(gt=0, le=10_000)] = 1.0
    sim_replay_cued: bool = False  # wait at the first minute until POST /sim/clock {"paused": false}
    sim_replay_shift_days: Annotated[int | None, Field(ge=0)] = None  # None: the first to reach today

    @field_validator("sim_symbols")
    @classmethod
    def _symbols(cls, value: str) -> str:
        symbols = [s.strip().upper() for s in value.split(",") if s.strip()]
        if not symbols:
            raise ValueError("must name at least one symbol, e.g. BTCUSDT,ETHUSDT")
        bad = [s for s in symbols if not s.endswith("USDT") or not s.isalnum()]
        if bad:
            raise ValueError(f"only USDT linear perpetuals are simulated: {', '.join(bad)}")
        return ",".join(dict.fromkeys(symbols))

    @field_validator("sim_demo_burst_interval_s")
    @classmethod
    def _interval(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not 0 < value[0] <= value[1]:
            raise ValueError("must be [min, max] seconds with 0 < min <= max")
        return value

    @model_validator(mode="after")
    def _distinct_ports(self) -> SimSettings:
        if self.simulator_mexc_port == self.simulator_port:
            raise ValueError("TITAN_SIM_MEXC_PORT must differ from TITAN_SIMULATOR_PORT (the Bybit face's)")
        return self

    def symbol_list(self) -> list[str]:
        return self.sim_symbols.split(",")
