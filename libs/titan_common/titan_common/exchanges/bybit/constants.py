"""Bybit v5 facts the adapter relies on."""

from __future__ import annotations

from typing import Literal

from titan_common.exchanges.types import ExecType, OrderStatus, TimeInForce

CATEGORY = "linear"
ACCOUNT_TYPE = "UNIFIED"

ENDPOINTS = {
    "mainnet": "https://api.bybit.com",
    "testnet": "https://api-testnet.bybit.com",
    "demo": "https://api-demo.bybit.com",
}

# retCodes (see shared/bybit-v5-notes.md)
TIMESTAMP_OUT_OF_WINDOW = 10002
BAD_API_KEY = 10003
BAD_SIGNATURE = 10004
RATE_LIMITED = 10006
SERVER_ERROR = 10016
ORDER_NOT_FOUND = 110001
INSUFFICIENT_BALANCE = 110007
ORDER_ALREADY_FINISHED = 110008
QTY_TRUNCATES_TO_ZERO = 110017
LEVERAGE_NOT_MODIFIED = 110043
DUPLICATE_ORDER_LINK_ID = 110072
NOTIONAL_BELOW_MINIMUM = 110094
TPSL_NOT_MODIFIED = 34040

NOT_MODIFIED_CODES = frozenset({LEVERAGE_NOT_MODIFIED, TPSL_NOT_MODIFIED})
# the request was refused and nothing happened: only these end an order as rejected. Any
# other retCode (a new one, a 5xx-like one) leaves its outcome unknown, resolved by query.
BAD_PARAMETER = 10001
REJECTION_CODES = frozenset(
    {
        BAD_PARAMETER,
        10005,  # permission denied for this key
        10010,  # request from an IP the key does not allow
        110003,  # price outside the permitted range
        110004,  # wallet balance insufficient
        INSUFFICIENT_BALANCE,
        110012,  # available balance insufficient
        QTY_TRUNCATES_TO_ZERO,
        110020,  # too many open orders
        110021,  # over the open-interest limit
        110040,  # the order would trigger a liquidation
        NOTIONAL_BELOW_MINIMUM,
    }
)
AUTH_CODES = frozenset({BAD_API_KEY, BAD_SIGNATURE})

PRIVATE_TOPICS = ("order", "execution", "position", "wallet")

# orderStatus on orders (REST and the `order` topic)
ORDER_STATUSES = {
    "Created": OrderStatus.NEW,
    "New": OrderStatus.NEW,
    "Active": OrderStatus.NEW,
    "PartiallyFilled": OrderStatus.PARTIALLY_FILLED,
    "Filled": OrderStatus.FILLED,
    "Cancelled": OrderStatus.CANCELLED,
    "PartiallyFilledCanceled": OrderStatus.CANCELLED,
    "Rejected": OrderStatus.REJECTED,
    "Untriggered": OrderStatus.UNTRIGGERED,
    "Triggered": OrderStatus.TRIGGERED,
    "Deactivated": OrderStatus.DEACTIVATED,
}

TIME_IN_FORCE = {
    TimeInForce.GTC: "GTC",
    TimeInForce.IOC: "IOC",
    TimeInForce.FOK: "FOK",
    TimeInForce.POST_ONLY: "PostOnly",
}

# execType on executions (v5 execution list and the `execution` topic)
EXEC_TYPES = {
    "Trade": ExecType.TRADE,
    "Funding": ExecType.FUNDING,
    "BustTrade": ExecType.LIQUIDATION,
    "AdlTrade": ExecType.ADL,
    "Delivery": ExecType.DELIVERY,
    "Settle": ExecType.SETTLEMENT,
    "BlockTrade": ExecType.BLOCK_TRADE,
    "MovePosition": ExecType.MOVE_POSITION,
}

# Bybit's per-UID limits by endpoint group (requests per second)
TRADE_METHODS = frozenset(
    {"place_order", "cancel_order", "cancel_all_orders", "amend_order", "set_trading_stop", "set_leverage"}
)
GROUP_LIMITS = {"trade": 10, "query": 50}

# what amend_order may change (types.OrderChanges) -> Bybit's parameter, in the order sent
AMEND_FIELDS: dict[Literal["qty", "price", "stop_loss", "take_profit"], str] = {
    "qty": "qty",
    "price": "price",
    "stop_loss": "stopLoss",
    "take_profit": "takeProfit",
}
