"""The price band, against the real simulator over pybit, on real Postgres.

An entry decided at one price is sent only while the venue's price is within a share
(default 0.25) of its stop distance from it. The tests move the simulator's price with a
burst: the entry decided before the move is refused with PRICE_MOVED and never reaches the
venue; one decided at the new price is sent; an exit is sent however far the price went,
and still is when the venue's price cannot be read (entries then are refused).
"""

from __future__ import annotations

import asyncio
from decimal import Decimal as D
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.execution.conftest import Sim, arm, entry, running_execution
from titan_common.bus import INTENTS, StreamProducer
from titan_common.clock import now_ms
from titan_common.db.models import AuditEvent, OrderIntentRow
from titan_common.exchanges.bybit import BybitAdapter, BybitConfig
from titan_common.messages import Correlation, IntentState, OrderIntent, Side, exit_intent
from titan_common.reasons import ReasonCode
from titan_execution.runtime.engine import ExecutionEngine

pytestmark = pytest.mark.integration
S = IntentState
SYMBOL = "BTCUSDT"
QTY = "0.010"
# stops 2% from the entry: the default band lets 0.5% through, a 3% move is far beyond it
STOP_PCT = D("0.02")


def long_at(price: D, symbol: str = SYMBOL, qty: str = QTY, stop_pct: D = STOP_PCT) -> OrderIntent:
    """A long decided at `price` (its reference), its stop `stop_pct` below."""
    return entry(symbol, qty, str((price * (1 - stop_pct)).quantize(D("0.1"))), reference=price)


async def price_beyond(engine: ExecutionEngine, level: D, timeout: float = 10.0) -> D:
    """Wait until the venue's last price is above `level`; returns it."""
    deadline = asyncio.get_running_loop().time() + timeout
    while (price := await engine.adapter.last_price(SYMBOL)) <= level:
        assert asyncio.get_running_loop().time() < deadline, f"the price never passed {level} (at {price})"
        await asyncio.sleep(0.1)
    return price


async def rows_of(sessions: async_sessionmaker[AsyncSession], intent_id: str) -> tuple[OrderIntentRow, AuditEvent]:
    async with sessions() as session:
        row = await session.get(OrderIntentRow, intent_id)
        audit = await session.scalar(
            select(AuditEvent).where(
                AuditEvent.order_intent_id == intent_id, AuditEvent.event_type == "INTENT_REJECTED"
            )
        )
    assert row is not None
    assert audit is not None
    return row, audit


async def filled_long(engine: ExecutionEngine, clean_sim: Sim) -> tuple[D, OrderIntent]:
    """A long opened within the band and filled into the book; returns its price and intent."""
    price = await engine.adapter.last_price(SYMBOL)
    opened = long_at(price)
    assert (await engine.handle_intent(opened)).state is S.CONFIRMED
    for execution in await engine.adapter.executions_since(opened.ts_ms - 1000, SYMBOL):
        await engine.on_execution(execution, "REST")
    assert engine.book.position(SYMBOL).size == D(QTY)
    return price, opened


async def venue_size(engine: ExecutionEngine) -> D:
    return sum((p.size for p in await engine.adapter.positions() if p.symbol == SYMBOL), D(0))


async def test_an_entry_within_the_band_is_sent(engine: ExecutionEngine, clean_sim: Sim) -> None:
    price = await engine.adapter.last_price(SYMBOL)
    within = long_at(price * D("1.003"))  # decided 0.3% away: inside the 0.5% band
    outcome = await engine.handle_intent(within)
    assert outcome.state is S.CONFIRMED, outcome
    assert clean_sim.orders_for(within.client_order_id) == 1


async def test_an_entry_decided_before_the_price_moved_is_refused_and_never_sent(
    engine: ExecutionEngine, clean_sim: Sim, sessions: async_sessionmaker[AsyncSession]
) -> None:
    decided = await engine.adapter.last_price(SYMBOL)
    late = long_at(decided)  # the brain decided here; the market runs 3% up before it arrives
    clean_sim.control("POST", f"/market/{SYMBOL}/burst", {"pct": 3.0, "trades": 40, "window_ms": 200})
    moved = await price_beyond(engine, decided * D("1.02"))

    outcome = await engine.handle_intent(late)
    assert outcome.state is S.REJECTED
    assert outcome.reasons == [ReasonCode.PRICE_MOVED]
    assert clean_sim.orders_for(late.client_order_id) == 0
    # recorded as every refusal is: the intent row and its audit row, with the figures
    row, audit = await rows_of(sessions, late.intent_id)
    assert (row.state, row.state_reason) == (S.REJECTED, "PRICE_MOVED")
    assert audit.reason_code == "PRICE_MOVED"
    assert audit.severity == "WARNING"
    band = audit.payload["price_band"]
    assert D(band["reference"]) == decided
    assert D(band["current"]) >= moved * D("0.99")
    assert late.stop_loss is not None
    assert D(band["allowed_move"]) == D("0.25") * (decided - late.stop_loss)
    assert audit.payload["reasons"] == ["PRICE_MOVED"]

    # decided again at the new price, the same trade goes out
    again = long_at(await engine.adapter.last_price(SYMBOL))
    assert (await engine.handle_intent(again)).state is S.CONFIRMED
    assert clean_sim.orders_for(again.client_order_id) == 1


async def test_an_exit_is_sent_however_far_the_price_has_moved(engine: ExecutionEngine, clean_sim: Sim) -> None:
    entered, _ = await filled_long(engine, clean_sim)
    clean_sim.control("POST", f"/market/{SYMBOL}/burst", {"pct": 6.0, "trades": 40, "window_ms": 200})
    await price_beyond(engine, entered * D("1.05"))  # ten bands past the entry's reference
    closing = exit_intent(
        SYMBOL, Side.BUY, D(QTY), correlation=Correlation(run_id="band-test"), origin="OPERATOR_CLOSE",
        reference_price=entered, ts_ms=now_ms(),
    )  # fmt: skip
    outcome = await engine.handle_intent(closing)
    assert outcome.state in (S.CONFIRMED, S.FILLED), outcome
    assert clean_sim.orders_for(closing.client_order_id) == 1
    assert await venue_size(engine) == 0


async def test_an_unknown_price_refuses_entries_but_never_exits(
    engine: ExecutionEngine, clean_sim: Sim, sessions: async_sessionmaker[AsyncSession]
) -> None:
    entered, _ = await filled_long(engine, clean_sim)
    clean_sim.control("POST", "/faults", {"fail_paths": ["/v5/market/tickers"]})
    blind = long_at(D(3400), symbol="ETHUSDT", qty="0.10")
    outcome = await engine.handle_intent(blind)
    assert outcome.state is S.REJECTED
    assert outcome.reasons == [ReasonCode.PRICE_MOVED]
    assert "unknown" in outcome.detail
    assert clean_sim.orders_for(blind.client_order_id) == 0
    row, audit = await rows_of(sessions, blind.intent_id)
    assert row.state_reason == "PRICE_MOVED"
    assert audit.payload["price_band"]["current"] is None
    # the close needs no price: it is sent while the venue's price cannot be read, with or without a reference
    for reference in (None, entered):
        closing = exit_intent(
            SYMBOL, Side.BUY, D("0.005"), correlation=Correlation(run_id="band-test"), origin="OPERATOR_CLOSE",
            reference_price=reference, ts_ms=now_ms(),
        )  # fmt: skip
        engine.last_prices.clear()  # no fill price to fall back on either
        assert (await engine.handle_intent(closing)).state in (S.CONFIRMED, S.FILLED)
        assert clean_sim.orders_for(closing.client_order_id) == 1
    assert await venue_size(engine) == 0


async def test_the_process_reads_its_band_from_the_environment(
    clean_sim: Sim, sessions: async_sessionmaker[AsyncSession], database_url: str, redis_url: str, tmp_path: Path
) -> None:
    """A real execution process with a band of 0.1: on a 10% stop, a reference 1.75% off is
    refused there (the default band, 2.5%, would send it), through titan:intents like any intent."""
    adapter = BybitAdapter(BybitConfig(clean_sim.url, clean_sim.api_key, clean_sim.api_secret, timeout_s=5))
    async with running_execution(
        clean_sim, database_url, redis_url, tmp_path, redis_db_index=11, TITAN_PRICE_BAND_SHARE="0.1"
    ) as execution:
        await arm(sessions, True)
        try:
            price = await adapter.last_price(SYMBOL)
            wide = D("0.10")
            refused, sent = long_at(price * D("1.0175"), stop_pct=wide), long_at(price, stop_pct=wide)
            producer = StreamProducer(execution.redis, INTENTS)
            await producer.publish(refused)
            await producer.publish(sent)

            async def settled() -> tuple[str | None, str | None]:
                async with sessions() as session:
                    one = await session.get(OrderIntentRow, refused.intent_id)
                    two = await session.get(OrderIntentRow, sent.intent_id)
                return (one.state_reason if one else None, two.state if two else None)

            deadline = asyncio.get_running_loop().time() + 20
            while (state := await settled())[0] is None or state[1] in (None, S.CREATED, S.SENT_UNKNOWN):
                assert asyncio.get_running_loop().time() < deadline, f"never settled: {state}"
                await asyncio.sleep(0.2)
            assert state[0] == "PRICE_MOVED"
            assert state[1] in (S.CONFIRMED, S.FILLED)
            assert clean_sim.orders_for(refused.client_order_id) == 0
            assert clean_sim.orders_for(sent.client_order_id) == 1
        finally:
            await arm(sessions, False)
            await adapter.close()


async def test_with_the_leverage_on_the_venue_one_transaction_bands_records_and_sends(
    engine: ExecutionEngine, clean_sim: Sim, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Once the symbol's leverage is on the venue, an entry's row, checks and write-ahead (or
    refusal) are one transaction, its band judged by the venue's price asked just before:
    refused after a move with the same records as ever, sent at the new price, audited."""
    price, opened = await filled_long(engine, clean_sim)  # sets the leverage
    closing = exit_intent(SYMBOL, Side.BUY, D(QTY), correlation=opened.correlation, origin="OPERATOR_CLOSE",
                          reference_price=price, ts_ms=now_ms())  # fmt: skip
    assert engine._answers_at_hand(closing)
    assert (await engine.handle_intent(closing)).state in (S.CONFIRMED, S.FILLED)
    for execution in await engine.adapter.executions_since(opened.ts_ms - 1000, SYMBOL):
        await engine.on_execution(execution, "REST")
    assert engine.book.position(SYMBOL).is_flat

    decided = await engine.adapter.last_price(SYMBOL)
    late = long_at(decided)
    assert engine._answers_at_hand(late)  # the leverage is known: one transaction
    clean_sim.control("POST", f"/market/{SYMBOL}/burst", {"pct": 3.0, "trades": 40, "window_ms": 200})
    moved = await price_beyond(engine, decided * D("1.02"))
    refused = await engine.handle_intent(late)
    assert refused.reasons == [ReasonCode.PRICE_MOVED]
    assert clean_sim.orders_for(late.client_order_id) == 0
    row, audit = await rows_of(sessions, late.intent_id)
    assert (row.state, row.state_reason) == (S.REJECTED, "PRICE_MOVED")
    assert D(audit.payload["price_band"]["current"]) >= moved * D("0.99")

    again = long_at(await engine.adapter.last_price(SYMBOL))
    assert engine._answers_at_hand(again)
    assert (await engine.handle_intent(again)).state is S.CONFIRMED
    assert clean_sim.orders_for(again.client_order_id) == 1
    async with sessions() as session:
        send = await session.scalar(
            select(AuditEvent).where(
                AuditEvent.order_intent_id == again.intent_id, AuditEvent.event_type == "ORDER_SEND"
            )
        )
    assert send is not None
