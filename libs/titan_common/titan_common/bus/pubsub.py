"""Redis pub/sub for broadcast state (events, control). Fire-and-forget by design:
anything whose loss matters goes on a stream or into Postgres instead.

The subscriber reconnects by itself with capped exponential backoff, so a Redis restart
costs the messages published while it was down and nothing else. `on_reconnect` lets a
caller re-read state it may have missed (for example the current master arm from Postgres).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Generic, TypeVar

from pydantic import BaseModel, ValidationError
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from titan_common.bus.client import REDIS_ERRORS
from titan_common.bus.names import ChannelSpec
from titan_common.logging import best_effort

M = TypeVar("M", bound=BaseModel)
log = logging.getLogger(__name__)


class Publisher:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def publish(self, spec: ChannelSpec[M], message: M) -> int:
        if not isinstance(message, spec.schema):
            raise TypeError(f"{spec.name} carries {spec.schema.__name__}, not {type(message).__name__}")
        return int(await self._redis.publish(spec.name, message.model_dump_json()))


class Subscriber(Generic[M]):
    def __init__(
        self,
        redis: Redis,
        spec: ChannelSpec[M],
        *,
        initial_backoff_s: float = 0.2,
        max_backoff_s: float = 5.0,
        on_reconnect: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._redis = redis
        self.spec = spec
        self.initial_backoff_s = initial_backoff_s
        self.max_backoff_s = max_backoff_s
        self.on_reconnect = on_reconnect
        self.connected = asyncio.Event()
        self.reconnects = 0

    async def messages(self, stop: asyncio.Event) -> AsyncIterator[M]:
        """Yield each valid message until `stop` is set; survives Redis going away."""
        backoff = self.initial_backoff_s
        first = True
        while not stop.is_set():
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.spec.name)
                self.connected.set()
                if not first:
                    self.reconnects += 1
                    log.info("resubscribed to %s", self.spec.name)
                    if self.on_reconnect is not None:
                        await self.on_reconnect()
                first = False
                backoff = self.initial_backoff_s
                while not stop.is_set():
                    raw = await pubsub.get_message(timeout=0.5)
                    if raw is None or raw.get("type") != "message":
                        continue
                    try:
                        yield self.spec.schema.model_validate_json(raw["data"])
                    except ValidationError as exc:
                        log.error("dropping malformed message on %s: %s", self.spec.name, str(exc)[:300])
            except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                self.connected.clear()
                log.warning("lost %s subscription (%s); retrying in %.1fs", self.spec.name, exc, backoff)
                await _sleep_or_stop(stop, backoff)
                backoff = min(backoff * 2, self.max_backoff_s)
            finally:
                # the connection may already be gone; there is nothing left to clean
                with best_effort(log, "closing a pubsub connection", *REDIS_ERRORS, level=logging.DEBUG):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
