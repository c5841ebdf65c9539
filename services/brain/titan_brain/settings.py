"""The brain's one settings object.

Risk limits (phases, the risk tuner, the whitelist, the breaker, max open positions) are
NOT here: they are the operators' trading config, versioned in Postgres and reloaded on
CONFIG_CHANGED. These are the brain's own knobs.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode

from titan_common.heartbeats import TRADING_SERVICES
from titan_common.settings import ServiceSettings, SystemMode


class BrainSettings(ServiceSettings):
    # `exchange` (CommonSettings): the primary venue's account, whose wallet makes the NAV
    # --- the signal consumer ---
    consumer_group: str = "brain"
    batch_size: Annotated[int, Field(ge=1, le=1000)] = 200
    block_ms: Annotated[int, Field(ge=10, le=5000)] = 200
    claim_idle_ms: Annotated[int, Field(ge=100)] = 30_000
    # batches in flight: each decided in turn, one's commit overlapping the next one's decisions
    signal_workers: Annotated[int, Field(ge=1, le=8)] = 3
    # whose heartbeats make the system mode that gates approvals ("brain" is this process)
    mode_services: Annotated[tuple[str, ...], NoDecode] = TRADING_SERVICES

    # --- NAV ---
    # equity older than this is unknown: entries are vetoed with EQUITY_UNKNOWN
    equity_max_age_s: Annotated[float, Field(gt=0)] = 60.0
    # ask execution's GET /wallet when no wallet report arrived for this long
    wallet_poll_s: Annotated[float, Field(gt=0)] = 10.0
    snapshot_interval_s: Annotated[float, Field(gt=0)] = 60.0
    # the treasury's spot side: Titan trades futures only; operators declare swept profit here
    spot_wallet_usd: Decimal = Decimal(0)
    total_swept_usd: Decimal = Decimal(0)

    # --- performance modifier (7-day per-trade Sharpe) ---
    sharpe_window_days: Annotated[int, Field(ge=1)] = 7
    sharpe_min_trades: Annotated[int, Field(ge=2)] = 10
    sharpe_low: float = 0.0
    sharpe_high: float = 2.0
    modifier_low: Annotated[Decimal, Field(gt=0)] = Decimal("0.5")
    modifier_high: Annotated[Decimal, Field(gt=0)] = Decimal("1.2")

    # --- market data (public endpoints only: instruments, last prices) ---
    market_data: bool = True
    # the same variable execution reads: the simulator in PAPER, Bybit otherwise
    bybit_endpoint: str = "http://127.0.0.1:9100"
    market_poll_s: Annotated[float, Field(gt=0)] = 5.0
    market_samples: Annotated[int, Field(ge=12)] = 120  # per symbol: 10 min at 5 s
    default_min_notional: Annotated[Decimal, Field(ge=0)] = Decimal(5)

    # an approved entry counts as a position until execution reports it, or this long after
    # its intent expired
    pending_grace_ms: Annotated[int, Field(ge=0)] = 30_000
    dashboard_cache_s: Annotated[float, Field(ge=0, le=1)] = 1.0

    # --- AI gate ---
    ai_gate_provider: Literal["off", "rules", "openai"] = "off"
    # any OpenAI-compatible chat-completions URL (OpenAI, Groq, Gemini's compatible endpoint)
    ai_gate_url: str = "https://api.openai.com/v1/chat/completions"
    ai_gate_model: str = "gpt-4o-mini"
    ai_gate_api_key: SecretStr = SecretStr("")
    ai_gate_timeout_s: Annotated[float, Field(gt=0, le=60)] = 3.0
    # AI_DEC=2 makes the gate mandatory in LIVE: a failure blocks and pauses
    ai_dec: Annotated[int, Field(ge=0, le=2)] = Field(
        default=0, validation_alias=AliasChoices("AI_DEC", "TITAN_AI_DEC")
    )
    ai_rules_block_below: Annotated[Decimal, Field(ge=0, le=1)] = Decimal("0.5")
    ai_rules_reduce_below: Annotated[Decimal, Field(ge=0, le=1)] = Decimal("0.65")

    @model_validator(mode="after")
    def _mandatory_gate_has_a_provider(self) -> BrainSettings:
        # the gate is mandatory and fail-closed in LIVE with AI_DEC=2: never silently off
        if self.system_mode is SystemMode.LIVE and self.ai_dec >= 2 and self.ai_gate_provider == "off":
            raise ValueError(
                "LIVE refused: AI_DEC=2 makes the AI gate mandatory but TITAN_AI_GATE_PROVIDER is off; "
                "set it to rules or openai (or lower AI_DEC)"
            )
        return self

    @field_validator("mode_services", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        # TITAN_MODE_SERVICES=brain,execution (a JSON list works too)
        if isinstance(value, str):
            return tuple(name.strip(' "') for name in value.strip("[] ").split(",") if name.strip(' "'))
        return value
