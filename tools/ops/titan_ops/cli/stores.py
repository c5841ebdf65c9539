"""Resolve the database and Redis a command should use: the configured ones, or embedded."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from titan_common.embedded import EmbeddedPostgres, EmbeddedRedis
from titan_common.settings import CommonSettings


@dataclass
class Stores:
    database_url: str
    redis_url: str | None
    embedded_postgres: EmbeddedPostgres | None = None
    embedded_redis: EmbeddedRedis | None = None


@contextmanager
def open_stores(settings: CommonSettings, *, need_redis: bool = True) -> Iterator[Stores]:
    """Yield URLs; start embedded servers under var/ for whatever is not configured, stop them after."""
    pg = None if settings.database_url else EmbeddedPostgres(settings.var_dir / "pg")
    rd = None if (settings.redis_url or not need_redis) else EmbeddedRedis(settings.var_dir / "redis")
    try:
        database_url = settings.database_url or pg.start()  # type: ignore[union-attr]
        redis_url = settings.redis_url or (rd.start() if rd else None)
        yield Stores(database_url, redis_url, pg, rd)
    finally:
        if rd is not None:
            rd.stop()
        if pg is not None:
            pg.stop()
