"""<Venue> facts the adapter relies on: endpoints, codes, topics, and its names -> Titan's."""

from __future__ import annotations

from titan_common.exchanges.types import ExecType, OrderStatus, TimeInForce

ENDPOINTS: dict[str, str] = {}  # "mainnet": "https://...", "testnet": ...

# the venue's error codes that prove a request was refused (nothing happened)
REJECTION_CODES: frozenset[int] = frozenset()

ORDER_STATUSES: dict[str, OrderStatus] = {}  # "FILLED": OrderStatus.FILLED, ...
EXEC_TYPES: dict[str, ExecType] = {}  # a liquidation fill -> ExecType.LIQUIDATION, ...
TIME_IN_FORCE: dict[TimeInForce, str] = {}  # TimeInForce.POST_ONLY -> the venue's word
