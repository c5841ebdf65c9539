"""The console's long-lived objects, built once at setup and reached from every route."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from titan_common.bus import CONTROL
from titan_common.clock import now_ms
from titan_common.db.engine import transaction
from titan_common.db.models import Alert, OperatorAction
from titan_common.messages import Control, ControlCommand
from titan_common.service import ServiceRuntime
from titan_common.settings import SystemMode
from titan_console.core.kill_switch import ChallengeBook
from titan_console.runtime import metrics
from titan_console.runtime.authenticator import Authenticator
from titan_console.runtime.hub import Hub
from titan_console.runtime.state import StateCache
from titan_console.runtime.upstream import Upstream
from titan_console.settings import ConsoleSettings

log = logging.getLogger(__name__)


@dataclass
class Console:
    runtime: ServiceRuntime
    settings: ConsoleSettings
    upstream: Upstream
    auth: Authenticator
    hub: Hub
    state: StateCache
    challenges: ChallengeBook
    config_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # shown to operators (e.g. the PAPER default password still in use)
    warnings: list[str] = field(default_factory=list)
    # what an emergency action could not write (Postgres down) or hand to execution (execution
    # down) yet: done, in order, when it returns
    deferred: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)

    async def flush_deferred(self) -> int:
        """Do each deferred step in order, keeping those that fail for later: a disarm waiting
        for execution never holds up a row waiting for Postgres (the kill switch's flag).
        Returns how many were done."""
        done = []
        for step in list(self.deferred):
            try:
                await step()
            except Exception as exc:  # Postgres or execution still away: kept for later
                log.debug("deferred step not done yet: %s", exc)
                continue
            done.append(step)
        # steps added meanwhile (an action during an await) stay
        self.deferred[:] = [step for step in self.deferred if all(step is not d for d in done)]
        return len(done)

    @property
    def live(self) -> bool:
        return self.settings.system_mode is SystemMode.LIVE

    async def record(
        self, action: str, operator_id: str, request: dict[str, Any], result: dict[str, Any], success: bool
    ) -> bool:
        """One operator_actions row in its own transaction. False (and CRITICAL in the log)
        when it cannot be written; emergency actions go on regardless."""
        metrics.OPERATOR_ACTIONS.labels(action, "ok" if success else "failed").inc()
        if self.runtime.sessions is None:
            log.critical("could not record %s by %s: no database", action, operator_id)
            return False
        try:
            async with transaction(self.runtime.sessions) as session:
                session.add(
                    OperatorAction(
                        ts_ms=now_ms(),
                        operator_id=operator_id,
                        action=action,
                        request=request,
                        result=result,
                        success=success,
                    )
                )
        except Exception:
            log.critical("could not record %s by %s: %s", action, operator_id, result, exc_info=True)
            return False
        return True

    async def control(self, command: ControlCommand, operator_id: str, *, target: str = "all", reason: str = "") -> int:
        """Broadcast a command on titan:control; the number of subscribers that got it."""
        if self.runtime.publisher is None:
            raise RuntimeError("redis is not connected")
        message = Control(
            ts_ms=now_ms(),
            command=command,
            operator_id=operator_id,
            reason=reason,
            target=target,  # type: ignore[arg-type]
        )
        return await self.runtime.publisher.publish(CONTROL, message)

    async def raise_alert(self, severity: str, alert_type: str, message: str, reason_code: str | None = None) -> None:
        """An alert row for the operations panel (best effort: the audit event is the record)."""
        if self.runtime.sessions is None:
            return
        try:
            async with transaction(self.runtime.sessions) as session:
                session.add(
                    Alert(
                        ts_ms=now_ms(),
                        severity=severity,
                        source="console",
                        alert_type=alert_type,
                        reason_code=reason_code,
                        message=message,
                    )
                )
        except Exception:
            log.error("could not store alert %s: %s", alert_type, message, exc_info=True)
