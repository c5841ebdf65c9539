"""Redis Streams with consumer groups: at-least-once delivery, explicit acks, crash recovery.

A consumer reads a batch with XREADGROUP, handles each message, and acks it only after the
handler returns. If the consumer dies between read and ack, the message stays pending; any
live consumer of the group claims it with XAUTOCLAIM once it has been idle for
`claim_idle_ms`, and handles it. XAUTOCLAIM hands a message to exactly one claimer.

Delivery is at-least-once, so handlers must be idempotent by the message's own id (for
example a unique signal_id in Postgres). A message that fails schema validation, or whose
handler keeps failing past `max_deliveries`, goes to `<stream>:dead` and is acked, so one
poison message never blocks the stream.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

from pydantic import BaseModel, ValidationError
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from titan_common.bus.names import StreamSpec
from titan_common.clock import now_ms

M = TypeVar("M", bound=BaseModel)
log = logging.getLogger(__name__)

DATA_FIELD = b"data"


@dataclass(frozen=True)
class Delivery(Generic[M]):
    message_id: str
    message: M
    claimed: bool  # True when recovered from a dead or stalled consumer


class StreamProducer(Generic[M]):
    def __init__(self, redis: Redis, spec: StreamSpec[M]) -> None:
        self._redis = redis
        self.spec = spec

    async def publish(self, message: M) -> str:
        message_id = await self._redis.xadd(**self._entry(message))
        return message_id.decode() if isinstance(message_id, bytes) else str(message_id)

    async def publish_many(self, messages: Sequence[M]) -> list[str]:
        """XADD each message in order, in one round trip (a pipeline, not a transaction)."""
        if not messages:
            return []
        entries = [self._entry(message) for message in messages]  # a wrong type raises before any XADD
        async with self._redis.pipeline(transaction=False) as pipe:
            for entry in entries:
                pipe.xadd(**entry)
            ids = await pipe.execute()
        return [i.decode() if isinstance(i, bytes) else str(i) for i in ids]

    def _entry(self, message: M) -> dict[str, Any]:
        if not isinstance(message, self.spec.schema):
            raise TypeError(f"{self.spec.name} carries {self.spec.schema.__name__}, not {type(message).__name__}")
        return {
            "name": self.spec.name,
            "fields": {DATA_FIELD: message.model_dump_json().encode()},
            "maxlen": self.spec.maxlen,
            "approximate": True,
        }


def _forget_tail(tails: dict[str, asyncio.Task[None]], name: str, done: asyncio.Task[None]) -> None:
    """A key's last task ended: nothing is left to wait for on that key."""
    if tails.get(name) is done:
        del tails[name]


class StreamConsumer(Generic[M]):
    def __init__(
        self,
        redis: Redis,
        spec: StreamSpec[M],
        *,
        group: str,
        consumer: str,
        batch_size: int = 100,
        block_ms: int = 1000,
        claim_idle_ms: int = 30_000,
        max_deliveries: int = 5,
    ) -> None:
        self._redis = redis
        self.spec = spec
        self.group = group
        self.consumer = consumer
        self.batch_size = batch_size
        self.block_ms = block_ms
        self.claim_idle_ms = claim_idle_ms
        self.max_deliveries = max_deliveries
        self._claim_cursor = "0-0"
        # a message is stalled only after claim_idle_ms, so looking more often than half of
        # that finds nothing new: XAUTOCLAIM on a timer keeps it off the hot path's every read
        self._claim_every_s = min(5.0, claim_idle_ms / 2000)
        self._next_claim = 0.0
        self.dead_lettered = 0

    async def ensure_group(self) -> None:
        try:
            await self._redis.xgroup_create(self.spec.name, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def claim_stalled(self) -> list[Delivery[M]]:
        """Take over messages another consumer read but never acked (it crashed or hung)."""
        result = await self._redis.xautoclaim(
            self.spec.name,
            self.group,
            self.consumer,
            min_idle_time=self.claim_idle_ms,
            start_id=self._claim_cursor,
            count=self.batch_size,
        )
        next_cursor: bytes | str = result[0]
        entries: list[tuple[bytes, dict[bytes, bytes]]] = result[1]
        self._claim_cursor = next_cursor.decode() if isinstance(next_cursor, bytes) else str(next_cursor)
        if not entries:
            return []
        counts = await self._delivery_counts([_decode_id(mid) for mid, _ in entries])
        deliveries = []
        for raw_id, fields in entries:
            message_id = _decode_id(raw_id)
            if counts.get(message_id, 0) > self.max_deliveries:
                await self._dead_letter(message_id, fields, f"delivered {counts[message_id]} times without ack")
                continue
            delivery = await self._parse(message_id, fields, claimed=True)
            if delivery is not None:
                deliveries.append(delivery)
        return deliveries

    async def read_new(self) -> list[Delivery[M]]:
        raw = await self._redis.xreadgroup(
            self.group, self.consumer, {self.spec.name: ">"}, count=self.batch_size, block=self.block_ms
        )
        # RESP2 (the protocol make_redis speaks) answers [[stream, [(id, fields), ...]], ...]
        response = cast(list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]], raw)
        deliveries: list[Delivery[M]] = []
        for _stream, entries in response or []:
            for raw_id, fields in entries:
                delivery = await self._parse(_decode_id(raw_id), fields, claimed=False)
                if delivery is not None:
                    deliveries.append(delivery)
        return deliveries

    async def read(self) -> list[Delivery[M]]:
        """Stalled messages first (they are older), then new ones. Stalled ones are looked
        for when due: at once after a claim found some (the scan goes on), else every
        claim_idle_ms / 2 (5 s at most)."""
        now = time.monotonic()
        if now >= self._next_claim:
            claimed = await self.claim_stalled()
            if claimed:
                return claimed
            if self._claim_cursor in ("0-0", "0"):  # the scan is through the whole pending list
                self._next_claim = now + self._claim_every_s
        return await self.read_new()

    async def ack(self, *message_ids: str) -> int:
        if not message_ids:
            return 0
        return int(await self._redis.xack(self.spec.name, self.group, *message_ids))

    async def run(
        self,
        handle: Callable[[Delivery[M]], Awaitable[None]],
        stop: asyncio.Event,
        *,
        key: Callable[[M], str] | None = None,
    ) -> None:
        """Consume until `stop` is set. A handler error leaves the message pending for a retry.

        Without `key`, one message at a time. With `key`, each message is handled in a task
        of its own as soon as it is read: after the one before it with the same key (stream
        order), and never behind another key's (execution: one symbol's intents in order, a
        slow venue answer on one symbol holds up no other). No read while `batch_size` are in
        flight (so fewer than twice that at once); on stop, those in flight finish."""
        await self.ensure_group()
        if key is None:
            while not stop.is_set():
                await self._in_order(await self.read(), handle)
            return
        tails: dict[str, asyncio.Task[None]] = {}
        in_flight: set[asyncio.Task[None]] = set()
        while not stop.is_set():
            if len(in_flight) >= self.batch_size:
                await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                continue
            for delivery in await self.read():
                name = key(delivery.message)
                task = asyncio.create_task(self._after(tails.get(name), delivery, handle))
                tails[name] = task
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
                task.add_done_callback(functools.partial(_forget_tail, tails, name))
        if in_flight:
            await asyncio.wait(in_flight)

    async def _after(
        self,
        previous: asyncio.Task[None] | None,
        delivery: Delivery[M],
        handle: Callable[[Delivery[M]], Awaitable[None]],
    ) -> None:
        if previous is not None:
            await asyncio.wait([previous])  # its key's earlier message first, however it ended
        await self._in_order([delivery], handle)

    async def _in_order(self, deliveries: list[Delivery[M]], handle: Callable[[Delivery[M]], Awaitable[None]]) -> None:
        for delivery in deliveries:
            try:
                await handle(delivery)
            except Exception:
                log.exception("handler failed on %s %s; left pending", self.spec.name, delivery.message_id)
                continue
            await self.ack(delivery.message_id)

    async def pending_count(self) -> int:
        info = await self._redis.xpending(self.spec.name, self.group)
        return int(info["pending"]) if info else 0

    async def _delivery_counts(self, message_ids: list[str]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for message_id in message_ids:
            rows = await self._redis.xpending_range(self.spec.name, self.group, message_id, message_id, 1)
            if rows:
                counts[message_id] = int(rows[0]["times_delivered"])
        return counts

    async def _parse(self, message_id: str, fields: dict[bytes, bytes], *, claimed: bool) -> Delivery[M] | None:
        raw = fields.get(DATA_FIELD)
        try:
            if raw is None:
                raise ValueError("no data field")
            message = self.spec.schema.model_validate_json(raw)
        except (ValidationError, ValueError) as exc:
            await self._dead_letter(message_id, fields, f"schema: {exc}")
            return None
        return Delivery(message_id=message_id, message=message, claimed=claimed)

    async def _dead_letter(self, message_id: str, fields: dict[bytes, bytes], why: str) -> None:
        log.error("dead-lettering %s %s: %s", self.spec.name, message_id, why[:500])
        await self._redis.xadd(
            self.spec.dead_letter,
            {
                b"original_id": message_id.encode(),
                DATA_FIELD: fields.get(DATA_FIELD, b""),
                b"error": why[:2000].encode(),
                b"ts_ms": str(now_ms()).encode(),
            },
            maxlen=10_000,
            approximate=True,
        )
        await self.ack(message_id)
        self.dead_lettered += 1


def _decode_id(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw
