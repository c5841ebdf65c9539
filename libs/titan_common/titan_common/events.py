"""Event types on `titan:events`, each with its one payload schema.

An `Event` (titan_common.messages) carries `event_type` and a `payload` dict; the dict is
`<Payload>.model_dump(mode="json")` of the schema below, so a consumer parses it back with
`parse_payload(event)`. Facts that change state (fills, trades, trips, arming, config)
are emitted with `ServiceRuntime.emit` (audited, then broadcast); frequent snapshots
(wallet, positions, traps) with `ServiceRuntime.broadcast` (broadcast only; their record
is their own table).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from titan_common.exchanges.types import ExecType, Wallet
from titan_common.messages import Dec, Event, Side, TimestampMs


class EventType(StrEnum):
    WALLET_UPDATE = "WALLET_UPDATE"  # execution, broadcast: the account's equity
    POSITION_UPDATE = "POSITION_UPDATE"  # execution, broadcast: one symbol's shadow position
    ORDER_FILLED = "ORDER_FILLED"  # execution, broadcast: one fill applied
    TRADE_CLOSED = "TRADE_CLOSED"  # execution, audited: a round trip finished
    EMERGENCY_FLATTEN = "EMERGENCY_FLATTEN"  # execution, audited: flatten-all finished
    ALERT = "ALERT"  # any service, audited: something an operator must see
    MASTER_ARM_CHANGE = "MASTER_ARM_CHANGE"  # console/brain, audited
    CIRCUIT_BREAKER_UPDATE = "CIRCUIT_BREAKER_UPDATE"  # brain, audited: trip, reset, cooldown end
    PHASE_CHANGE = "PHASE_CHANGE"  # brain, audited
    CONFIG_CHANGE = "CONFIG_CHANGE"  # console, audited: a new active config version
    TRAP_SPRUNG = "TRAP_SPRUNG"  # scavenger, audited
    TRAP_MAP_UPDATED = "TRAP_MAP_UPDATED"  # scavenger, broadcast
    SENSOR_STATUS_UPDATED = "SENSOR_STATUS_UPDATED"  # scavenger, broadcast
    MODE_CHANGE = "MODE_CHANGE"  # any service, audited: its mode and reason codes changed
    PROPOSAL_DECIDED = "PROPOSAL_DECIDED"  # console, audited: an AI Quant proposal approved or rejected


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WalletUpdate(_Payload):
    exchange: str
    equity: Dec
    wallet_balance: Dec
    available_balance: Dec
    unrealised_pnl: Dec
    initial_margin: Dec

    @classmethod
    def of(cls, exchange: str, wallet: Wallet) -> WalletUpdate:
        return cls(
            exchange=exchange,
            equity=wallet.equity,
            wallet_balance=wallet.wallet_balance,
            available_balance=wallet.available_balance,
            unrealised_pnl=wallet.unrealised_pnl,
            initial_margin=wallet.initial_margin,
        )


class PositionUpdate(_Payload):
    exchange: str
    symbol: str
    side: Side | None  # None when flat
    size: Dec
    avg_entry: Dec
    mark_price: Dec | None = None
    stop_loss: Dec | None = None
    take_profit: Dec | None = None
    unrealised_pnl: Dec | None = None
    realised_pnl: Dec
    fees: Dec


class OrderFilled(_Payload):
    exchange: str
    symbol: str
    side: Side
    qty: Dec
    price: Dec
    fee: Dec
    exec_id: str
    client_order_id: str | None
    ts_ms: TimestampMs


class TradeClosed(_Payload):
    exchange: str
    symbol: str
    side: Side  # the side of the entry
    qty: Dec
    entry_price: Dec
    exit_price: Dec
    pnl: Dec  # after fees
    fees: Dec
    r_multiple: Dec | None
    opened_ms: TimestampMs
    closed_ms: TimestampMs
    closed_by: ExecType = ExecType.TRADE  # LIQUIDATION when the venue closed it at its bust price


class CircuitBreakerUpdate(_Payload):
    active: bool
    level: str | None  # SOFT | HARD
    action: str  # TRIP | RESET | COOLDOWN_END
    reason: str
    until_ms: TimestampMs | None = None


class PhaseChange(_Payload):
    previous: Annotated[int, Field(ge=1, le=3)]
    phase: Annotated[int, Field(ge=1, le=3)]
    equity: Dec


class MasterArmChange(_Payload):
    master_arm: bool
    previous_state: bool
    reason: str = ""


class ConfigChange(_Payload):
    version_tag: str
    rolled_back_from: str | None = None


class ProposalDecided(_Payload):
    proposal_id: int
    status: str  # APPROVED | REJECTED
    version_tag: str | None = None  # the config version an approval made
    reason: str | None = None  # a rejection's


class TrapSprung(_Payload):
    """A trap fired and its signal went to titan:signals."""

    signal_id: str
    trap_id: str
    symbol: str
    side: Side
    trap_type: str
    trigger_price: Dec
    price: Dec  # the trade that sprang it
    entry_price: Dec
    stop_loss: Dec
    take_profits: tuple[Dec, ...]
    confidence: Dec
    leverage_hint: int
    expected_move_pct: Dec
    trades_in_window: int
    window_ms: int
    trade_ts_ms: TimestampMs
    ttl_ms: int


class TrapView(_Payload):
    """One trap of the map, with how far price is from its trigger now."""

    trap_id: str
    symbol: str
    trap_type: str
    side: Side
    trigger_price: Dec
    stop_loss: Dec
    take_profits: tuple[Dec, ...]
    confidence: Dec
    expected_move_pct: Dec
    quality: Dec
    price: Dec | None = None  # the latest trade (or the build-time price)
    distance_pct: Dec | None = None  # signed: positive when the trigger is above price
    proximity_pct: Dec | None = None  # |distance|
    in_zone: bool = False  # within the trigger's 0.1% zone
    cooldown_until_ms: TimestampMs | None = None
    detail: dict[str, float | str] = Field(default_factory=dict)


class TrapMapUpdated(_Payload):
    cycle_id: str
    built_ms: TimestampMs
    symbols: int
    traps: tuple[TrapView, ...]


class SensorStatusUpdated(_Payload):
    emitting: bool  # signals leave only when the service is NORMAL
    mode: str
    reasons: tuple[str, ...]
    stream: str  # STARTING | LIVE | DOWN
    last_data_age_ms: int | None
    stream_drops: int  # times the data went stale or the stream dropped since start
    symbols: tuple[str, ...]
    trades_seen: int
    traps: int
    trap_map_age_ms: int | None


PAYLOADS: dict[EventType, type[_Payload]] = {
    EventType.WALLET_UPDATE: WalletUpdate,
    EventType.POSITION_UPDATE: PositionUpdate,
    EventType.ORDER_FILLED: OrderFilled,
    EventType.TRADE_CLOSED: TradeClosed,
    EventType.CIRCUIT_BREAKER_UPDATE: CircuitBreakerUpdate,
    EventType.PHASE_CHANGE: PhaseChange,
    EventType.MASTER_ARM_CHANGE: MasterArmChange,
    EventType.CONFIG_CHANGE: ConfigChange,
    EventType.PROPOSAL_DECIDED: ProposalDecided,
    EventType.TRAP_SPRUNG: TrapSprung,
    EventType.TRAP_MAP_UPDATED: TrapMapUpdated,
    EventType.SENSOR_STATUS_UPDATED: SensorStatusUpdated,
}


def payload_of(payload: _Payload) -> dict[str, object]:
    return payload.model_dump(mode="json")


def parse_payload(event: Event) -> _Payload | None:
    """The typed payload of an event whose type has a schema here; None otherwise."""
    try:
        schema = PAYLOADS[EventType(event.event_type)]
    except (ValueError, KeyError):
        return None
    return schema.model_validate(event.payload)
