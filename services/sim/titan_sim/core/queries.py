"""Reads of the order and execution history, newest first, paged by seq."""

from __future__ import annotations

from titan_sim.core.model import Execution, Order
from titan_sim.core.requests import ExecutionQuery, OrderQuery
from titan_sim.core.state import VenueState


def query_orders(state: VenueState, query: OrderQuery) -> tuple[list[Order], int | None]:
    """A page of orders and the cursor of the next (None: the last page)."""
    if query.order_id or query.link_id:
        found = state.orders.get(query.order_id) if query.order_id else state.by_link_id.get(query.link_id or "")
        # by id, finished orders are found too: reconciliation relies on it
        ok = found is not None and (not query.symbol or found.symbol == query.symbol)
        return ([found] if ok and found is not None else []), None
    open_only, cursor = query.open_only, query.cursor
    chosen = (
        sorted(state.open_orders.values(), key=lambda o: o.seq, reverse=True)
        if open_only
        else list(reversed(state.order_log))
    )
    out: list[Order] = []
    for order in chosen:
        if cursor is not None and order.seq >= cursor:
            continue
        if query.symbol and order.symbol != query.symbol:
            continue
        if query.status and order.status.value != query.status:
            continue
        if query.stop_only and not order.is_conditional:
            continue
        if query.start_ms is not None and order.created_ms < query.start_ms:
            if not open_only:
                break
            continue
        if query.end_ms is not None and order.created_ms > query.end_ms:
            continue
        if len(out) == query.limit:
            return out, out[-1].seq
        out.append(order)
    return out, None


def query_executions(state: VenueState, query: ExecutionQuery) -> tuple[list[Execution], int | None]:
    """A page of executions and the cursor of the next (None: the last page)."""
    out: list[Execution] = []
    for execution in reversed(state.executions):
        if query.cursor is not None and execution.seq >= query.cursor:
            continue
        if query.start_ms is not None and execution.exec_time < query.start_ms:
            break
        if query.end_ms is not None and execution.exec_time > query.end_ms:
            continue
        if query.symbol and execution.symbol != query.symbol:
            continue
        if query.order_id and execution.order_id != query.order_id:
            continue
        if query.link_id and execution.order_link_id != query.link_id:
            continue
        if query.exec_type and execution.exec_type != query.exec_type:
            continue
        if len(out) == query.limit:
            return out, out[-1].seq
        out.append(execution)
    return out, None
