"""Writing an order intent row, shared by the brain (which creates it with its decision, in
one transaction) and execution (which accepts intents it has no row for yet)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from titan_common.clock import now_ms
from titan_common.db.models import OrderIntentRow
from titan_common.messages import IntentState, OrderIntent

CREATED = IntentState.CREATED.value


def intent_values(
    intent: OrderIntent, decision_id: str | None = None, *, exchange: str | None = None
) -> dict[str, Any]:
    """The intent's row as CREATED. `exchange` is the account (and venue) it is for."""
    return {
        "intent_id": intent.intent_id,
        "exchange": exchange,
        "client_order_id": intent.client_order_id,
        "decision_id": decision_id,
        "ts_ms": intent.ts_ms,
        "kind": intent.kind.value,
        "symbol": intent.symbol,
        "side": intent.side.value,
        "order_type": intent.order_type.value,
        "qty": intent.qty,
        "price": intent.price,
        "stop_loss": intent.stop_loss,
        "take_profit": intent.take_profit,
        "leverage": intent.leverage,
        "reduce_only": intent.reduce_only,
        "expires_at_ms": intent.expires_at_ms(),
        "state": CREATED,
        "lookup_attempts": 0,
        "updated_ms": now_ms(),
    }


# one Core statement for one row or many (executemany): compiled once
_INTENTS = cast(Table, OrderIntentRow.__table__)
INSERT_INTENT_IF_ABSENT = insert(_INTENTS).on_conflict_do_nothing(index_elements=["intent_id"])
# the insert and the state in one round trip: the row this statement inserted (CREATED), or the
# one already there (the statement's snapshot cannot see its own insert, so never both)
_COLUMNS = (
    "intent_id", "exchange", "client_order_id", "decision_id", "ts_ms", "kind", "symbol", "side", "order_type",
    "qty", "price", "stop_loss", "take_profit", "leverage", "reduce_only", "expires_at_ms", "state",
    "lookup_attempts", "updated_ms",
)  # fmt: skip
_INSERT_OR_STATE = text(
    f"""
    WITH inserted AS (
        INSERT INTO order_intents ({", ".join(_COLUMNS)}) VALUES ({", ".join(":" + c for c in _COLUMNS)})
        ON CONFLICT (intent_id) DO NOTHING
        RETURNING state
    )
    SELECT state FROM inserted
    UNION ALL
    SELECT state FROM order_intents WHERE intent_id = :intent_id
    LIMIT 1
    """  # noqa: S608 - the column names are this module's constants; values are bound
)


async def insert_intents_if_absent(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Insert these intent rows (`intent_values`) as CREATED, each unless its id exists, in the
    caller's transaction and one round trip."""
    if rows:
        await session.execute(INSERT_INTENT_IF_ABSENT, list(rows))


async def insert_intent_if_absent(
    session: AsyncSession, intent: OrderIntent, decision_id: str | None = None, *, exchange: str | None = None
) -> str:
    """Insert the intent as CREATED unless its id exists; return its current state (a string
    of execution's IntentState), in the caller's transaction."""
    state: str | None = await session.scalar(_INSERT_OR_STATE, intent_values(intent, decision_id, exchange=exchange))
    if state is None:
        raise RuntimeError(f"intent {intent.intent_id} vanished right after its insert")
    return state
