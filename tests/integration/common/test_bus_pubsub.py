"""Pub/sub against real Redis, including a dropped connection the subscriber must survive."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from redis.asyncio import Redis

from titan_common.bus import ChannelSpec, Publisher, Subscriber
from titan_common.messages import Event

pytestmark = pytest.mark.integration


def event(n: int) -> Event:
    return Event(ts_ms=n, service="test", event_type="PING", payload={"n": n})


async def _collect(subscriber: Subscriber[Event], stop: asyncio.Event, sink: list[Event]) -> None:
    async for message in subscriber.messages(stop):
        sink.append(message)


async def _publish_until(publisher: Publisher, spec: ChannelSpec[Event], sink: list[Event], n: int) -> None:
    for _ in range(100):
        await publisher.publish(spec, event(n))
        await asyncio.sleep(0.05)
        if any(e.payload["n"] == n for e in sink):
            return
    raise AssertionError(f"message {n} never arrived")


async def test_subscriber_receives_and_reconnects_after_connection_kill(redis: Redis) -> None:
    spec = ChannelSpec(f"test:events:{uuid.uuid4().hex[:8]}", Event)
    received: list[Event] = []
    reconnected = asyncio.Event()

    async def on_reconnect() -> None:
        reconnected.set()

    subscriber = Subscriber(redis, spec, initial_backoff_s=0.05, on_reconnect=on_reconnect)
    stop = asyncio.Event()
    task = asyncio.create_task(_collect(subscriber, stop, received))
    await asyncio.wait_for(subscriber.connected.wait(), 5)
    publisher = Publisher(redis)
    await _publish_until(publisher, spec, received, 1)

    # Redis drops every pub/sub client, as it would on a restart or a network cut
    killed = await redis.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
    assert int(killed) >= 1
    await asyncio.wait_for(reconnected.wait(), 10)
    await _publish_until(publisher, spec, received, 2)
    assert subscriber.reconnects >= 1
    stop.set()
    await asyncio.wait_for(task, 5)


async def test_malformed_messages_are_dropped_not_fatal(redis: Redis) -> None:
    spec = ChannelSpec(f"test:events:{uuid.uuid4().hex[:8]}", Event)
    received: list[Event] = []
    subscriber = Subscriber(redis, spec)
    stop = asyncio.Event()
    task = asyncio.create_task(_collect(subscriber, stop, received))
    await asyncio.wait_for(subscriber.connected.wait(), 5)
    await redis.publish(spec.name, b"{garbage")
    await _publish_until(Publisher(redis), spec, received, 3)
    # the garbage never surfaced as a message; only the valid event (maybe sent more than once) did
    assert {e.payload["n"] for e in received} == {3}
    stop.set()
    await asyncio.wait_for(task, 5)
