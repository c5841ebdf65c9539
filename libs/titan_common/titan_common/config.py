"""The operators' trading configuration: one schema, versioned in `config_versions`.

The console writes versions (every save and every rollback appends one); the newest row
is active. Services read it at start and again when a `CONFIG_CHANGED` control message
arrives on `titan:control`, so a change applies live without a restart.

Fractions are fractions (0.02 is 2%). Operators type them as JSON numbers, so floats are
accepted here, converted through their shortest decimal text (0.02 -> Decimal("0.02")).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from titan_common.clock import now_ms
from titan_common.db.models import ConfigVersion


def _decimal_from_number(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    return value


Fraction = Annotated[Decimal, BeforeValidator(_decimal_from_number)]

DEFAULT_WHITELIST = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT")
# every venue Titan has an adapter for takes the whole allocation unless the operator splits it
DEFAULT_VENUE_SHARES = {"bybit": Decimal(1), "mexc": Decimal(1)}


class _Config(BaseModel):
    # A field with a wire name (an alias) is read by either name and written by its alias:
    # the stored versions, the API and the dotted diff paths all use the wire names.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, serialize_by_alias=True)


class RiskTuner(_Config):
    """The operator manual's three knobs; bounds are the manual's."""

    # Wire names are the manual's camelCase (its curl bodies, the stored versions, diff
    # paths such as risk_tuner.maxLeverage); Python uses the snake_case names.

    max_risk_per_trade: Annotated[Fraction, Field(ge=Decimal("0.01"), le=Decimal("0.05"), alias="maxRiskPerTrade")] = (
        Decimal("0.02")
    )
    max_daily_drawdown: Annotated[Fraction, Field(ge=Decimal("0.03"), le=Decimal("0.10"), alias="maxDailyDrawdown")] = (
        Decimal("0.07")
    )
    max_leverage: Annotated[int, Field(ge=5, le=50, alias="maxLeverage")] = 20


class PhaseConfig(_Config):
    phase: Annotated[int, Field(ge=1, le=3)]
    enter_at_equity: Annotated[Fraction, Field(ge=0)]  # USD; phase 1 enters at 0
    leave_below_equity: Annotated[Fraction, Field(ge=0)]  # USD; falling below drops a phase
    risk_pct: Fraction
    risk_pct_min: Fraction
    risk_pct_max: Fraction
    max_leverage: Annotated[int, Field(ge=1, le=100)]
    allocation_weight: Annotated[Fraction, Field(gt=0, le=1)] = Decimal(1)  # share of equity this phase may use

    @model_validator(mode="after")
    def _risk_within_its_range(self) -> PhaseConfig:
        if not self.risk_pct_min <= self.risk_pct <= self.risk_pct_max:
            raise ValueError(
                f"phase {self.phase} risk_pct {self.risk_pct} is outside {self.risk_pct_min}-{self.risk_pct_max}"
            )
        return self


DEFAULT_PHASES = (
    PhaseConfig(
        phase=1, enter_at_equity=Decimal(0), leave_below_equity=Decimal(0),
        risk_pct=Decimal("0.02"), risk_pct_min=Decimal("0.01"), risk_pct_max=Decimal("0.03"), max_leverage=20,
    ),
    PhaseConfig(
        phase=2, enter_at_equity=Decimal(5000), leave_below_equity=Decimal(2500),
        risk_pct=Decimal("0.015"), risk_pct_min=Decimal("0.01"), risk_pct_max=Decimal("0.025"), max_leverage=5,
    ),
    PhaseConfig(
        phase=3, enter_at_equity=Decimal(50000), leave_below_equity=Decimal(25000),
        risk_pct=Decimal("0.01"), risk_pct_min=Decimal("0.01"), risk_pct_max=Decimal("0.01"), max_leverage=2,
    ),
)  # fmt: skip


class BreakerConfig(_Config):
    # the soft trip's drawdown is risk_tuner.max_daily_drawdown
    hard_drawdown: Annotated[Fraction, Field(gt=0, le=Decimal("0.5"))] = Decimal("0.15")
    consecutive_losses: Annotated[int, Field(ge=1)] = 3
    volatility_symbol: str = "BTCUSDT"
    volatility_window_ms: Annotated[int, Field(gt=0)] = 5 * 60_000
    volatility_return: Annotated[Fraction, Field(gt=0)] = Decimal("0.05")
    cooldown_ms: Annotated[int, Field(ge=0)] = 4 * 3600_000


class TradingConfig(_Config):
    risk_tuner: RiskTuner = RiskTuner()
    asset_whitelist: tuple[str, ...] = DEFAULT_WHITELIST
    phases: tuple[PhaseConfig, PhaseConfig, PhaseConfig] = DEFAULT_PHASES
    breaker: BreakerConfig = BreakerConfig()
    max_open_positions: Annotated[int, Field(ge=1, le=50)] = 3
    # one position's margin (notional / leverage) as a share of equity
    max_position_pct: Annotated[Fraction, Field(gt=0, le=1)] = Decimal("0.5")
    correlation_threshold: Annotated[Fraction, Field(gt=0, le=1)] = Decimal("0.8")
    taker_fee_rate: Annotated[Fraction, Field(ge=0, le=Decimal("0.01"))] = Decimal("0.00055")
    # the price a market entry or a stop exit may lose beyond its reference, as a fraction
    slippage_allowance: Annotated[Fraction, Field(ge=0, le=Decimal("0.01"))] = Decimal("0.0005")
    min_edge_fee_multiple: Annotated[Fraction, Field(ge=0)] = Decimal(2)
    # fees and slippage at the stop may be at most this share of the loss at the stop
    max_cost_share: Annotated[Fraction, Field(gt=0, le=1)] = Decimal("0.5")
    # each venue's share of the allocation: a position's margin on a venue may use at most
    # share x the phase's allocation weight x equity. A ceiling per venue, not a split (set
    # bybit 0.6 and mexc 0.4 to split). A venue not listed, or at 0, takes no entries
    # (VENUE_NOT_ENABLED); TITAN_VENUES still decides which venues run at all.
    venue_shares: dict[str, Annotated[Fraction, Field(ge=0, le=1)]] = Field(
        default_factory=lambda: dict(DEFAULT_VENUE_SHARES)
    )

    @model_validator(mode="after")
    def _phases_in_order(self) -> TradingConfig:
        if [p.phase for p in self.phases] != [1, 2, 3]:
            raise ValueError("phases must be listed as 1, 2, 3")
        return self

    def phase(self, number: int) -> PhaseConfig:
        return self.phases[number - 1]

    def venue_share(self, venue: str) -> Decimal:
        return self.venue_shares.get(venue, Decimal(0))


@dataclass(frozen=True)
class ActiveConfig:
    version_tag: str
    config: TradingConfig
    created_ms: int
    operator_id: str


DEFAULT_TAG = "default"
CONFIG_LOCK_KEY = 7_431_007  # pg advisory lock: one config writer at a time, across processes


def version_tag_for(ts_ms: int) -> str:
    """The manual's tag format: an ISO-8601 UTC instant, e.g. 2024-12-13T10:30:00Z."""
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def active_config(session: AsyncSession) -> ActiveConfig:
    """The newest version, or the defaults (tag `default`) when none was ever saved."""
    row = await session.scalar(select(ConfigVersion).order_by(ConfigVersion.id.desc()).limit(1))
    if row is None:
        return ActiveConfig(DEFAULT_TAG, TradingConfig(), 0, "system")
    return ActiveConfig(row.version_tag, TradingConfig.model_validate(row.config), row.created_ms, row.operator_id)


async def config_version(session: AsyncSession, tag: str) -> TradingConfig | None:
    """The version saved under `tag`, or None."""
    stored = await session.scalar(select(ConfigVersion.config).where(ConfigVersion.version_tag == tag))
    return None if stored is None else TradingConfig.model_validate(stored)


async def save_config(
    session: AsyncSession,
    config: TradingConfig,
    *,
    operator_id: str,
    comment: str = "",
    rolled_back_from: str | None = None,
) -> ConfigVersion:
    """Append a version (in the caller's transaction); it becomes the active one."""
    ts = now_ms()
    tag = version_tag_for(ts)
    if await session.scalar(select(ConfigVersion.id).where(ConfigVersion.version_tag == tag)) is not None:
        tag = tag[:-1] + f".{ts % 1000:03d}Z"  # two saves in one second keep distinct tags
    row = ConfigVersion(
        version_tag=tag,
        config=config.model_dump(mode="json", by_alias=True),
        created_ms=ts,
        operator_id=operator_id,
        comment=comment,
        rolled_back_from=rolled_back_from,
    )
    session.add(row)
    await session.flush()
    return row


# --- diffs (the console's versions, AI Quant's proposals, titan config drift) -------


def flatten_document(document: Any, prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}, "c": [x, y]} -> {"a.b": 1, "c": [x, y]} (lists of scalars stay whole)."""
    flat: dict[str, Any] = {}
    if isinstance(document, Mapping):
        for key, value in document.items():
            flat.update(flatten_document(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(document, list | tuple) and any(isinstance(v, Mapping) for v in document):
        for index, value in enumerate(document):
            flat.update(flatten_document(value, f"{prefix}.{index}"))
    else:
        flat[prefix] = list(document) if isinstance(document, list | tuple) else document
    return flat


def config_diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Changed leaves between two config documents (their JSON form), in path order."""
    old, new = flatten_document(before), flatten_document(after)
    return [
        {"path": path, "before": old.get(path), "after": new.get(path)}
        for path in sorted(set(old) | set(new))
        if old.get(path) != new.get(path)
    ]
