"""Writing an order intent row, shared by the brain (which creates it with its decision, in
one transaction) and execution (which accepts intents it has no row for yet)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from titan_common.clock import now_ms
from titan_common.db.models import OrderIntentRow
from titan_common.messages import OrderIntent

CREATED = "CREATED"


async def insert_intent_if_absent(
    session: AsyncSession, intent: OrderIntent, decision_id: str | None = None, *, exchange: str | None = None
) -> str:
    """Insert the intent as CREATED unless its id exists; return its current state (a string
    of execution's IntentState), in the caller's transaction. `exchange` is the account (and
    venue) it is for."""
    values = {
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
        "updated_ms": now_ms(),
    }
    await session.execute(insert(OrderIntentRow).values(**values).on_conflict_do_nothing(index_elements=["intent_id"]))
    state = await session.scalar(select(OrderIntentRow.state).where(OrderIntentRow.intent_id == intent.intent_id))
    if state is None:
        raise RuntimeError(f"intent {intent.intent_id} vanished right after its insert")
    return state
