"""Bybit v5 facts the adapter relies on."""

from __future__ import annotations

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
AUTH_CODES = frozenset({BAD_API_KEY, BAD_SIGNATURE})

PRIVATE_TOPICS = ("order", "execution", "position", "wallet")

# Bybit's per-UID limits by endpoint group (requests per second)
TRADE_METHODS = frozenset(
    {"place_order", "cancel_order", "cancel_all_orders", "amend_order", "set_trading_stop", "set_leverage"}
)
GROUP_LIMITS = {"trade": 10, "query": 50}
