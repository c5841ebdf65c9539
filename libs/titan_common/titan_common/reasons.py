"""The one enum of reason codes. Extend it here; never inline a reason string elsewhere."""

from __future__ import annotations

from enum import StrEnum


class ReasonCode(StrEnum):
    # --- approval (brain vetoes and adjustments) ---
    MASTER_DISARMED = "MASTER_DISARMED"
    BREAKER_ACTIVE = "BREAKER_ACTIVE"
    MODE_NOT_NORMAL = "MODE_NOT_NORMAL"
    SIGNAL_STALE = "SIGNAL_STALE"
    SIGNAL_INVALID = "SIGNAL_INVALID"
    SYMBOL_NOT_WHITELISTED = "SYMBOL_NOT_WHITELISTED"
    SYMBOL_QUARANTINED = "SYMBOL_QUARANTINED"
    DUPLICATE_POSITION = "DUPLICATE_POSITION"
    MAX_POSITIONS = "MAX_POSITIONS"
    DAILY_LOSS_LIMIT = "DAILY_LOSS_LIMIT"
    LEVERAGE_CAP = "LEVERAGE_CAP"
    CORRELATION_REDUCED = "CORRELATION_REDUCED"
    EDGE_TOO_LOW = "EDGE_TOO_LOW"
    COST_TOO_HIGH = "COST_TOO_HIGH"
    SIZE_ZERO = "SIZE_ZERO"
    # the brain does not know the account's equity (no fresh wallet report): it cannot size
    EQUITY_UNKNOWN = "EQUITY_UNKNOWN"
    # a short on a spot venue (MEXC spot): it is long-only
    VENUE_NO_SHORT = "VENUE_NO_SHORT"
    # a signal for a venue the trading config does not enable (no share of the allocation)
    VENUE_NOT_ENABLED = "VENUE_NOT_ENABLED"
    # execution's own refusals of an intent (its second, independent look)
    DUPLICATE_INTENT = "DUPLICATE_INTENT"
    BELOW_MIN_NOTIONAL = "BELOW_MIN_NOTIONAL"
    # the venue did not confirm the decided leverage: the entry is not sent
    LEVERAGE_NOT_SET = "LEVERAGE_NOT_SET"
    # the venue's price is beyond the band around the entry's reference price (or unknown)
    PRICE_MOVED = "PRICE_MOVED"

    # --- operations ---
    DB_UNAVAILABLE = "DB_UNAVAILABLE"
    DB_WRITER_BACKPRESSURE = "DB_WRITER_BACKPRESSURE"
    DB_WRITER_QUEUE_HIGH = "DB_WRITER_QUEUE_HIGH"
    DB_WRITER_QUEUE_FULL = "DB_WRITER_QUEUE_FULL"
    REDIS_UNAVAILABLE = "REDIS_UNAVAILABLE"
    WS_DOWN = "WS_DOWN"
    WS_RECONNECTING = "WS_RECONNECTING"
    RATE_LIMIT = "RATE_LIMIT"
    REST_THROTTLED = "REST_THROTTLED"
    TIMESTAMP_MISMATCH = "TIMESTAMP_MISMATCH"
    API_LAG = "API_LAG"
    CLOCK_DRIFT = "CLOCK_DRIFT"
    RECONCILE_DRIFT = "RECONCILE_DRIFT"
    DRIFT_LIMIT_EXCEEDED = "DRIFT_LIMIT_EXCEEDED"
    PROTECTION_FAILED = "PROTECTION_FAILED"
    # the venue took a position down itself (liquidation or auto-deleveraging): an alert
    POSITION_LIQUIDATED = "POSITION_LIQUIDATED"
    # the brain's last market-data poll got no price for the breaker's volatility symbol:
    # the volatility trigger is blind until one arrives (an alert; the mode is unchanged)
    MARKET_DATA_STALE = "MARKET_DATA_STALE"
    FILTERS_REFRESHED = "FILTERS_REFRESHED"
    DISK_LOW_DEGRADE = "DISK_LOW_DEGRADE"
    DISK_LOW_PAUSE = "DISK_LOW_PAUSE"
    RISK_CHURN_LIMIT_HIT = "RISK_CHURN_LIMIT_HIT"
    RISK_CANCEL_REPLACE_LIMIT_HIT = "RISK_CANCEL_REPLACE_LIMIT_HIT"
    KILL_SWITCH = "KILL_SWITCH"
    OPERATOR_PAUSE = "OPERATOR_PAUSE"
    STARTUP_RECOVER = "STARTUP_RECOVER"
    SERVICE_DOWN = "SERVICE_DOWN"
    SHUTDOWN = "SHUTDOWN"

    # --- AI gate ---
    AIGATE_TIMEOUT = "AIGATE_TIMEOUT"
    AIGATE_SCHEMA_INVALID = "AIGATE_SCHEMA_INVALID"
    AIGATE_PARSE_FAIL = "AIGATE_PARSE_FAIL"
    AIGATE_MODIFY_INVALID = "AIGATE_MODIFY_INVALID"
    AIGATE_REASON_UNKNOWN = "AIGATE_REASON_UNKNOWN"
    # the provider could not be reached or answered with an HTTP error
    AIGATE_ERROR = "AIGATE_ERROR"
