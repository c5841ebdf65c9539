"""One schema per message on the bus.

Rules every message follows:
- extra fields are forbidden and types are strict (no silent float -> Decimal);
- money and quantities are Decimal in code and strings in JSON;
- time is integer UTC milliseconds (`ts_ms`);
- every message carries the correlation envelope.
"""

from __future__ import annotations

import re
import uuid
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict, field_validator, model_validator

from titan_common.reasons import ReasonCode

# Bybit orderLinkId: at most 36 characters of [A-Za-z0-9_-].
CLIENT_ORDER_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,36}$")


def _reject_float(value: Any) -> Any:
    # A JSON number with a fraction arrives as a float and has already lost precision.
    if isinstance(value, float):
        raise ValueError("decimal values must be sent as strings, not floating-point numbers")
    return value


Dec = Annotated[Decimal, Strict(False), BeforeValidator(_reject_float)]
PositiveDecimal = Annotated[Dec, Field(gt=0)]
NonNegativeDecimal = Annotated[Dec, Field(ge=0)]
TimestampMs = Annotated[int, Field(ge=0)]
# a venue by its registry name (bybit, mexc): every message about an order names its venue
VenueName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
DEFAULT_VENUE = "bybit"  # what a message from before venues were named meant


def new_id() -> str:
    """A fresh 32-hex-character id."""
    return uuid.uuid4().hex


def client_order_id_for(intent_id: str) -> str:
    """The exchange client id of an intent. Deterministic, so one intent can never get two ids."""
    cid = f"t-{intent_id}"[:36]
    if not CLIENT_ORDER_ID_RE.match(cid):
        raise ValueError(f"intent id {intent_id!r} cannot form a valid orderLinkId")
    return cid


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Side(StrEnum):
    BUY = "Buy"
    SELL = "Sell"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class Correlation(_Strict):
    """Ids that tie a signal to its decision, intent, orders and fills across services."""

    run_id: str
    cycle_id: str | None = None
    signal_id: str | None = None
    decision_id: str | None = None
    order_intent_id: str | None = None


class Signal(_Strict):
    """A trade idea from the scavenger (stream `titan:signals`)."""

    signal_id: str
    ts_ms: TimestampMs
    correlation: Correlation
    source: str
    exchange: VenueName = DEFAULT_VENUE  # the venue whose market sprang the trap, and where to trade it
    symbol: str
    side: Side
    trap_type: str
    entry_price: PositiveDecimal
    entry_low: PositiveDecimal
    entry_high: PositiveDecimal
    stop_loss: PositiveDecimal
    take_profits: tuple[PositiveDecimal, ...] = ()
    confidence: Annotated[Dec, Field(ge=0, le=1)]
    leverage_hint: Annotated[int, Field(ge=1, le=100)] = 1
    # the expected move as a fraction of entry (0.015 = 1.5%), like every *_pct on the bus
    expected_move_pct: NonNegativeDecimal | None = None
    ttl_ms: Annotated[int, Field(gt=0)]

    @model_validator(mode="after")
    def _entry_zone_is_ordered(self) -> Signal:
        if not self.entry_low <= self.entry_price <= self.entry_high:
            raise ValueError("entry_price must lie within [entry_low, entry_high]")
        return self

    def expires_at_ms(self) -> int:
        return self.ts_ms + self.ttl_ms


class Verdict(StrEnum):
    APPROVE = "APPROVE"
    VETO = "VETO"


class Decision(_Strict):
    """The brain's answer to one signal. An approval carries the sized order."""

    decision_id: str
    signal_id: str
    ts_ms: TimestampMs
    correlation: Correlation
    verdict: Verdict
    reasons: tuple[ReasonCode, ...] = ()
    exchange: VenueName = DEFAULT_VENUE
    symbol: str
    side: Side
    qty: NonNegativeDecimal = Decimal(0)
    leverage: Annotated[int, Field(ge=0, le=100)] = 0
    risk_usd: NonNegativeDecimal = Decimal(0)
    entry_price: PositiveDecimal | None = None
    stop_loss: PositiveDecimal | None = None
    take_profit: PositiveDecimal | None = None
    phase: Annotated[int, Field(ge=1, le=3)] | None = None
    # an approval's costs: taker fees of the entry and of an exit at the stop, and the loss
    # at the stop with fees and slippage (risk_usd is the price part alone); None on a veto
    expected_fees_usd: NonNegativeDecimal | None = None
    risk_with_costs_usd: NonNegativeDecimal | None = None

    @model_validator(mode="after")
    def _approval_is_complete(self) -> Decision:
        if self.verdict is Verdict.APPROVE and (self.qty <= 0 or self.stop_loss is None):
            raise ValueError("an approval needs qty > 0 and a stop_loss")
        if self.verdict is Verdict.VETO and not self.reasons:
            raise ValueError("a veto needs at least one reason code")
        return self


class OrderType(StrEnum):
    MARKET = "Market"
    LIMIT = "Limit"


class IntentKind(StrEnum):
    ENTRY = "ENTRY"
    EXIT = "EXIT"  # reduce-only: closes (part of) a position; passes in any mode but EXIT, armed or not


class IntentState(StrEnum):
    """Where an order intent stands (order_intents.state). The transitions between them are
    execution's (titan_execution.core.intent_states); every service names them from here."""

    CREATED = "CREATED"
    SENT_UNKNOWN = "SENT_UNKNOWN"
    CONFIRMED = "CONFIRMED"
    NOT_FOUND = "NOT_FOUND"
    FAILED_TERMINAL = "FAILED_TERMINAL"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"


class OrderIntent(_Strict):
    """An order execution must place (stream `titan:intents`)."""

    intent_id: str
    client_order_id: str
    ts_ms: TimestampMs
    correlation: Correlation
    kind: IntentKind = IntentKind.ENTRY
    exchange: VenueName = DEFAULT_VENUE  # the venue account that places it (one execution per venue)
    symbol: str
    side: Side
    order_type: OrderType = OrderType.MARKET
    qty: PositiveDecimal
    price: PositiveDecimal | None = None
    # the expected entry of a market order (the signal's), for the minimum-notional check
    reference_price: PositiveDecimal | None = None
    stop_loss: PositiveDecimal | None = None
    take_profit: PositiveDecimal | None = None
    leverage: Annotated[int, Field(ge=1, le=100)] = 1
    reduce_only: bool = False
    ttl_ms: Annotated[int, Field(gt=0)]
    # why an exit exists (FLATTEN_ALL, OPERATOR_CLOSE, PROTECTION_FAILED, AIGATE_EXIT...) and who
    # asked for it; both go into its audit rows
    origin: Annotated[str, Field(max_length=32)] | None = None
    operator_id: Annotated[str, Field(max_length=64)] | None = None

    @field_validator("client_order_id")
    @classmethod
    def _valid_link_id(cls, value: str) -> str:
        if not CLIENT_ORDER_ID_RE.match(value):
            raise ValueError("client_order_id must be 1-36 characters of [A-Za-z0-9_-]")
        return value

    @model_validator(mode="after")
    def _entries_are_protected(self) -> OrderIntent:
        if self.client_order_id != client_order_id_for(self.intent_id):
            raise ValueError("client_order_id must be derived from intent_id")
        if self.kind is IntentKind.ENTRY and self.stop_loss is None:
            raise ValueError("an entry intent must carry a stop_loss")
        if self.order_type is OrderType.LIMIT and self.price is None:
            raise ValueError("a limit intent needs a price")
        return self

    def expires_at_ms(self) -> int:
        return self.ts_ms + self.ttl_ms


class Severity(StrEnum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"
    CRITICAL = "CRITICAL"


class Event(_Strict):
    """A state change or fact, broadcast on `titan:events` and written to the audit trail."""

    event_id: str = Field(default_factory=new_id)
    ts_ms: TimestampMs
    service: str
    event_type: str
    severity: Severity = Severity.INFO
    reason_code: ReasonCode | None = None
    stage: str | None = None
    correlation: Correlation | None = None
    operator_id: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)


class ControlCommand(StrEnum):
    ARM = "ARM"
    DISARM = "DISARM"
    PAUSE = "PAUSE"
    RESUME = "RESUME"
    KILL_SWITCH = "KILL_SWITCH"
    CONFIG_CHANGED = "CONFIG_CHANGED"


class Control(_Strict):
    """An operator or system command broadcast on `titan:control`."""

    control_id: str = Field(default_factory=new_id)
    ts_ms: TimestampMs
    command: ControlCommand
    operator_id: str
    reason: str = ""
    target: Literal["all", "brain", "execution", "console", "scavenger"] = "all"


def exit_intent(
    symbol: str,
    position_side: Side,
    qty: Decimal,
    *,
    correlation: Correlation,
    origin: str,
    exchange: str = DEFAULT_VENUE,
    operator_id: str | None = None,
    reference_price: Decimal | None = None,
    ts_ms: int,
    ttl_ms: int = 60_000,
) -> OrderIntent:
    """A reduce-only market close of `qty` of a position on `position_side`: how every exit
    (flatten, operator close, protective close, the AI gate's exit) enters the one door."""
    intent_id = new_id()
    return OrderIntent(
        intent_id=intent_id,
        client_order_id=client_order_id_for(intent_id),
        ts_ms=ts_ms,
        correlation=correlation.model_copy(update={"order_intent_id": intent_id}),
        kind=IntentKind.EXIT,
        exchange=exchange,
        symbol=symbol,
        side=position_side.opposite,
        qty=qty,
        reference_price=reference_price,
        reduce_only=True,
        ttl_ms=ttl_ms,
        origin=origin,
        operator_id=operator_id,
    )
