"""MEXC spot v3 facts the adapter relies on (see shared/mexc-spot-v3-notes.md and MEXC's docs)."""

from __future__ import annotations

from titan_common.exchanges.types import OrderStatus, TimeInForce

ENDPOINTS = {"mainnet": "https://api.mexc.com"}
SIMULATOR = "http://127.0.0.1:9101"  # the simulator's MEXC face

QUOTE_ASSET = "USDT"  # the wallet's equity is counted in it
CONTRACT_DETAIL_PATH = "/api/v1/contract/detail"

# --- error codes (the `code` in a JSON error body) -------------------------------------
UNKNOWN_ORDER = -2011  # cancel or query of an order the venue does not know
ORDER_DOES_NOT_EXIST = -2013  # Binance's word for the same, which MEXC answers on some paths
ORDER_NOT_FOUND_CODES = frozenset({UNKNOWN_ORDER, ORDER_DOES_NOT_EXIST})
# MEXC documents no code for a repeated newClientOrderId; the simulator's face names the one
# it answers (its README). A message saying so is recognised as well.
DUPLICATE_CLIENT_ORDER_ID_CODES: frozenset[int] = frozenset()
DUPLICATE_MESSAGE_HINTS = ("duplicate", "already exist", "repeat")

TIMESTAMP_OUTSIDE_RECV_WINDOW = 700003
AUTH_CODES = frozenset(
    {
        400,  # api key required
        401,  # no authority
        602,  # signature verification failed
        10072,  # invalid access key
        700001,  # API-key format invalid
        700002,  # signature not valid (or the key expired)
        700006,  # IP not on the key's white list
        700007,  # no permission to access the endpoint
        70011,  # the pair bans trading by API key
    }
)
# the request was refused and nothing happened: only these end an order as rejected. Any
# other code leaves its outcome unknown, resolved by query.
REJECTION_CODES = frozenset(
    {
        -1121,  # bad symbol
        10007,  # bad symbol
        10101,  # insufficient balance
        26,  # operation not allowed
        30000,  # trading suspended for the symbol
        30001,  # this direction may not place orders
        30002,  # below the minimum transaction volume
        30003,  # above the maximum transaction volume
        30004,  # insufficient position
        30005,  # oversold
        30010,  # no valid trade price
        30014,  # invalid symbol
        30016,  # trading disabled
        30018,  # market orders disabled
        30019,  # API market orders disabled
        30020,  # no permission for the symbol
        30021,  # invalid symbol
        30027,  # buying suspended: the currency is at its position limit
        30028,  # selling suspended by risk control
        30029,  # over the maximum open orders
        30032,  # over the maximum position
        30041,  # this order type may not place orders
        33333,  # a parameter is wrong
        44444,  # a parameter is missing
        700004,  # neither orderId nor origClientOrderId
        700005,  # recvWindow over 60000
        700008,  # illegal characters in a parameter
    }
)

# --- order vocabulary ----------------------------------------------------------------
# `status` on orders (REST). PARTIALLY_CANCELED: cancelled after a partial fill (cum_exec_qty
# says how much); Titan's CANCELLED covers both, as with Bybit's PartiallyFilledCanceled.
ORDER_STATUSES = {
    "NEW": OrderStatus.NEW,
    "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED,
    "FILLED": OrderStatus.FILLED,
    "CANCELED": OrderStatus.CANCELLED,
    "PARTIALLY_CANCELED": OrderStatus.CANCELLED,
    # Binance-family words MEXC may answer on some paths
    "PENDING_CANCEL": OrderStatus.NEW,
    "REJECTED": OrderStatus.REJECTED,
    "EXPIRED": OrderStatus.CANCELLED,
}

# MEXC says time in force through the order type (there is no timeInForce parameter)
LIMIT = "LIMIT"
MARKET = "MARKET"
ORDER_TYPE_FOR_TIME_IN_FORCE = {
    TimeInForce.GTC: LIMIT,
    TimeInForce.IOC: "IMMEDIATE_OR_CANCEL",
    TimeInForce.FOK: "FILL_OR_KILL",
    TimeInForce.POST_ONLY: "LIMIT_MAKER",
}
# MEXC's order types in Titan's two (OrderType's values): anything but MARKET rests at a price
ORDER_TYPES = {
    "LIMIT": "Limit",
    "LIMIT_MAKER": "Limit",
    "IMMEDIATE_OR_CANCEL": "Limit",
    "FILL_OR_KILL": "Limit",
    "MARKET": "Market",
}

# exchangeInfo `status`: the docs say "1" online, "2" paused, "3" offline; examples say "ENABLED"
TRADING_STATUSES = frozenset({"1", "ENABLED", "TRADING"})

# Titan's kline intervals are Bybit's words (minutes, D, W, M); MEXC's own words pass through
KLINE_INTERVALS = {
    "1": "1m",
    "5": "5m",
    "15": "15m",
    "30": "30m",
    "60": "60m",
    "240": "4h",
    "D": "1d",
    "W": "1W",
    "M": "1M",
}
KLINE_INTERVALS_MS = {
    "1m": 60_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "60m": 3_600_000,
    "4h": 14_400_000,
    "1d": 86_400_000,
    "1W": 604_800_000,
    "1M": 2_592_000_000,
}

# --- rate limits -----------------------------------------------------------------------
# every endpoint: 500 requests per 10 s (by IP and by UID, each its own count)
ENDPOINT_RATE_PER_S = 50.0
ENDPOINT_BURST = 500.0
# POST /api/v3/order and its cancels share 12 per second
ORDER_RATE_PER_S = 12.0
ORDER_BURST = 12.0
ORDER_PATHS = frozenset({("POST", "order"), ("DELETE", "order"), ("DELETE", "openOrders")})
RETRY_AFTER_FALLBACK_MS = 1000  # a 429 without Retry-After still blocks its endpoint this long

# the REST-polled public feed: at least once a second per symbol
PUBLIC_POLL_S = 1.0
PUBLIC_TRADES_LIMIT = 100
PUBLIC_POLL_CONCURRENCY = 8  # symbols polled at once

# a spot account has no venue-side stops: refusals say so in one sentence
NO_STOPS = "MEXC spot has no stop orders through the API; Titan protects the position itself"
