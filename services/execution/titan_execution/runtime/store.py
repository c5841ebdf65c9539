"""Execution's Postgres record: intents, orders, fills, positions, trades.

Every intent transition is a conditional UPDATE (`WHERE state = expected`) checked
against the state table first, so two racing paths (the WebSocket and the resolver, say)
can never both move an intent, and an illegal move raises before touching the database.
Fills are inserted ON CONFLICT DO NOTHING on exec_id: the first source to report an
execution wins and the other is told it was a duplicate.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from titan_common.clock import now_ms
from titan_common.db.intents import insert_intent_if_absent
from titan_common.db.models import AuditEvent, FillRow, OrderIntentRow, OrderRow, PositionRow, TradeRow
from titan_common.exchanges.types import ExchangeOrder, Execution
from titan_common.messages import Event, IntentState, OrderIntent, Side
from titan_common.reasons import ReasonCode
from titan_execution.core.intent_states import transition
from titan_execution.core.positions import ClosedTrade, Position, trip_of, with_trip


async def ensure_intent(
    session: AsyncSession, intent: OrderIntent, decision_id: str | None = None, *, exchange: str | None = None
) -> IntentState:
    """Insert the intent as CREATED unless it exists (the brain usually wrote it); return its state."""
    return IntentState(await insert_intent_if_absent(session, intent, decision_id, exchange=exchange))


async def write_late_intent(session: AsyncSession, intent: OrderIntent, qty: Decimal, exchange: str) -> None:
    """The row of an exit sent while Postgres was down (its write-ahead was the audit mirror):
    SENT_UNKNOWN, so the resolve loop asks the venue what became of it."""
    if await ensure_intent(session, intent, exchange=exchange) is IntentState.CREATED:
        await move_intent(session, intent.intent_id, IntentState.CREATED, IntentState.SENT_UNKNOWN, extra={"qty": qty})


async def move_intent(
    session: AsyncSession,
    intent_id: str,
    expected: IntentState,
    target: IntentState,
    *,
    reason: ReasonCode | None = None,
    extra: dict[str, Any] | None = None,
) -> bool:
    """Apply one legal transition if the intent is still in `expected`. False if it moved meanwhile."""
    transition(expected, target)  # raises IllegalTransition before any write
    if expected is target:
        return True
    values: dict[str, Any] = {"state": target.value, "updated_ms": now_ms(), **(extra or {})}
    if reason is not None:
        values["state_reason"] = reason.value
    result = await session.execute(
        update(OrderIntentRow)
        .where(OrderIntentRow.intent_id == intent_id, OrderIntentRow.state == expected.value)
        .values(**values)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def intent_state(session: AsyncSession, intent_id: str) -> IntentState | None:
    state = await session.scalar(select(OrderIntentRow.state).where(OrderIntentRow.intent_id == intent_id))
    return IntentState(state) if state else None


def of_account(exchange: str) -> ColumnElement[bool]:
    """This account's intents (rows from before intents named their account count as anyone's)."""
    return or_(OrderIntentRow.exchange == exchange, OrderIntentRow.exchange.is_(None))


async def intents_by_state(sessions: async_sessionmaker[AsyncSession], exchange: str) -> dict[str, int]:
    async with sessions() as session:
        rows = await session.execute(
            select(OrderIntentRow.state, func.count())
            .where(of_account(exchange))
            .group_by(OrderIntentRow.state)
            .order_by(OrderIntentRow.state)
        )
        return {state: int(count) for state, count in rows.all()}


async def intents_in(session: AsyncSession, exchange: str, *states: IntentState) -> list[OrderIntentRow]:
    """This account's intents in `states`, oldest first: another account's are not ours to resolve."""
    rows = await session.scalars(
        select(OrderIntentRow)
        .where(OrderIntentRow.state.in_([s.value for s in states]), of_account(exchange))
        .order_by(OrderIntentRow.ts_ms)
    )
    return list(rows)


def audit_row(event: Event) -> AuditEvent:
    """An audit row to add inside the caller's transaction (used where action depends on it)."""
    from titan_common.audit import event_row

    return AuditEvent(**event_row(event))


# Upserts built once: building one per call (its `excluded` alias copies every column of the
# table) cost more CPU than the round trip. Each runs with one row's parameters.
_ORDERS = cast(Table, OrderRow.__table__)
# what a later report of an order changes (the key, its first seen time and intent stay)
ORDER_REPORT_COLUMNS = (
    "client_order_id", "symbol", "side", "order_type", "qty", "price", "trigger_price", "stop_loss",
    "take_profit", "reduce_only", "status", "cum_exec_qty", "avg_price", "updated_ms",
)  # fmt: skip
_order_insert = insert(_ORDERS)
_UPSERT_ORDER = _order_insert.on_conflict_do_update(
    index_elements=["exchange", "exchange_order_id"],
    set_={
        **{name: _order_insert.excluded[name] for name in ORDER_REPORT_COLUMNS},
        # a report that names no intent keeps the one on record
        "intent_id": func.coalesce(_order_insert.excluded.intent_id, _ORDERS.c.intent_id),
    },
    # reports from the stream and from REST queries arrive out of order: never step back
    where=_ORDERS.c.updated_ms <= _order_insert.excluded.updated_ms,
).returning(_ORDERS.c.exchange_order_id)


async def upsert_order(session: AsyncSession, exchange: str, order: ExchangeOrder, intent_id: str | None) -> bool:
    """Record an order report; False when it is older than the one on record (reports from the
    stream and from REST queries arrive out of order) and so changed nothing."""
    values = {
        "exchange": exchange,
        "exchange_order_id": order.order_id,
        "client_order_id": order.client_order_id,
        "intent_id": intent_id,
        "symbol": order.symbol,
        "side": order.side.value,
        "order_type": order.order_type,
        "qty": order.qty,
        "price": order.price,
        "trigger_price": order.trigger_price,
        "stop_loss": order.stop_loss,
        "take_profit": order.take_profit,
        "reduce_only": order.reduce_only,
        "status": order.status,
        "cum_exec_qty": order.cum_exec_qty,
        "avg_price": order.avg_price,
        "created_ms": order.created_ms or now_ms(),
        "updated_ms": order.updated_ms or now_ms(),
    }
    return (await session.scalar(_UPSERT_ORDER, values)) is not None


async def latest_fill_ms(session: AsyncSession, exchange: str) -> int | None:
    latest: int | None = await session.scalar(select(func.max(FillRow.ts_ms)).where(FillRow.exchange == exchange))
    return latest


async def recorded_exec_ids(session: AsyncSession, exchange: str, exec_ids: list[str]) -> set[str]:
    """Which of these exec_ids are already recorded on `exchange` (one query for a catch-up)."""
    if not exec_ids:
        return set()
    rows = await session.scalars(
        select(FillRow.exec_id).where(FillRow.exchange == exchange, FillRow.exec_id.in_(exec_ids))
    )
    return set(rows.all())


async def record_fill(session: AsyncSession, exchange: str, execution: Execution, source: str) -> bool:
    """Insert a fill once; False when this exec_id was already recorded (from any source)."""
    statement = (
        insert(FillRow)
        .values(
            exec_id=execution.exec_id,
            exchange=exchange,
            exchange_order_id=execution.order_id,
            client_order_id=execution.client_order_id,
            symbol=execution.symbol,
            side=execution.side.value,
            price=execution.price,
            qty=execution.qty,
            fee=execution.fee,
            exec_type=execution.exec_type,
            is_maker=execution.is_maker,
            ts_ms=execution.ts_ms,
            source=source,
        )
        .on_conflict_do_nothing(index_elements=["exchange", "exec_id"])
        .returning(FillRow.exec_id)
    )
    return (await session.scalar(statement)) is not None


_POSITIONS = cast(Table, PositionRow.__table__)
# everything of a position but its key: save_position writes it whole
POSITION_COLUMNS = (
    "side", "size", "avg_entry", "realised_pnl", "unrealised_pnl", "fees", "mark_price", "stop_loss", "leverage",
    "trip", "take_profit", "adopted", "opened_ms", "updated_ms",
)  # fmt: skip
_position_insert = insert(_POSITIONS)
_UPSERT_POSITION = _position_insert.on_conflict_do_update(
    index_elements=["exchange", "symbol"],
    set_={name: _position_insert.excluded[name] for name in POSITION_COLUMNS},
)


async def save_position(
    session: AsyncSession,
    exchange: str,
    position: Position,
    *,
    mark_price: Decimal | None = None,
    adopted: bool = False,
) -> None:
    values = {
        "exchange": exchange,
        "symbol": position.symbol,
        "side": position.side.value if position.side else "",
        "size": position.size,
        "avg_entry": position.avg_entry,
        "realised_pnl": position.realised_pnl,
        "unrealised_pnl": position.unrealised_pnl(mark_price) if mark_price is not None else Decimal(0),
        "fees": position.fees,
        "mark_price": mark_price,
        "stop_loss": position.stop_loss,
        "leverage": position.leverage or 0,  # 0: not Titan's decision (adopted)
        "trip": None if position.is_flat else trip_of(position),
        "take_profit": None,
        "adopted": adopted,
        "opened_ms": position.opened_ms,
        "updated_ms": now_ms(),
    }
    await session.execute(_UPSERT_POSITION, values)


async def mark_position(
    session: AsyncSession, exchange: str, symbol: str, mark_price: Decimal, unrealised_pnl: Decimal
) -> None:
    """The latest mark and unrealised PnL of an open position (its size is the fills' business)."""
    await session.execute(
        update(PositionRow)
        .where(PositionRow.exchange == exchange, PositionRow.symbol == symbol, PositionRow.size > 0)
        .values(mark_price=mark_price, unrealised_pnl=unrealised_pnl, updated_ms=now_ms())
    )


async def set_stop(session: AsyncSession, exchange: str, symbol: str, stop_loss: Decimal | None) -> None:
    await session.execute(
        update(PositionRow)
        .where(PositionRow.exchange == exchange, PositionRow.symbol == symbol)
        .values(stop_loss=stop_loss, updated_ms=now_ms())
    )


async def load_positions(session: AsyncSession, exchange: str) -> list[Position]:
    rows = await session.scalars(select(PositionRow).where(PositionRow.exchange == exchange))
    return [
        with_trip(
            Position(
                symbol=row.symbol,
                side=Side(row.side) if row.side else None,
                size=row.size,
                avg_entry=row.avg_entry,
                realised_pnl=row.realised_pnl,
                fees=row.fees,
                opened_ms=row.opened_ms,
                stop_loss=row.stop_loss,
                leverage=row.leverage or None,
            ),
            row.trip,
        )
        for row in rows
    ]


async def insert_trade(session: AsyncSession, exchange: str, trade: ClosedTrade, signal_id: str | None) -> None:
    session.add(
        TradeRow(
            exchange=exchange,
            symbol=trade.symbol,
            side=trade.side.value,
            qty=trade.qty,
            entry_price=trade.entry_price,
            exit_price=trade.exit_price,
            pnl=trade.pnl,
            fees=trade.fees,
            r_multiple=trade.r_multiple,
            signal_id=signal_id,
            opened_ms=trade.opened_ms,
            closed_ms=trade.closed_ms,
        )
    )
