"""The async engine and session factory (SQLAlchemy 2 on asyncpg)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from titan_common.settings import normalise_database_url

# what an unreachable, stopped or refusing Postgres raises through SQLAlchemy and asyncpg
DB_ERRORS: tuple[type[Exception], ...] = (OSError, TimeoutError, SQLAlchemyError)


def make_engine(database_url: str, *, pool_size: int = 5, application_name: str = "titan") -> AsyncEngine:
    return create_async_engine(
        normalise_database_url(database_url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
        # a dead database must surface as an error quickly, never as a hung event loop
        connect_args={"timeout": 5, "command_timeout": 30, "server_settings": {"application_name": application_name}},
    )


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
