"""Typed requests to the perpetual venue: what a face parsed off the wire, in domain terms.

A face (the Bybit REST and WebSocket routes) turns the client's fields into these; the core
checks them against the venue's state. An empty string means "not given" for ids and symbols,
None for numbers that may be left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from titan_sim.core.model import ZERO, OrderType, Side, TimeInForce


@dataclass(frozen=True)
class PlaceOrder:
    symbol: str
    side: Side
    order_type: OrderType
    qty: Decimal
    price: Decimal = ZERO  # a limit order's; a market order has none
    time_in_force: TimeInForce | None = None  # None: GTC; a market order is always IOC
    position_idx: int = 0  # one-way mode knows only 0
    order_link_id: str = ""
    reduce_only: bool = False
    close_on_trigger: bool = False
    trigger_price: Decimal = ZERO  # > 0: a conditional order
    trigger_direction: int = 0  # 1 rises to the trigger, 2 falls to it, else from the last price
    take_profit: Decimal = ZERO
    stop_loss: Decimal = ZERO
    tpsl_mode: str = ""  # "" becomes Full when a take-profit or stop-loss is attached


@dataclass(frozen=True)
class OrderRef:
    """One order, by the venue's id or the client's link id (a symbol, if given, must match)."""

    order_id: str = ""
    order_link_id: str = ""
    symbol: str = ""


@dataclass(frozen=True)
class AmendOrder:
    ref: OrderRef
    qty: Decimal | None = None
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    take_profit: Decimal | None = None
    stop_loss: Decimal | None = None


@dataclass(frozen=True)
class CancelAll:
    symbol: str = ""  # "": every symbol


@dataclass(frozen=True)
class SetLeverage:
    symbol: str
    buy_leverage: Decimal
    sell_leverage: Decimal


@dataclass(frozen=True)
class TradingStop:
    """The position's take-profit, stop-loss and trailing stop; None leaves one as it is."""

    symbol: str
    position_idx: int = 0
    take_profit: Decimal | None = None
    stop_loss: Decimal | None = None
    trailing_stop: Decimal | None = None


@dataclass(frozen=True)
class OrderQuery:
    limit: int
    open_only: bool = False
    symbol: str | None = None
    order_id: str | None = None
    link_id: str | None = None
    start_ms: int | None = None
    end_ms: int | None = None
    status: str | None = None  # a status name as the client gave it: one no order has matches none
    stop_only: bool = False
    cursor: int | None = None  # the seq of the last order of the previous page


@dataclass(frozen=True)
class ExecutionQuery:
    limit: int
    symbol: str | None = None
    order_id: str | None = None
    link_id: str | None = None
    exec_type: str | None = None
    start_ms: int | None = None
    end_ms: int | None = None
    cursor: int | None = None
