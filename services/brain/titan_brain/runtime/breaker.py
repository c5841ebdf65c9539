"""The circuit breaker's I/O: feed the pure state machine, then act on what it decided.

A trip blocks entries at once (in memory), then is recorded in `breaker_events`, then
announced (CIRCUIT_BREAKER_UPDATE, audited). Once on record, master arm goes off at every
venue's execution (its one writer), asked as operator `brain-breaker` until each confirms.
A hard trip also flattens through execution, retrying until execution confirms, and raises
BREAKER_ACTIVE, which pauses the brain. Reducing
risk never waits on the record: if Postgres refuses the write, the block holds and the
write is retried on every later check.

The breaker's state survives a restart: it is restored from the last recorded change,
whose state carries the per-day drawdown latches (soft_drawdown_day, hard_drawdown_day).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from titan_brain.core.breaker import Action, Level, Transition, reset, step
from titan_brain.runtime import metrics, store
from titan_brain.runtime.state import BrainState
from titan_common.audit import AuditQueueFull
from titan_common.clock import now_ms
from titan_common.db.models import BreakerEvent, OperatorAction
from titan_common.events import CircuitBreakerUpdate, EventType, MasterArmChange, payload_of
from titan_common.flags import read_master_arm
from titan_common.internal import InternalClient, ServiceUnavailable
from titan_common.logging import best_effort
from titan_common.messages import Severity
from titan_common.reasons import ReasonCode
from titan_common.service import ServiceRuntime

log = logging.getLogger(__name__)

BREAKER_OPERATOR = "brain-breaker"
FLATTEN_RETRY_S = 2.0


class BreakerNotRecorded(Exception):
    """A reset must follow the trip in the record; the trip is not written yet."""


@dataclass
class _Unrecorded:
    transition: Transition
    ts_ms: int


class BreakerController:
    def __init__(self, runtime: ServiceRuntime, state: BrainState, client: InternalClient) -> None:
        self.runtime = runtime
        self.state = state
        self.client = client
        self._lock = asyncio.Lock()
        self._unrecorded: list[_Unrecorded] = []
        self._flatten_task: asyncio.Task[None] | None = None
        self._disarm_task: asyncio.Task[None] | None = None
        self.last_flatten: dict[str, Any] | None = None

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        assert self.runtime.sessions is not None
        return self.runtime.sessions

    # --- start-up --------------------------------------------------------------------

    async def restore(self) -> None:
        async with self.sessions() as session:
            breaker, flattened = await store.last_breaker_state(session)
        self.state.breaker = breaker
        self._publish_gauges()
        if breaker.active:
            log.warning("circuit breaker restored ACTIVE (%s): %s", breaker.level, breaker.reason)
        if breaker.active and breaker.level is Level.HARD:
            self.runtime.set_reason(ReasonCode.BREAKER_ACTIVE, True)
            if not flattened:
                # the trip's flatten is not on record: it may not have finished
                self._start_flatten()

    # --- checks ------------------------------------------------------------------------

    async def check(self) -> list[Transition]:
        """Look at the latest NAV, trades and prices; act on any trip or cooldown end."""
        async with self._lock:
            now = now_ms()
            seen = self.state.breaker_observation(now)
            after, transitions = step(self.state.breaker, seen, self.state.config.config)
            self.state.breaker = after
            for transition in transitions:
                self._unrecorded.append(_Unrecorded(transition, now))
            await self._record_pending()
            for transition in transitions:
                self._announce(transition, operator_id=None)
            return transitions

    async def reset(self, *, operator_id: str, reason: str, label: str | None) -> dict[str, Any]:
        """The manual reset. Recorded (breaker_events and operator_actions) before it takes
        effect; it does not re-arm master arm."""
        async with self._lock:
            await self._record_pending()
            if self._unrecorded:
                raise BreakerNotRecorded("the breaker's last trip is not on record yet; retry when Postgres is back")
            now = now_ms()
            before = self.state.breaker
            after, transition = reset(before, now, reason)
            request = {"reason": reason, "operator_id": label}
            result = {"was_active": before.active, "level": before.level.value if before.level else None}
            async with self.sessions() as session, session.begin():
                if transition is not None:
                    session.add(store.breaker_event(transition, now, operator_id, {"label": label}))
                session.add(
                    OperatorAction(
                        ts_ms=now, operator_id=operator_id, action="BREAKER_RESET", request=request,
                        result=result, success=True,
                    )
                )  # fmt: skip
                armed = await read_master_arm(session)
            self.state.breaker = after
            self.state.master_armed = armed
            if transition is not None:
                self._announce(transition, operator_id=operator_id)
            return {"was_active": before.active, "transition": transition, "master_arm": armed}

    # --- effects -----------------------------------------------------------------------

    async def _record_pending(self) -> None:
        """Write every transition not yet on record, oldest first; keep them if Postgres fails.
        A trip's disarm goes to execution, master arm's one writer, once the trip is on record."""
        while self._unrecorded:
            item = self._unrecorded[0]
            try:
                async with self.sessions() as session, session.begin():
                    session.add(store.breaker_event(item.transition, item.ts_ms, None, {}))
            except Exception as exc:
                log.critical("breaker %s not recorded yet (%s); the block holds, retrying", item.transition.action, exc)
                return
            self._unrecorded.pop(0)
            if item.transition.action is Action.TRIP:
                self._start_disarm(item.transition)

    def _announce(self, transition: Transition, *, operator_id: str | None) -> None:
        breaker = transition.state
        level = transition.level
        if transition.action is Action.TRIP:
            metrics.BREAKER_TRIPS.labels(level.value, transition.trigger.value).inc()
            log.critical("CIRCUIT_BREAKER %s trip (%s): %s", level, transition.trigger, transition.reason)
        else:
            log.warning("CIRCUIT_BREAKER %s %s: %s", level, transition.action, transition.reason)
        with best_effort(log, "auditing the breaker", AuditQueueFull):  # the breaker_events row is the record
            self.runtime.emit(
                EventType.CIRCUIT_BREAKER_UPDATE.value,
                severity=Severity.CRITICAL if transition.action is Action.TRIP else Severity.WARNING,
                reason_code=ReasonCode.BREAKER_ACTIVE if breaker.active else None,
                operator_id=operator_id,
                payload=payload_of(
                    CircuitBreakerUpdate(
                        active=breaker.active,
                        level=level.value,
                        action=transition.action.value,
                        reason=transition.reason,
                        until_ms=breaker.cooldown_until_ms if breaker.active else None,
                    )
                ),
            )
        hard_active = breaker.active and breaker.level is Level.HARD
        self.runtime.set_reason(ReasonCode.BREAKER_ACTIVE, hard_active)
        if transition.action is Action.TRIP and level is Level.HARD:
            self._start_flatten()
        if not hard_active and self._flatten_task is not None:
            self._flatten_task.cancel()
            self._flatten_task = None
        self._publish_gauges()

    def _announce_disarm(self, transition: Transition) -> None:
        log.warning("MASTER_ARM off by the circuit breaker")
        with best_effort(log, "auditing the disarm", AuditQueueFull):
            self.runtime.emit(
                EventType.MASTER_ARM_CHANGE.value,
                severity=Severity.WARNING,
                reason_code=ReasonCode.BREAKER_ACTIVE,
                operator_id=BREAKER_OPERATOR,
                payload=payload_of(
                    MasterArmChange(master_arm=False, previous_state=True, reason=f"circuit breaker {transition.level}")
                ),
            )
        self.state.master_armed = False

    def _publish_gauges(self) -> None:
        breaker = self.state.breaker
        metrics.BREAKER_ACTIVE.set(1 if breaker.active else 0)
        level = {Level.SOFT: 1, Level.HARD: 2}.get(breaker.level, 0) if breaker.active and breaker.level else 0
        metrics.BREAKER_LEVEL.set(level)

    def _start_flatten(self) -> None:
        if self._flatten_task is None or self._flatten_task.done():
            self._flatten_task = asyncio.create_task(self._flatten(), name="brain:breaker-flatten")

    def _start_disarm(self, transition: Transition) -> None:
        self.state.master_armed = False  # the brain's own veto at once; execution's door next
        if self._disarm_task is not None and not self._disarm_task.done():
            self._disarm_task.cancel()
        self._disarm_task = asyncio.create_task(self._disarm(transition), name="brain:breaker-disarm")

    async def _disarm(self, transition: Transition) -> None:
        """Master arm off at every venue's execution (each latches it, and writes the one flag
        under the breaker's name), asking again until each confirms."""
        reason = f"circuit breaker {transition.level}: {transition.reason}"
        request = {"reason": reason[:500], "request": {"enabled": False, "trigger": transition.trigger.value}}
        done, _attempts = await self._until_each_venue("disarm", "/api/safety/disarm", request)
        if done is not None and any(body.get("previous_state") is True for body in done.values()):
            self._announce_disarm(transition)

    async def _flatten(self) -> None:
        """Ask every venue's execution to flatten everything until each confirms (flatten is
        idempotent)."""
        done, attempt = await self._until_each_venue("flatten", "/positions/flatten", None)
        if done is None:
            return
        closed = sum(int(body.get("positions_closed") or 0) for body in done.values())
        results = [result for body in done.values() for result in body.get("results") or []]
        summary = {"success": True, "positions_closed": closed, "results": results, "venues": done}
        self.last_flatten = {"ts_ms": now_ms(), "attempts": attempt, **summary}
        log.critical("CIRCUIT_BREAKER HARD: execution flattened %s position(s)", closed)
        await self._record_flatten(summary, attempt)

    async def _until_each_venue(
        self, what: str, path: str, body: dict[str, Any] | None
    ) -> tuple[dict[str, Any] | None, int]:
        """POST `path` to every venue's execution until each confirms; a venue that does not
        answer is asked again, the others are not. Each venue's answer (None when stopped
        first), and the attempts it took."""
        pending = dict(self.state.settings.execution_services)  # venue -> its execution
        done: dict[str, dict[str, Any]] = {}
        attempt = 0
        while pending and not self.runtime.stop.is_set():
            attempt += 1
            for venue, service in list(pending.items()):
                answer = await self._ask(what, service, path, body, attempt)
                if answer is not None:
                    done[venue] = answer
                    del pending[venue]
            if not pending:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.runtime.stop.wait(), timeout=FLATTEN_RETRY_S)
        return (None if pending else done), attempt

    async def _ask(
        self, what: str, service: str, path: str, body: dict[str, Any] | None, attempt: int
    ) -> dict[str, Any] | None:
        """One venue's answer when it confirmed, else None (asked again)."""
        try:
            response = await self.client.request(service, "POST", path, operator_id=BREAKER_OPERATOR, json=body)
            answer = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
            if response.status_code == 200 and answer.get("success") is True:
                return dict(answer)
            log.error("breaker %s attempt %d (%s): HTTP %d %s", what, attempt, service, response.status_code,
                      str(answer)[:300])  # fmt: skip
        except ServiceUnavailable as exc:
            log.error("breaker %s attempt %d (%s): %s", what, attempt, service, exc)
        except Exception:
            log.exception("breaker %s attempt %d (%s) failed", what, attempt, service)
        return None

    async def _record_flatten(self, body: dict[str, Any], attempts: int) -> None:
        result = {
            "positions_closed": body.get("positions_closed"),
            "results": body.get("results"),
            "venues": {venue: answer.get("positions_closed") for venue, answer in (body.get("venues") or {}).items()},
            "attempts": attempts,
        }
        with best_effort(log, "auditing the breaker flatten", AuditQueueFull):
            self.runtime.emit(
                "BREAKER_FLATTEN", severity=Severity.CRITICAL, reason_code=ReasonCode.BREAKER_ACTIVE,
                operator_id=BREAKER_OPERATOR, payload=result,
            )  # fmt: skip
        for _ in range(30):
            try:
                async with self.sessions() as session, session.begin():
                    session.add(
                        BreakerEvent(
                            ts_ms=now_ms(), action=store.FLATTENED, level=Level.HARD.value,
                            reason="execution flattened every position", operator_id=BREAKER_OPERATOR,
                            payload=result,
                        )
                    )  # fmt: skip
                return
            except Exception as exc:
                log.error("could not record the breaker flatten (%s); retrying", exc)
                await asyncio.sleep(FLATTEN_RETRY_S)

    async def close(self) -> None:
        for task in (self._flatten_task, self._disarm_task):
            if task is not None and not task.done():
                task.cancel()
                # on the way out; a hard trip's flatten not on record is asked again at start
                with contextlib.suppress(asyncio.CancelledError):
                    await task
