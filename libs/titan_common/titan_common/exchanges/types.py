"""Venue-neutral types every adapter speaks. Money is Decimal, time is UTC ms."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal, NamedTuple, TypedDict

from titan_common.messages import OrderType, Side

__all__ = [
    "DuplicateClientOrderId",
    "ExchangeError",
    "ExchangeOrder",
    "ExchangePosition",
    "ExecType",
    "Execution",
    "FundingRate",
    "InstrumentFilters",
    "Kline",
    "LiveBar",
    "NotModified",
    "NotSent",
    "OpenInterest",
    "OrderAck",
    "OrderChanges",
    "OrderNotFound",
    "OrderRejected",
    "OrderStatus",
    "OutcomeUnknown",
    "PlaceOrder",
    "PrivateEvent",
    "PublicEvent",
    "PublicTrade",
    "RateLimited",
    "RestAccess",
    "Ticker",
    "TickerUpdate",
    "TimeInForce",
    "TimestampRejected",
    "Wallet",
]


class OrderStatus(StrEnum):
    """Where an order stands, in Titan's words; each venue maps its own names into these."""

    NEW = "NEW"  # accepted: resting, or about to match
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELLED = "CANCELLED"  # cancelled or expired, possibly after a partial fill (see cum_exec_qty)
    REJECTED = "REJECTED"
    UNTRIGGERED = "UNTRIGGERED"  # a conditional order waiting for its trigger
    TRIGGERED = "TRIGGERED"  # a conditional order triggered, not yet matched
    DEACTIVATED = "DEACTIVATED"  # a conditional order cancelled before it triggered
    UNKNOWN = "UNKNOWN"  # a name the venue's folder does not know: never moves an intent

    @property
    def is_open(self) -> bool:
        return self in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED, OrderStatus.UNTRIGGERED, OrderStatus.TRIGGERED)


class TimeInForce(StrEnum):
    GTC = "GTC"  # good till cancelled
    IOC = "IOC"  # immediate or cancel
    FOK = "FOK"  # fill or kill
    POST_ONLY = "POST_ONLY"  # maker only: refused rather than matched at once


class ExecType(StrEnum):
    """What an execution was, in Titan's words; each venue maps its own names into these."""

    TRADE = "TRADE"  # an order of the account matched
    FUNDING = "FUNDING"  # a funding charge or credit: a fee, the position is unchanged
    LIQUIDATION = "LIQUIDATION"  # the venue closed the position at its bust price
    ADL = "ADL"  # auto-deleveraging: the venue reduced the position against a bankrupt one
    DELIVERY = "DELIVERY"  # a dated contract delivered
    SETTLEMENT = "SETTLEMENT"  # a contract settled
    BLOCK_TRADE = "BLOCK_TRADE"  # an off-book trade of the account
    MOVE_POSITION = "MOVE_POSITION"  # a position moved between accounts
    OTHER = "OTHER"  # a name the venue's folder does not know: treated as changing the position

    @property
    def changes_position(self) -> bool:
        return self is not ExecType.FUNDING

    @property
    def by_venue(self) -> bool:
        """The venue itself took the position down (the account's own orders did not)."""
        return self in (ExecType.LIQUIDATION, ExecType.ADL)


@dataclass(frozen=True)
class InstrumentFilters:
    symbol: str
    tick_size: Decimal
    qty_step: Decimal
    min_qty: Decimal
    max_qty: Decimal
    min_notional: Decimal
    max_market_qty: Decimal | None = None
    min_leverage: int = 1
    max_leverage: int = 100
    trading: bool = True


@dataclass(frozen=True)
class Wallet:
    equity: Decimal
    wallet_balance: Decimal
    available_balance: Decimal
    unrealised_pnl: Decimal
    initial_margin: Decimal


@dataclass(frozen=True)
class ExchangePosition:
    symbol: str
    side: Side | None  # None when flat
    size: Decimal
    avg_price: Decimal
    mark_price: Decimal | None
    leverage: Decimal | None
    stop_loss: Decimal | None
    take_profit: Decimal | None
    unrealised_pnl: Decimal
    cum_realised_pnl: Decimal
    updated_ms: int


@dataclass(frozen=True)
class ExchangeOrder:
    order_id: str
    client_order_id: str | None
    symbol: str
    side: Side
    order_type: str
    qty: Decimal
    price: Decimal | None
    status: OrderStatus
    avg_price: Decimal | None
    cum_exec_qty: Decimal
    leaves_qty: Decimal
    reduce_only: bool
    stop_loss: Decimal | None
    take_profit: Decimal | None
    trigger_price: Decimal | None
    created_ms: int
    updated_ms: int
    reject_reason: str | None = None


@dataclass(frozen=True)
class Execution:
    exec_id: str
    order_id: str
    client_order_id: str | None
    symbol: str
    side: Side
    price: Decimal
    qty: Decimal
    fee: Decimal
    exec_type: ExecType
    is_maker: bool
    ts_ms: int
    # the fee as the venue charged it when that is not the quote coin `fee` is counted in: a
    # spot venue may take it from the coin bought, so the account holds that much less of it
    fee_asset: str | None = None
    fee_qty: Decimal | None = None


@dataclass(frozen=True)
class PlaceOrder:
    symbol: str
    side: Side
    qty: Decimal
    client_order_id: str
    order_type: OrderType = OrderType.MARKET
    price: Decimal | None = None
    time_in_force: TimeInForce | None = None
    reduce_only: bool = False
    close_on_trigger: bool = False
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    trigger_price: Decimal | None = None
    trigger_direction: Literal[1, 2] | None = None


@dataclass(frozen=True)
class RestAccess:
    """How an adapter reaches its venue's REST API; each venue's adapter config extends it."""

    endpoint: str  # the simulator's face for the venue, or the venue's own URL
    api_key: str
    api_secret: str
    recv_window: int = 5000
    timeout_s: int = 10


class OrderChanges(TypedDict, total=False):
    """What `amend_order` may change on an open order (only what is given, and not None)."""

    qty: Decimal | None
    price: Decimal | None
    stop_loss: Decimal | None
    take_profit: Decimal | None


@dataclass(frozen=True)
class OrderAck:
    order_id: str
    client_order_id: str


@dataclass(frozen=True)
class Kline:
    """One candle; `start_ms` opens it. Lists of klines are oldest first."""

    start_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    turnover: Decimal


@dataclass(frozen=True)
class Ticker:
    symbol: str
    last_price: Decimal
    mark_price: Decimal | None
    index_price: Decimal | None  # None when the venue gives none
    turnover_24h: Decimal
    volume_24h: Decimal
    high_24h: Decimal | None
    low_24h: Decimal | None
    funding_rate: Decimal | None
    next_funding_ms: int | None
    open_interest: Decimal | None


@dataclass(frozen=True)
class FundingRate:
    symbol: str
    rate: Decimal
    ts_ms: int  # when it settled


@dataclass(frozen=True)
class OpenInterest:
    symbol: str
    open_interest: Decimal  # in contracts (base coin)
    ts_ms: int


@dataclass(frozen=True)
class PrivateEvent:
    topic: Literal["order", "execution", "position", "wallet"]
    orders: tuple[ExchangeOrder, ...] = ()
    executions: tuple[Execution, ...] = ()
    positions: tuple[ExchangePosition, ...] = ()
    wallet: Wallet | None = None


class PublicTrade(NamedTuple):
    """One trade on the public tape (floats: the scavenger's hot path reads thousands a second)."""

    ts_ms: int
    taker_buy: bool  # the aggressor bought
    price: float


class TickerUpdate(NamedTuple):
    """A symbol's ticker as the stream has it now; None where the venue did not say."""

    last_price: float | None
    mark_price: float | None
    index_price: float | None
    funding_rate: float | None
    open_interest: float | None


class LiveBar(NamedTuple):
    """A kline from the stream: the bar in progress, or the one that just closed."""

    start_ms: int
    open: float
    high: float
    low: float
    close: float
    volume: float


@dataclass(frozen=True)
class PublicEvent:
    """One public-stream message in Titan's words: `data` is a list of PublicTrade (trade), a
    TickerUpdate (ticker), a list of LiveBar (kline), or the venue's book payload (orderbook)."""

    topic: str  # the venue's topic, for logs
    kind: Literal["trade", "ticker", "kline", "orderbook"]
    symbol: str
    ts_ms: int
    data: Any = field(default=None)


# --- errors: what a caller can conclude -------------------------------------------------


class ExchangeError(Exception):
    """Any venue failure. `code` is the venue's error code when it gave one."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class OutcomeUnknown(ExchangeError):
    """Timeout, dropped connection, 5xx: the request may or may not have taken effect."""


class RateLimited(ExchangeError):
    def __init__(self, message: str, code: int | None = None, reset_ms: int | None = None) -> None:
        super().__init__(message, code)
        self.reset_ms = reset_ms


class NotSent(RateLimited):
    """Refused by Titan's own rate limiter before anything left the process (the venue had
    blocked the endpoint until `reset_ms`): certainly not on the venue."""


class TimestampRejected(ExchangeError):
    """The venue refused our clock (recv_window): re-sync time before retrying."""


class OrderNotFound(ExchangeError):
    pass


class DuplicateClientOrderId(ExchangeError):
    """The venue already has an order with this client id: the earlier send arrived."""


class NotModified(ExchangeError):
    """Leverage or TP/SL already at the requested value: harmless."""


class OrderRejected(ExchangeError):
    """A definitive business refusal (insufficient balance, min notional, bad params)."""
