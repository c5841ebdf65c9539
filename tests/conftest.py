"""Real servers for every test that needs them.

Postgres: TEST_DATABASE_URL when set (CI uses the machine's server), otherwise an embedded
pgserver under var/test-pg. Each test session gets a fresh database, migrated to head, and
drops it at the end. Redis: TEST_REDIS_URL or an embedded redis-server; tests use random
key names so a running dev stack is never disturbed.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from redis.asyncio import Redis

from titan_common.bus import make_redis
from titan_common.db.engine import make_engine, make_sessionmaker
from titan_common.embedded import EmbeddedPostgres, EmbeddedRedis
from titan_common.settings import normalise_database_url, plain_database_url

ROOT = Path(__file__).resolve().parent.parent
# where the embedded servers live when no TEST_DATABASE_URL / TEST_REDIS_URL is given: a
# second pytest process (make test runs two) sets its own
EMBEDDED_DIR = Path(os.environ.get("TEST_EMBEDDED_DIR") or ROOT / "var")


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A URL of a Postgres server we may create databases on."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield url
        return
    embedded = EmbeddedPostgres(EMBEDDED_DIR / "test-pg", database="postgres")
    yield embedded.start()
    embedded.stop()


def database_url_named(server_url: str, name: str) -> str:
    """Same server, another database (works for host:port and for ?host=/socket URLs)."""
    head, _, query = server_url.partition("?")
    base = head.rsplit("/", 1)[0]
    return f"{base}/{name}" + (f"?{query}" if query else "")


async def _admin(server_url: str, sql: str) -> None:
    conn = await asyncpg.connect(plain_database_url(normalise_database_url(server_url)).replace("+asyncpg", ""))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def create_database(server_url: str, name: str) -> str:
    asyncio.run(_admin(server_url, f'CREATE DATABASE "{name}"'))
    return database_url_named(server_url, name)


def drop_database(server_url: str, name: str) -> None:
    asyncio.run(_admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def migrated_database(server_url: str, prefix: str) -> Iterator[str]:
    from titan_common.db import migrate

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    url = create_database(server_url, name)
    migrate.upgrade(url)
    yield url
    drop_database(server_url, name)


@pytest.fixture(scope="session")
def database_url(postgres_server_url: str) -> Iterator[str]:
    """A fresh database for this test session, migrated to head."""
    yield from migrated_database(postgres_server_url, "titan_test")


@pytest.fixture
def private_database(postgres_server_url: str) -> Iterator[str]:
    """A migrated database of the test's own. LIVE tests need one: a LIVE process refuses
    to start while any account has the default password, and the session's shared
    database may hold the PAPER admin another test created."""
    yield from migrated_database(postgres_server_url, "titan_private")


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    url = os.environ.get("TEST_REDIS_URL")
    if url:
        yield url
        return
    embedded = EmbeddedRedis(EMBEDDED_DIR / "test-redis")
    yield embedded.start()
    embedded.stop()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = make_redis(redis_url)
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
async def db_engine(database_url: str):  # type: ignore[no-untyped-def]
    eng = make_engine(database_url)
    yield eng
    await eng.dispose()


@pytest.fixture(scope="session")
def sessions(db_engine):  # type: ignore[no-untyped-def]
    return make_sessionmaker(db_engine)
