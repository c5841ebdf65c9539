"""Exchange adapters. `protocol` says what every venue provides; each venue has a folder
with the same file roles (hummingbot's convention):

  <venue>/constants.py  endpoints, codes, topic names
  <venue>/parsing.py    pure: venue payloads -> the shared types (unit-tested without I/O)
  <venue>/http.py       the venue's REST client, never blocking the event loop
  <venue>/streams.py    the venue's WebSocket streams bridged into asyncio
  <venue>/adapter.py    the ExchangeAdapter implementation wiring the above
"""

from titan_common.exchanges.protocol import ExchangeAdapter
from titan_common.exchanges.types import (
    DuplicateClientOrderId,
    ExchangeError,
    ExchangeOrder,
    ExchangePosition,
    ExecType,
    Execution,
    FundingRate,
    InstrumentFilters,
    Kline,
    NotModified,
    OpenInterest,
    OrderAck,
    OrderNotFound,
    OrderRejected,
    OutcomeUnknown,
    PlaceOrder,
    PrivateEvent,
    PublicEvent,
    RateLimited,
    Ticker,
    TimestampRejected,
    Wallet,
)

__all__ = [
    "DuplicateClientOrderId",
    "ExchangeAdapter",
    "ExchangeError",
    "ExchangeOrder",
    "ExchangePosition",
    "ExecType",
    "Execution",
    "FundingRate",
    "InstrumentFilters",
    "Kline",
    "NotModified",
    "OpenInterest",
    "OrderAck",
    "OrderNotFound",
    "OrderRejected",
    "OutcomeUnknown",
    "PlaceOrder",
    "PrivateEvent",
    "PublicEvent",
    "RateLimited",
    "Ticker",
    "TimestampRejected",
    "Wallet",
]
