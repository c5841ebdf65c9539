"""The breadth scanner (CM-09) against the simulator and real Postgres: one cycle per slot
(a second run logs IDEMPOTENCY: ALREADY RAN), its execution_logs row holds all five payload
sections, its OHLCV snapshot is stored, and TIMESTAMP_MISMATCH / API_LAG abort it with ABORT
in the blackbox log."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.execution.conftest import Sim
from tests.integration.scavenger.conftest import TOKEN_HEADERS, running_scavenger
from tests.processes import until
from titan_common.db.models import ExecutionLog, OhlcvSnapshot
from titan_common.exchanges.bybit import BybitAdapter, BybitConfig
from titan_common.service import ServiceRuntime
from titan_scavenger.core.breadth import cycle_id_for, slot_start
from titan_scavenger.runtime.scanner import ALREADY_RAN, BreadthScanner, ScannerConfig
from titan_scavenger.settings import ScavengerSettings

pytestmark = pytest.mark.integration

SECTIONS = ["integrity", "timing", "health", "verdict", "financials"]
SLOT_MS = 900_000


async def row_of(sessions: async_sessionmaker[AsyncSession], cycle_id: str) -> ExecutionLog | None:
    async with sessions() as session:
        return await session.scalar(select(ExecutionLog).where(ExecutionLog.cycle_id == cycle_id))


@pytest.fixture
async def scanner_parts(
    fresh_sim: Sim, database_url: str, redis_url: str, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[tuple[BreadthScanner, BybitAdapter]]:
    settings = ScavengerSettings(database_url=database_url, redis_url=redis_url)
    runtime = ServiceRuntime(name="scavenger", settings=settings)
    runtime.sessions = sessions
    adapter = BybitAdapter(BybitConfig(fresh_sim.url, fresh_sim.api_key, fresh_sim.api_secret, timeout_s=5))
    config = ScannerConfig(
        exchange=f"t-{uuid.uuid4().hex[:8]}",
        slot_ms=SLOT_MS,
        lookback=20,
        max_symbols=100,
        timestamp_tolerance_ms=1000,
        api_lag_ms=200,
        has_credentials=True,
    )
    yield BreadthScanner(runtime, adapter, config), adapter
    fresh_sim.control("DELETE", "/faults")
    await adapter.close()


async def test_a_cycle_runs_once_per_slot_with_all_five_sections(
    scanner_parts: tuple[BreadthScanner, BybitAdapter],
    sessions: async_sessionmaker[AsyncSession],
    caplog: pytest.LogCaptureFixture,
) -> None:
    scanner, _adapter = scanner_parts
    caplog.set_level(logging.INFO, logger="titan.scavenger.scanner")
    first = await scanner.run_cycle(trigger="TEST")
    assert first["status"] == "OK", first
    cycle_id = first["cycle_id"]
    second = await scanner.run_cycle()
    if second["cycle_id"] != cycle_id:  # the slot turned between the two runs: try the new one twice
        second = await scanner.run_cycle()
        cycle_id = second["cycle_id"]
        second = await scanner.run_cycle()
    assert second == {"cycle_id": cycle_id, "status": "ALREADY_RAN", "message": ALREADY_RAN}
    assert await scanner.recorded(first["ai_audit_payload"]["timing"]["started_ms"])  # the schedule would skip it
    assert f"{ALREADY_RAN} cycle={cycle_id}" in caplog.text
    assert f"CYCLE START cycle={first['cycle_id']}" in caplog.text

    row = await row_of(sessions, first["cycle_id"])
    assert row is not None
    assert row.status == "OK"
    assert row.kind == "BREADTH"
    payload = row.ai_audit_payload
    assert set(payload) == set(SECTIONS)
    assert payload["verdict"]["decision"] == "LOG_ONLY"
    assert payload["verdict"]["signals_emitted"] == 0
    assert payload["verdict"]["breadth"]["symbols"] == 3
    assert payload["integrity"]["symbols_scanned"] == 3
    assert payload["integrity"]["timestamps_aligned"] is True
    assert payload["timing"]["duration_ms"] > 0
    assert payload["timing"]["api_calls"] == 4  # instruments, then each symbol in turn
    assert payload["health"]["rss_mb"] > 0
    assert payload["financials"]["source"] == "exchange"
    assert payload["financials"]["equity"] is not None
    async with sessions() as session:
        bars = (await session.scalars(select(OhlcvSnapshot).where(OhlcvSnapshot.cycle_id == first["cycle_id"]))).all()
    slot = slot_start(payload["timing"]["started_ms"], SLOT_MS)
    assert sorted(b.symbol for b in bars) == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    assert {b.start_ms for b in bars} == {slot - SLOT_MS}  # the bar that closed as the slot opened
    assert all(b.low <= b.open <= b.high and b.low <= b.close <= b.high for b in bars)


AbortUnder = Callable[[dict[str, int], str], Awaitable[ExecutionLog]]


@pytest.fixture
def abort_under(
    fresh_sim: Sim,
    scanner_parts: tuple[BreadthScanner, BybitAdapter],
    sessions: async_sessionmaker[AsyncSession],
    caplog: pytest.LogCaptureFixture,
) -> AbortUnder:
    """Run a cycle under a simulator fault: it aborts for the reason given, logged, and its
    row keeps every section of the audit payload, which is returned."""
    scanner, _adapter = scanner_parts

    async def run(fault: dict[str, int], reason: str) -> ExecutionLog:
        fresh_sim.control("POST", "/faults", fault)
        caplog.set_level(logging.INFO, logger="titan.scavenger.scanner")
        result = await scanner.run_cycle(trigger="TEST")
        assert (result["status"], result["reason"]) == ("ABORT", reason)
        assert f"ABORT reason={reason} cycle={result['cycle_id']}" in caplog.text
        row = await row_of(sessions, result["cycle_id"])
        assert row is not None
        assert row.status == "ABORT"
        assert set(row.ai_audit_payload) == set(SECTIONS)
        return row

    return run


async def test_exchange_clock_mismatch_aborts(
    abort_under: AbortUnder, scanner_parts: tuple[BreadthScanner, BybitAdapter]
) -> None:
    row = await abort_under({"clock_skew_ms": 5_000}, "TIMESTAMP_MISMATCH")
    assert row.ai_audit_payload["verdict"]["reason"] == "TIMESTAMP_MISMATCH"
    assert abs(row.ai_audit_payload["integrity"]["exchange_clock_offset_ms"] - 5_000) < 500
    assert row.ai_audit_payload["integrity"]["timestamps_aligned"] is False
    # an aborted cycle used its slot
    scanner, _adapter = scanner_parts
    assert (await scanner.run_cycle())["status"] == "ALREADY_RAN"


async def test_api_lag_aborts(abort_under: AbortUnder) -> None:
    row = await abort_under({"latency_ms": 400}, "API_LAG")
    assert row.ai_audit_payload["timing"]["server_time_rtt_ms"] >= 400


async def test_scheduled_cycle_and_operator_run_in_the_service(
    fresh_sim: Sim, database_url: str, redis_url: str, tmp_path: Path, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with running_scavenger(
        fresh_sim, database_url, redis_url, tmp_path, TITAN_SCANNER_ENABLED="true", TITAN_SCANNER_DELAY_S="0"
    ) as scavenger:
        # the schedule runs the current slot's cycle at start
        cycles = await until(
            lambda: httpx.get(f"{scavenger.url}/scanner/cycles").json()["cycles"], 30, "the scheduled cycle"
        )
        scheduled = cycles[0]
        expected = cycle_id_for(scavenger.env["TITAN_EXCHANGE"], slot_start(scheduled["ts_ms"], SLOT_MS))
        assert scheduled["cycle_id"] == expected
        await until(lambda: row_of(sessions, expected), 10, "the row")
        row = await until(lambda: _finished(sessions, expected), 30, "the cycle to finish")
        assert row.status == "OK"
        assert set(row.ai_audit_payload) == set(SECTIONS)

        # running a cycle needs an operator
        assert httpx.post(f"{scavenger.url}/scanner/run").status_code == 401
        again = httpx.post(f"{scavenger.url}/scanner/run", headers=TOKEN_HEADERS, timeout=30).json()
        if again["cycle_id"] != expected:  # the slot turned: this run took the new one
            expected = again["cycle_id"]
            again = httpx.post(f"{scavenger.url}/scanner/run", headers=TOKEN_HEADERS, timeout=30).json()
        assert again == {"cycle_id": expected, "status": "ALREADY_RAN", "message": ALREADY_RAN}
        log = scavenger.log()
        assert f"CYCLE START cycle={scheduled['cycle_id']} kind=BREADTH trigger=SCHEDULE" in log
        assert f"IDEMPOTENCY: ALREADY RAN cycle={expected} trigger=OPERATOR:scavenger-test" in log
        assert await scavenger.signals() == []  # log-only


async def _finished(sessions: async_sessionmaker[AsyncSession], cycle_id: str) -> ExecutionLog | None:
    row = await row_of(sessions, cycle_id)
    return row if row is not None and row.status != "RUNNING" else None
