"""The async engine and session factory (SQLAlchemy 2 on asyncpg)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.exc import DisconnectionError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from titan_common.settings import normalise_database_url

# what an unreachable, stopped or refusing Postgres raises through SQLAlchemy and asyncpg
DB_ERRORS: tuple[type[Exception], ...] = (OSError, TimeoutError, SQLAlchemyError)


# a pooled connection is pinged before use only when it has been idle this long: a Postgres
# restart is still met with a fresh connection, while a busy hot path (a write-ahead commit
# every few ms) pays no extra round trip per transaction, which pool_pre_ping would add
PING_AFTER_IDLE_S = 5.0
_RETURNED_AT = "titan_returned_at"


def make_engine(database_url: str, *, pool_size: int = 5, application_name: str = "titan") -> AsyncEngine:
    engine = create_async_engine(
        normalise_database_url(database_url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
        # a dead database must surface as an error quickly, never as a hung event loop
        connect_args={"timeout": 5, "command_timeout": 30, "server_settings": {"application_name": application_name}},
    )
    pool = engine.sync_engine.pool

    @event.listens_for(pool, "connect")
    @event.listens_for(pool, "checkin")
    def _returned(_dbapi_connection: Any, record: Any, *_: Any) -> None:
        record.info[_RETURNED_AT] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get(_RETURNED_AT, 0.0) < PING_AFTER_IDLE_S:
            return
        try:
            dbapi_connection.ping()  # in SQLAlchemy's greenlet: awaits the driver's ping
        except Exception as exc:
            raise DisconnectionError("a pooled connection did not answer its ping") from exc  # the pool retries

    return engine


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def transaction(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One unit of work: commits on success, rolls back on any exception."""
    async with sessions() as session, session.begin():
        yield session


async def ping(engine: AsyncEngine) -> float:
    """Round-trip latency to Postgres in ms. Raises when unreachable."""
    started = time.perf_counter()
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
    return (time.perf_counter() - started) * 1000.0
