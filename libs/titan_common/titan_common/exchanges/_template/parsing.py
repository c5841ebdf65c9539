"""Pure conversion of <venue> payloads into the shared types (no I/O; unit-tested)."""

from __future__ import annotations

from typing import Any

from titan_common.exchanges.types import ExchangeOrder, Execution, InstrumentFilters


def instrument(item: dict[str, Any]) -> InstrumentFilters:
    raise NotImplementedError


def order(item: dict[str, Any]) -> ExchangeOrder:
    raise NotImplementedError  # status through constants.ORDER_STATUSES (unknown -> OrderStatus.UNKNOWN)


def execution(item: dict[str, Any]) -> Execution:
    raise NotImplementedError  # exec_type through constants.EXEC_TYPES (unknown -> ExecType.OTHER)
