"""Redis Streams against real Redis: batches, acks, bounded length, crash recovery, poison messages."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from redis.asyncio import Redis

from titan_common.bus import Delivery, StreamConsumer, StreamProducer, StreamSpec
from titan_common.messages import Correlation, Side, Signal

pytestmark = pytest.mark.integration
HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]


def make_signal(n: int) -> Signal:
    return Signal(
        signal_id=f"sig-{n}",
        ts_ms=1_700_000_000_000 + n,
        correlation=Correlation(run_id="bus-test"),
        source="test",
        symbol="BTCUSDT",
        side=Side.BUY,
        trap_type="TEST",
        entry_price=Decimal("100"),
        entry_low=Decimal("99"),
        entry_high=Decimal("101"),
        stop_loss=Decimal("95"),
        confidence=Decimal("0.5"),
        ttl_ms=1000,
    )


@pytest.fixture
async def spec(redis: Redis):  # type: ignore[no-untyped-def]
    stream = StreamSpec(f"test:signals:{uuid.uuid4().hex[:8]}", Signal, maxlen=1000)
    yield stream
    await redis.delete(stream.name, stream.dead_letter)


async def test_batches_are_consumed_in_order_and_acked(redis: Redis, spec: StreamSpec[Signal]) -> None:
    producer = StreamProducer(redis, spec)
    consumer = StreamConsumer(redis, spec, group="g", consumer="c1", batch_size=50, block_ms=100)
    await consumer.ensure_group()
    for n in range(120):
        await producer.publish(make_signal(n))
    seen: list[str] = []
    while len(seen) < 120:
        batch = await consumer.read()
        assert 0 < len(batch) <= 50
        seen += [d.message.signal_id for d in batch]
        await consumer.ack(*[d.message_id for d in batch])
    assert seen == [f"sig-{n}" for n in range(120)]
    assert await consumer.pending_count() == 0
    assert await consumer.read() == []


async def test_publish_many_is_in_order_and_refuses_a_wrong_type_before_any_xadd(
    redis: Redis, spec: StreamSpec[Signal]
) -> None:
    from titan_common.messages import Control, ControlCommand

    producer = StreamProducer(redis, spec)
    ids = await producer.publish_many([make_signal(n) for n in range(30)])
    assert len(ids) == 30
    assert ids == sorted(ids, key=lambda i: tuple(map(int, i.split("-"))))
    stray = Control(ts_ms=1, command=ControlCommand.PAUSE, operator_id="x")
    with pytest.raises(TypeError):
        await producer.publish_many([make_signal(30), stray])  # type: ignore[list-item]
    assert await redis.xlen(spec.name) == 30  # nothing of the refused batch went out
    assert await producer.publish_many([]) == []


async def test_length_is_bounded(redis: Redis, spec: StreamSpec[Signal]) -> None:
    small = StreamSpec(spec.name, Signal, maxlen=100)
    producer = StreamProducer(redis, small)
    for n in range(2000):
        await producer.publish(make_signal(n))
    # XADD MAXLEN ~ trims by whole macro nodes, so the bound is approximate but real
    assert await redis.xlen(small.name) < 300


async def test_wrong_schema_is_refused_at_publish(redis: Redis, spec: StreamSpec[Signal]) -> None:
    from titan_common.messages import Control, ControlCommand

    with pytest.raises(TypeError):
        await StreamProducer(redis, spec).publish(Control(ts_ms=1, command=ControlCommand.PAUSE, operator_id="x"))  # type: ignore[arg-type]


async def test_poison_message_goes_to_dead_letter_and_does_not_block(redis: Redis, spec: StreamSpec[Signal]) -> None:
    consumer = StreamConsumer(redis, spec, group="g", consumer="c1", block_ms=100)
    await consumer.ensure_group()
    await redis.xadd(spec.name, {b"data": b'{"not": "a signal"}'})
    await StreamProducer(redis, spec).publish(make_signal(1))
    batch = await consumer.read()
    assert [d.message.signal_id for d in batch] == ["sig-1"]
    assert await redis.xlen(spec.dead_letter) == 1
    await consumer.ack(batch[0].message_id)
    assert await consumer.pending_count() == 0


async def test_killed_consumer_message_is_processed_exactly_once_by_survivors(
    redis: Redis, redis_url: str, spec: StreamSpec[Signal]
) -> None:
    group = "brain"
    setup = StreamConsumer(redis, spec, group=group, consumer="setup")
    await setup.ensure_group()
    await StreamProducer(redis, spec).publish(make_signal(7))

    # 1. a real process reads the message and is SIGKILLed before it acks
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    doomed = subprocess.Popen(
        [sys.executable, str(HERE / "crashing_consumer.py"), redis_url, spec.name, group],
        stdout=subprocess.PIPE,
        env=env,
    )
    assert doomed.stdout is not None
    line = await asyncio.wait_for(asyncio.to_thread(doomed.stdout.readline), timeout=20)
    assert line.decode().startswith("READ ")
    assert "sig-7" in line.decode()
    os.kill(doomed.pid, signal.SIGKILL)
    doomed.wait(10)
    assert await setup.pending_count() == 1

    # 2. two survivors race to recover it; the handler counts every processing
    processed: list[tuple[str, str]] = []

    async def survivor(name: str, stop: asyncio.Event) -> None:
        consumer = StreamConsumer(redis, spec, group=group, consumer=name, claim_idle_ms=300, block_ms=100)

        async def handle(delivery: Delivery[Signal]) -> None:
            assert delivery.claimed
            processed.append((name, delivery.message.signal_id))

        await consumer.run(handle, stop)

    stop = asyncio.Event()
    tasks = [asyncio.create_task(survivor(n, stop)) for n in ("survivor-a", "survivor-b")]
    for _ in range(60):
        await asyncio.sleep(0.1)
        if processed and await setup.pending_count() == 0:
            break
    await asyncio.sleep(0.8)  # longer than claim_idle_ms: a second claim would have happened by now
    stop.set()
    await asyncio.gather(*tasks)
    assert [signal_id for _, signal_id in processed] == ["sig-7"]
    assert await setup.pending_count() == 0


async def test_keyed_run_keeps_each_keys_order_and_never_holds_one_key_behind_another(
    redis: Redis, spec: StreamSpec[Signal]
) -> None:
    """Execution's intents: one symbol's in stream order, another symbol's not waiting for it."""
    producer = StreamProducer(redis, spec)
    consumer = StreamConsumer(redis, spec, group="g", consumer="c1", batch_size=50, block_ms=100)
    await consumer.ensure_group()
    for n in range(6):  # BTC, ETH, BTC, ETH, BTC, ETH
        await producer.publish(make_signal(n).model_copy(update={"symbol": "BTCUSDT" if n % 2 == 0 else "ETHUSDT"}))
    handled: list[str] = []
    release_btc = asyncio.Event()

    async def handle(delivery: Delivery[Signal]) -> None:
        if delivery.message.symbol == "BTCUSDT":
            await release_btc.wait()  # a slow venue answer on one symbol
        handled.append(delivery.message.signal_id)

    stop = asyncio.Event()
    runner = asyncio.create_task(consumer.run(handle, stop, key=lambda signal: signal.symbol))
    for _ in range(50):
        if len(handled) == 3:
            break
        await asyncio.sleep(0.05)
    assert handled == ["sig-1", "sig-3", "sig-5"]  # every ETH one while BTC's first still waits
    release_btc.set()
    for _ in range(50):
        if len(handled) == 6:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await runner
    assert handled[3:] == ["sig-0", "sig-2", "sig-4"]  # BTC's in stream order
    assert await consumer.pending_count() == 0
