"""The audit writer: every state change lands in Postgres and in a JSONL mirror, in order.

Callers `submit()` events without waiting on the database. A single writer task appends
every submitted event to `var/audit/<service>-YYYY-MM-DD.jsonl` (one file per UTC day, fsync'd)
at once, whatever the database is doing, then inserts them into `audit_events` in batches,
in order. A failed insert is retried with backoff while new events keep reaching the mirror;
`record_now()` waits until its event is in the mirror (an emergency action's write-ahead when
Postgres is down). When the queue (not yet in Postgres) is full, `submit()` raises
`AuditQueueFull` instead of dropping anything: the caller must fail closed (no audit row, no
order).

State for health and mode:
  OK    queue below the high-water mark and the database accepting writes
  HIGH  queue at or above the high-water mark  -> DB_WRITER_QUEUE_HIGH (DEGRADE)
  FULL  queue full, or the database refusing writes -> DB_WRITER_QUEUE_FULL (PAUSE)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import deque
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from titan_common.clock import now_ms, utc_day
from titan_common.db.models import AuditEvent
from titan_common.messages import Event
from titan_common.reasons import ReasonCode

log = logging.getLogger(__name__)
# more than the mirror can hold unconfirmed at a crash: one batch of ~500 events of ~1 KB
RECOVER_TAIL_BYTES = 2 * 1024 * 1024


class WriterState(StrEnum):
    OK = "OK"
    HIGH = "HIGH"
    FULL = "FULL"


class AuditQueueFull(Exception):
    """The event was NOT accepted. Nothing was written; the caller must not proceed."""


def event_row(event: Event) -> dict[str, Any]:
    corr = event.correlation
    return {
        "event_id": event.event_id,
        "ts_ms": event.ts_ms,
        "service": event.service,
        "severity": event.severity.value,
        "event_type": event.event_type,
        "reason_code": event.reason_code.value if event.reason_code else None,
        "stage": event.stage,
        "run_id": corr.run_id if corr else None,
        "cycle_id": corr.cycle_id if corr else None,
        "signal_id": corr.signal_id if corr else None,
        "decision_id": corr.decision_id if corr else None,
        "order_intent_id": corr.order_intent_id if corr else None,
        "operator_id": event.operator_id,
        "payload": event.model_dump(mode="json")["payload"],
    }


class AuditWriter:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        service: str,
        audit_dir: Path,
        max_queue: int = 10_000,
        batch_size: int = 500,
        high_water_pct: float = 80.0,
        retry_initial_s: float = 0.2,
        retry_max_s: float = 5.0,
    ) -> None:
        self._engine = engine
        self.service = service
        self.audit_dir = audit_dir
        self.max_queue = max_queue
        self.batch_size = batch_size
        self.high_water_pct = high_water_pct
        self.retry_initial_s = retry_initial_s
        self.retry_max_s = retry_max_s
        self._queue: deque[tuple[int, Event]] = deque()  # submitted, not yet in the mirror
        self._in_flight: list[tuple[int, Event]] = []  # in the mirror, not yet in Postgres
        self._mirror_lock = asyncio.Lock()
        self._recovered_pending = 0
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.db_ok = True
        self.written = 0
        self.last_error: str | None = None

    # --- producer side -------------------------------------------------------------

    def submit(self, event: Event) -> None:
        """Queue an event. Raises AuditQueueFull rather than ever dropping it silently."""
        if self._stopping:
            raise AuditQueueFull("audit writer is stopping")
        if len(self._queue) + len(self._in_flight) >= self.max_queue:
            raise AuditQueueFull(f"audit queue full ({self.max_queue} events waiting)")
        self._queue.append((now_ms(), event))
        self._idle.clear()
        self._wakeup.set()

    async def record_now(self, event: Event) -> None:
        """Submit an event and return once it is in the JSONL mirror (fsync'd), whether or not
        Postgres takes it: the write-ahead of an action that must not wait for the database."""
        self.submit(event)
        await self._mirror_queue()

    @property
    def queued(self) -> int:
        return len(self._queue) + len(self._in_flight)

    @property
    def queue_pct(self) -> float:
        return 100.0 * self.queued / self.max_queue

    @property
    def lag_ms(self) -> int:
        """Age of the oldest event not yet committed to Postgres."""
        oldest = self._in_flight[0][0] if self._in_flight else (self._queue[0][0] if self._queue else None)
        return 0 if oldest is None else max(0, now_ms() - oldest)

    @property
    def state(self) -> WriterState:
        if self.queued >= self.max_queue or not self.db_ok:
            return WriterState.FULL
        if self.queue_pct >= self.high_water_pct:
            return WriterState.HIGH
        return WriterState.OK

    @property
    def reasons(self) -> set[ReasonCode]:
        state = self.state
        reasons: set[ReasonCode] = set()
        if state is WriterState.HIGH:
            reasons.add(ReasonCode.DB_WRITER_QUEUE_HIGH)
        elif state is WriterState.FULL:
            reasons.add(ReasonCode.DB_WRITER_QUEUE_FULL)
        if not self.db_ok:
            reasons.add(ReasonCode.DB_UNAVAILABLE)
        return reasons

    def snapshot(self) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "queue_pct": round(self.queue_pct, 2),
            "queued": self.queued,
            "lag_ms": self.lag_ms,
            "written": self.written,
            "db_ok": self.db_ok,
            "last_error": self.last_error,
        }

    # --- lifecycle -----------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self.audit_dir.mkdir(parents=True, exist_ok=True)
            self._idle.clear()  # not idle until the crash recovery has run
            self._task = asyncio.create_task(self._run(), name=f"audit-writer-{self.service}")

    async def flush(self, timeout: float | None = None) -> bool:
        """Wait until every submitted event is committed. False on timeout."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout=timeout)
        except TimeoutError:
            return False
        return True

    async def stop(self, timeout: float = 5.0) -> None:
        """Drain what can be written within `timeout`, then stop. Unwritten events stay in JSONL."""
        self._stopping = True
        await self.flush(timeout)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.queued:
            log.error("audit writer stopped with %d events not in Postgres (see %s)", self.queued, self.audit_dir)

    # --- writer task ---------------------------------------------------------------

    async def _run(self) -> None:
        await self._recover_from_jsonl()
        backoff = self.retry_initial_s
        while True:
            await self._mirror_queue()
            if not self._in_flight:
                if not self._queue:
                    self._idle.set()
                    self._wakeup.clear()
                    await self._wakeup.wait()
                continue
            if await self._insert_batch():
                backoff = self.retry_initial_s
                continue
            # Postgres refused: retry after a backoff, mirroring whatever arrives meanwhile
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=backoff)
            backoff = min(backoff * 2, self.retry_max_s)

    async def _mirror_queue(self) -> None:
        """Move everything submitted into the mirror, in order."""
        async with self._mirror_lock:
            if not self._queue:
                return
            taken = [self._queue.popleft() for _ in range(len(self._queue))]
            await asyncio.to_thread(self._append_jsonl, [event for _, event in taken])
            self._in_flight.extend(taken)

    async def _insert_batch(self) -> bool:
        """Insert the oldest mirrored batch; False (and db_ok False) when Postgres refuses."""
        batch = self._in_flight[: self.batch_size]
        rows = [event_row(event) for _, event in batch]
        try:
            async with self._engine.begin() as conn:
                # event_id is unique: a retry after an unacknowledged commit cannot duplicate
                await conn.execute(insert(AuditEvent).on_conflict_do_nothing(index_elements=["event_id"]), rows)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if self.db_ok:
                log.error("audit insert failed, holding %d events and retrying: %s", len(self._in_flight), exc)
            self.db_ok = False
            self.last_error = f"{type(exc).__name__}: {str(exc)[:200]}"
            return False
        if not self.db_ok:
            log.info("audit inserts recovered")
        self.db_ok = True
        self.last_error = None
        recovered = min(self._recovered_pending, len(rows))  # re-inserted at start, not new
        self._recovered_pending -= recovered
        self.written += len(rows) - recovered
        del self._in_flight[: len(batch)]
        return True

    async def _recover_from_jsonl(self) -> None:
        """After a crash, the last batch may be in the JSONL mirror but not in Postgres: put
        the mirror's tail (today's and yesterday's files) back through the insert, where
        event_id uniqueness skips what is already there."""
        today = now_ms()
        recovered: list[Event] = []
        for day in (utc_day(today - 86_400_000), utc_day(today)):
            path = self.audit_dir / f"{self.service}-{day}.jsonl"
            recovered += await asyncio.to_thread(_tail_events, path, RECOVER_TAIL_BYTES)
        # first in line for Postgres; new events still reach the mirror while it is down
        self._in_flight = [(event.ts_ms, event) for event in recovered] + self._in_flight
        self._recovered_pending = len(recovered)

    def _append_jsonl(self, events: list[Event]) -> None:
        by_day: dict[str, list[str]] = {}
        for event in events:
            by_day.setdefault(utc_day(event.ts_ms), []).append(event.model_dump_json())
        for day, lines in by_day.items():
            path = self.audit_dir / f"{self.service}-{day}.jsonl"
            with path.open("a", encoding="utf-8") as handle:
                handle.write("\n".join(lines) + "\n")
                handle.flush()
                os.fsync(handle.fileno())


def _tail_events(path: Path, max_bytes: int) -> list[Event]:
    """The events in the last `max_bytes` of a JSONL mirror (a partial first line is skipped,
    and so is a torn last line from a crash mid-write)."""
    if not path.exists():
        return []
    with path.open("rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        handle.seek(max(0, size - max_bytes))
        chunk = handle.read()
    lines = chunk.split(b"\n")
    if size > max_bytes:
        lines = lines[1:]
    events = []
    for line in lines:
        if line.strip():
            with contextlib.suppress(ValueError):
                events.append(Event.model_validate_json(line))
    return events
