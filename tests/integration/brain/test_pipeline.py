"""The pipeline in-process on real Redis and Postgres, at the exact points a process test
cannot time: a crash between the commit and the XADD, an intent execution already took,
and two consumers deciding the same signal at once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from decimal import Decimal as D
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.brain.conftest import IN_PROCESS_RUN, make_signal
from titan_brain.runtime.pipeline import SignalPipeline
from titan_brain.runtime.state import BrainState
from titan_brain.settings import BrainSettings
from titan_common.bus import Delivery, StreamProducer, StreamSpec
from titan_common.clock import now_ms
from titan_common.config import ActiveConfig, TradingConfig
from titan_common.db.models import DecisionRow, OrderIntentRow
from titan_common.messages import OrderIntent, Signal
from titan_common.system_state import Mode

pytestmark = pytest.mark.integration


def signal_for(symbol: str, **values: Any) -> Signal:
    return make_signal(symbol, run_id=IN_PROCESS_RUN, **values)


def brain_settings(database_url: str, redis_url: str, **values: Any) -> BrainSettings:
    return BrainSettings(database_url=database_url, redis_url=redis_url, exchange=f"p-{uuid.uuid4().hex[:8]}", **values)


def fresh_state(settings: BrainSettings, config: TradingConfig | None = None) -> BrainState:
    state = BrainState(settings=settings, config=ActiveConfig("test", config or TradingConfig(), 0, "test"))
    state.observe_equity(D(10000), now_ms())
    return state


async def normal() -> Mode:
    return Mode.NORMAL


class CrashAfterCommit(StreamProducer[OrderIntent]):
    """The process dies right after the commit, before its first XADD."""

    def __init__(self, redis: Redis, spec: StreamSpec[OrderIntent]) -> None:
        super().__init__(redis, spec)
        self.crashes_left = 1

    async def publish_many(self, messages: Sequence[OrderIntent]) -> list[str]:
        if self.crashes_left:
            self.crashes_left -= 1
            raise ConnectionError("killed between the commit and the XADD")
        return await super().publish_many(messages)


def delivery(signal: Signal, n: int = 1) -> Delivery[Signal]:
    return Delivery(message_id=f"{n}-0", message=signal, claimed=n > 1)


async def published(redis: Redis, spec: StreamSpec[OrderIntent]) -> list[OrderIntent]:
    return [OrderIntent.model_validate_json(fields[b"data"]) for _id, fields in await redis.xrange(spec.name)]


@pytest.fixture
def intents_spec(redis: Redis) -> StreamSpec[OrderIntent]:
    return StreamSpec(f"test:brain:intents:{uuid.uuid4().hex[:8]}", OrderIntent)


async def intent_rows(sessions: async_sessionmaker[AsyncSession], signal_id: str) -> list[OrderIntentRow]:
    async with sessions() as session:
        rows = await session.scalars(
            select(OrderIntentRow)
            .join(DecisionRow, DecisionRow.decision_id == OrderIntentRow.decision_id)
            .where(DecisionRow.signal_id == signal_id)
        )
        return list(rows)


async def test_a_crash_between_commit_and_xadd_republishes_the_same_intent(
    database_url: str, redis_url: str, redis: Redis, sessions: async_sessionmaker[AsyncSession],
    intents_spec: StreamSpec[OrderIntent], armed_in_process: None,
) -> None:  # fmt: skip
    settings = brain_settings(database_url, redis_url)
    producer = CrashAfterCommit(redis, intents_spec)
    first = SignalPipeline(sessions=sessions, producer=producer, state=fresh_state(settings), read_mode=normal)
    signal = signal_for("SOLUSDT")
    with pytest.raises(ConnectionError):
        await first.process([delivery(signal)])
    [row] = await intent_rows(sessions, signal.signal_id)
    assert row.state == "CREATED"
    assert await published(redis, intents_spec) == []  # committed, never published

    # the message was never acked: a restarted brain (fresh state) gets it again
    restarted = SignalPipeline(sessions=sessions, producer=producer, state=fresh_state(settings), read_mode=normal)
    result = await restarted.process([delivery(signal, 2)])
    assert result.decided == []
    assert result.redelivered == 1
    [again] = await published(redis, intents_spec)
    assert again.intent_id == row.intent_id
    assert again.client_order_id == row.client_order_id
    assert again.qty == row.qty
    assert len(await intent_rows(sessions, signal.signal_id)) == 1

    # once execution has taken it (no longer CREATED), a redelivery publishes nothing
    async with sessions() as session, session.begin():
        await session.execute(
            update(OrderIntentRow).where(OrderIntentRow.intent_id == row.intent_id).values(state="SENT_UNKNOWN")
        )
    await restarted.process([delivery(signal, 3)])
    assert len(await published(redis, intents_spec)) == 1


async def test_a_signal_published_twice_is_decided_once(
    database_url: str, redis_url: str, redis: Redis, sessions: async_sessionmaker[AsyncSession],
    intents_spec: StreamSpec[OrderIntent], armed_in_process: None,
) -> None:  # fmt: skip
    """Read fresh both times (not a redelivery, so nothing is looked up first): the decision's
    insert finds the first one, and only its intent goes out, however often."""
    settings = brain_settings(database_url, redis_url)
    pipeline = SignalPipeline(
        sessions=sessions, producer=StreamProducer(redis, intents_spec), state=fresh_state(settings), read_mode=normal
    )
    signal = signal_for("SOLUSDT")
    first = await pipeline.process([delivery(signal)])
    second = await pipeline.process([delivery(signal)])
    assert len(first.decided) == 1
    assert second.decided == []
    assert second.redelivered == 1
    [row] = await intent_rows(sessions, signal.signal_id)
    assert {i.intent_id for i in await published(redis, intents_spec)} == {row.intent_id}


async def test_two_consumers_deciding_one_signal_make_one_decision_and_one_intent(
    database_url: str, redis_url: str, redis: Redis, sessions: async_sessionmaker[AsyncSession],
    intents_spec: StreamSpec[OrderIntent], armed_in_process: None,
) -> None:  # fmt: skip
    settings = brain_settings(database_url, redis_url)
    pipelines: list[Callable[[], SignalPipeline]] = [
        lambda: SignalPipeline(
            sessions=sessions, producer=StreamProducer(redis, intents_spec), state=fresh_state(settings),
            read_mode=normal,
        )
    ] * 4  # fmt: skip
    signals = [signal_for(symbol) for symbol in ("BTCUSDT", "ETHUSDT", "XRPUSDT")]
    batches = [[delivery(s, n + 1) for s in signals] for n in range(len(pipelines))]
    await asyncio.gather(*(make().process(batch) for make, batch in zip(pipelines, batches, strict=True)))
    async with sessions() as session:
        decisions = await session.scalar(
            select(func.count())
            .select_from(DecisionRow)
            .where(DecisionRow.signal_id.in_([s.signal_id for s in signals]))
        )
    assert decisions == 3
    stream = await published(redis, intents_spec)
    for signal in signals:
        rows = await intent_rows(sessions, signal.signal_id)
        assert len(rows) == 1
        assert {i.intent_id for i in stream if i.correlation.signal_id == signal.signal_id} == {rows[0].intent_id}


async def test_a_failed_commit_leaves_no_trace_and_no_pending_entry(
    database_url: str, redis_url: str, redis: Redis, sessions: async_sessionmaker[AsyncSession],
    intents_spec: StreamSpec[OrderIntent], armed_in_process: None,
) -> None:  # fmt: skip
    settings = brain_settings(database_url, redis_url)
    state = fresh_state(settings)
    broken = SignalPipeline(
        sessions=sessions, producer=StreamProducer(redis, intents_spec), state=state, read_mode=normal
    )
    # a source longer than the column refuses the whole batch at the database
    bad = signal_for("DOGEUSDT").model_copy(update={"trap_type": "x" * 200, "signal_id": "s" * 65})
    with pytest.raises(Exception, match=r"(?i)too long|value"):
        await broken.process([delivery(bad)])
    assert state.pending == {}
    assert await published(redis, intents_spec) == []


async def test_one_signal_the_database_refuses_does_not_hold_back_its_batch(
    database_url: str, redis_url: str, redis: Redis, sessions: async_sessionmaker[AsyncSession],
    intents_spec: StreamSpec[OrderIntent], armed_in_process: None,
) -> None:  # fmt: skip
    settings = brain_settings(database_url, redis_url)
    pipeline = SignalPipeline(
        sessions=sessions, producer=StreamProducer(redis, intents_spec), state=fresh_state(settings), read_mode=normal
    )
    good = [signal_for("ETHUSDT"), signal_for("XRPUSDT", ttl_ms=1, ts_ms=1_000)]
    poison = signal_for("SOLUSDT").model_copy(update={"signal_id": "p" * 65})  # longer than the column
    batch = [delivery(good[0], 1), delivery(poison, 2), delivery(good[1], 3)]
    acked = await pipeline.process_or_each(batch)
    assert acked == ["1-0", "3-0"]  # the poison stays pending, to be dead-lettered after its retries
    async with sessions() as session:
        verdicts = dict(
            (await session.execute(select(DecisionRow.signal_id, DecisionRow.verdict).where(
                DecisionRow.signal_id.in_([s.signal_id for s in good])))).all()
        )  # fmt: skip
    assert verdicts == {good[0].signal_id: "APPROVE", good[1].signal_id: "VETO"}
    assert len(await published(redis, intents_spec)) == 1
