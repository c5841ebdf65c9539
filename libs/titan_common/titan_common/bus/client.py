"""Redis client construction, in one place so timeouts are consistent."""

from __future__ import annotations

import time

from redis.asyncio import Redis
from redis.exceptions import RedisError


def make_redis(url: str, *, socket_timeout: float | None = 10.0) -> Redis:
    # socket_timeout must exceed the longest blocking read (XREADGROUP BLOCK) we issue.
    return Redis.from_url(
        url,
        decode_responses=False,
        socket_connect_timeout=3.0,
        socket_timeout=socket_timeout,
        health_check_interval=15,
    )


async def ping(redis: Redis) -> float:
    """Round-trip latency to Redis in ms. Raises when unreachable."""
    started = time.perf_counter()
    await redis.ping()
    return (time.perf_counter() - started) * 1000.0


# what a Redis call can fail with: the client's errors, a dropped socket, a timeout
REDIS_ERRORS: tuple[type[Exception], ...] = (RedisError, OSError, TimeoutError)
