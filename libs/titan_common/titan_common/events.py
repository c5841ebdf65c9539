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

from titan_common.exchanges.types import Wallet
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


PAYLOADS: dict[EventType, type[_Payload]] = {
    EventType.WALLET_UPDATE: WalletUpdate,
    EventType.POSITION_UPDATE: PositionUpdate,
    EventType.ORDER_FILLED: OrderFilled,
    EventType.TRADE_CLOSED: TradeClosed,
    EventType.CIRCUIT_BREAKER_UPDATE: CircuitBreakerUpdate,
    EventType.PHASE_CHANGE: PhaseChange,
    EventType.MASTER_ARM_CHANGE: MasterArmChange,
    EventType.CONFIG_CHANGE: ConfigChange,
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
