"""The audit writer against real Postgres: volume and order, and a database that goes away."""

from __future__ import annotations

import asyncio
import json
import shutil
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from titan_common.audit import AuditQueueFull, AuditWriter, WriterState
from titan_common.clock import now_ms, utc_day
from titan_common.db import migrate
from titan_common.db.engine import make_engine
from titan_common.db.models import AuditEvent
from titan_common.embedded import EmbeddedPostgres
from titan_common.messages import Correlation, Event
from titan_common.reasons import ReasonCode

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]


def events(service: str, count: int, start: int = 0) -> list[Event]:
    ts = now_ms()
    return [
        Event(
            ts_ms=ts,
            service=service,
            event_type="TEST",
            correlation=Correlation(run_id="audit-test", cycle_id=str(n)),
            payload={"n": n},
        )
        for n in range(start, start + count)
    ]


async def db_sequence(engine: AsyncEngine, service: str) -> list[int]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(AuditEvent.payload).where(AuditEvent.service == service).order_by(AuditEvent.id)
        )
        return [row[0]["n"] for row in rows]


def jsonl_sequence(audit_dir: Path, service: str) -> list[int]:
    numbers: list[int] = []
    for path in sorted(audit_dir.glob(f"{service}-*.jsonl")):
        numbers += [json.loads(line)["payload"]["n"] for line in path.read_text().splitlines()]
    return numbers


async def test_ten_thousand_events_land_in_postgres_and_jsonl_in_order(db_engine: AsyncEngine, tmp_path: Path) -> None:
    service = f"audit-{uuid.uuid4().hex[:6]}"
    writer = AuditWriter(db_engine, service=service, audit_dir=tmp_path, max_queue=20_000, batch_size=500)
    writer.start()
    for event in events(service, 10_000):
        writer.submit(event)
    assert await writer.flush(timeout=60)
    await writer.stop()
    expected = list(range(10_000))
    assert await db_sequence(db_engine, service) == expected
    assert jsonl_sequence(tmp_path, service) == expected
    assert writer.state is WriterState.OK
    assert writer.queue_pct == 0
    assert writer.lag_ms == 0


async def test_queue_high_state_and_reason(db_engine: AsyncEngine, tmp_path: Path) -> None:
    writer = AuditWriter(db_engine, service="audit-high", audit_dir=tmp_path, max_queue=10, high_water_pct=80)
    for event in events("audit-high", 8):  # not started: nothing drains
        writer.submit(event)
    assert writer.state is WriterState.HIGH
    assert writer.reasons == {ReasonCode.DB_WRITER_QUEUE_HIGH}
    for event in events("audit-high", 2, start=8):
        writer.submit(event)
    assert writer.state is WriterState.FULL
    with pytest.raises(AuditQueueFull):
        writer.submit(events("audit-high", 1, start=10)[0])
    writer.start()
    assert await writer.flush(timeout=10)
    await writer.stop()
    assert writer.state is WriterState.OK


async def test_postgres_stopped_reports_full_and_loses_nothing(tmp_path: Path) -> None:
    data_dir = ROOT / "var" / f"test-pg-stop-{uuid.uuid4().hex[:6]}"
    server = EmbeddedPostgres(data_dir)
    url = server.start()
    await asyncio.to_thread(migrate.upgrade, url)
    engine = make_engine(url)
    writer = AuditWriter(
        engine, service="audit-down", audit_dir=tmp_path, max_queue=300, batch_size=50, retry_max_s=0.5
    )
    writer.start()
    try:
        first = events("audit-down", 100)
        for event in first:
            writer.submit(event)
        assert await writer.flush(timeout=20)

        await asyncio.to_thread(server.stop)  # the real server goes away
        accepted: list[Event] = []
        refused = 0
        for event in events("audit-down", 1000, start=100):
            try:
                writer.submit(event)
                accepted.append(event)
            except AuditQueueFull:
                refused += 1  # the caller is told; it must not act
        for _ in range(50):
            if not writer.db_ok:
                break
            await asyncio.sleep(0.1)
        assert writer.state is WriterState.FULL
        assert ReasonCode.DB_WRITER_QUEUE_FULL in writer.reasons
        assert ReasonCode.DB_UNAVAILABLE in writer.reasons
        assert len(accepted) == 300
        assert refused == 700
        # while Postgres is down, every accepted event is already in the mirror
        for _ in range(50):
            if jsonl_sequence(tmp_path, "audit-down") == list(range(100 + len(accepted))):
                break
            await asyncio.sleep(0.1)
        assert jsonl_sequence(tmp_path, "audit-down") == list(range(100 + len(accepted)))
        late = events("audit-down", 1, start=100 + len(accepted))[0]
        with pytest.raises(AuditQueueFull):
            await writer.record_now(late)  # full is full, for record_now too

        assert await asyncio.to_thread(server.start) == url  # it comes back
        assert await writer.flush(timeout=60)
        expected = list(range(100 + len(accepted)))
        assert await db_sequence(engine, "audit-down") == expected
        assert jsonl_sequence(tmp_path, "audit-down") == expected
        assert writer.state is WriterState.OK
    finally:
        await writer.stop(timeout=2)
        await engine.dispose()
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


async def test_a_batch_mirrored_but_not_inserted_before_a_crash_is_recovered_at_start(
    db_engine: AsyncEngine, tmp_path: Path
) -> None:
    """kill -9 between the JSONL append and the insert: the next writer puts it in Postgres."""
    service = f"audit-{uuid.uuid4().hex[:6]}"
    first = AuditWriter(db_engine, service=service, audit_dir=tmp_path)
    first.start()
    for event in events(service, 10):
        first.submit(event)
    assert await first.flush(timeout=10)
    await first.stop()
    # what a crash leaves: 5 more events in the mirror only, and a torn last line
    orphans = events(service, 5, start=10)
    mirror = tmp_path / f"{service}-{utc_day(orphans[0].ts_ms)}.jsonl"
    with mirror.open("a") as handle:
        handle.write("\n".join(e.model_dump_json() for e in orphans) + "\n" + '{"event_id": "torn')
    assert await db_sequence(db_engine, service) == list(range(10))

    second = AuditWriter(db_engine, service=service, audit_dir=tmp_path)
    second.start()
    assert await second.flush(timeout=10)
    await second.stop()
    assert await db_sequence(db_engine, service) == list(range(15))  # each once, in order
