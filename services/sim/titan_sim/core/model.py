"""Domain types of the simulated venue: orders, executions, the order status table."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple

ZERO = Decimal(0)


class ExchangeError(Exception):
    """A business error that leaves the API as HTTP 200 with a non-zero retCode."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class Side(StrEnum):
    BUY = "Buy"
    SELL = "Sell"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(StrEnum):
    MARKET = "Market"
    LIMIT = "Limit"


class TimeInForce(StrEnum):
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"
    POST_ONLY = "PostOnly"


class OrderStatus(StrEnum):
    CREATED = "Created"  # internal: accepted, not yet processed; never shown
    NEW = "New"
    PARTIALLY_FILLED = "PartiallyFilled"
    UNTRIGGERED = "Untriggered"
    TRIGGERED = "Triggered"
    FILLED = "Filled"
    CANCELLED = "Cancelled"
    REJECTED = "Rejected"
    DEACTIVATED = "Deactivated"


# Every allowed move of an order's status. Anything else is a bug in the engine, so
# Order.transition raises instead of silently producing an impossible order history.
_LIVE = frozenset({OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED, OrderStatus.CANCELLED})
STATUS_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.CREATED: _LIVE | {OrderStatus.UNTRIGGERED, OrderStatus.REJECTED},
    OrderStatus.UNTRIGGERED: frozenset({OrderStatus.TRIGGERED, OrderStatus.DEACTIVATED, OrderStatus.REJECTED}),
    OrderStatus.TRIGGERED: _LIVE | {OrderStatus.REJECTED},
    OrderStatus.NEW: frozenset({OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED, OrderStatus.CANCELLED}),
    OrderStatus.PARTIALLY_FILLED: frozenset({OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED, OrderStatus.CANCELLED}),
    OrderStatus.FILLED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
    OrderStatus.REJECTED: frozenset(),
    OrderStatus.DEACTIVATED: frozenset(),
}
TERMINAL_STATUSES = frozenset(s for s, nxt in STATUS_TRANSITIONS.items() if not nxt)
OPEN_STATUSES = frozenset(
    {OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED, OrderStatus.UNTRIGGERED, OrderStatus.TRIGGERED}
)


class InvalidTransition(RuntimeError):
    pass


@dataclass
class Order:
    order_id: str
    order_link_id: str
    symbol: str
    side: Side
    order_type: OrderType
    qty: Decimal
    price: Decimal  # 0 for market orders
    time_in_force: TimeInForce
    created_ms: int
    seq: int  # creation order; pagination cursor and time priority
    reduce_only: bool = False
    close_on_trigger: bool = False
    trigger_price: Decimal = ZERO
    trigger_direction: int = 0  # 1: fires when price rises to trigger, 2: when it falls
    take_profit: Decimal = ZERO
    stop_loss: Decimal = ZERO
    tpsl_mode: str = ""
    stop_order_type: str = ""  # "TakeProfit"/"StopLoss" for position TP/SL, "Stop" for conditionals
    create_type: str = "CreateByUser"
    status: OrderStatus = OrderStatus.CREATED
    reject_reason: str = "EC_NoError"
    cancel_type: str = "UNKNOWN"
    cum_exec_qty: Decimal = ZERO
    cum_exec_value: Decimal = ZERO
    cum_exec_fee: Decimal = ZERO
    updated_ms: int = 0
    history: list[OrderStatus] = field(default_factory=list)

    @property
    def leaves_qty(self) -> Decimal:
        if self.status in TERMINAL_STATUSES:
            return ZERO
        return self.qty - self.cum_exec_qty

    @property
    def avg_price(self) -> Decimal:
        return self.cum_exec_value / self.cum_exec_qty if self.cum_exec_qty else ZERO

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def is_conditional(self) -> bool:
        return self.trigger_price > 0

    def transition(self, new: OrderStatus, now_ms: int) -> None:
        if new not in STATUS_TRANSITIONS[self.status]:
            raise InvalidTransition(f"order {self.order_id}: {self.status} -> {new} is not allowed")
        self.history.append(self.status)
        self.status = new
        self.updated_ms = now_ms


@dataclass(frozen=True)
class Execution:
    exec_id: str
    order_id: str
    order_link_id: str
    symbol: str
    side: Side
    exec_price: Decimal
    exec_qty: Decimal
    exec_value: Decimal
    exec_fee: Decimal  # positive: paid by the account
    fee_rate: Decimal
    exec_type: str  # Trade, Funding, BustTrade
    exec_time: int
    is_maker: bool
    closed_size: Decimal
    order_type: str
    order_price: Decimal
    order_qty: Decimal
    leaves_qty: Decimal
    seq: int
    stop_order_type: str = ""


class PublicTrade(NamedTuple):
    """One print on the tape. A tuple: bursts create tens of thousands per second."""

    trade_id: str
    symbol: str
    taker_side: Side
    price: Decimal
    size: Decimal
    time_ms: int
    tick_direction: str
    seq: int
    price_text: str  # formatted once with the instrument's tick size
    size_text: str


@dataclass(frozen=True)
class FundingRecord:
    symbol: str
    rate: Decimal
    time_ms: int
