"""Operator control over titan:control: pause, kill switch, resume, config reload.

A pause is persisted (system_flags `scavenger_pause`), so a restarted scavenger stays paused
until an operator resumes it: the kill switch's recovery is manual. Until the flag has been
read at start the scavenger holds STARTUP_RECOVER (no signals).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from sqlalchemy.dialects.postgresql import insert

from titan_common.bus import CONTROL, Subscriber
from titan_common.clock import now_ms
from titan_common.db.models import SystemFlag
from titan_common.flags import read_flag
from titan_common.messages import Control
from titan_common.service import ServiceRuntime
from titan_scavenger.core.control import PAUSE_REASONS, ControlAction, effect_of

log = logging.getLogger(__name__)

PAUSE_FLAG = "scavenger_pause"


class ControlState:
    def __init__(self, runtime: ServiceRuntime, on_config_changed: Callable[[], Awaitable[None]]) -> None:
        self.runtime = runtime
        self.on_config_changed = on_config_changed
        self.loaded = False
        self.paused_by: dict[str, str] = {}  # reason -> operator

    async def load(self) -> None:
        """Apply the persisted pause (at start, and after a control-channel reconnect)."""
        assert self.runtime.sessions is not None
        async with self.runtime.sessions() as session:
            value = await read_flag(session, PAUSE_FLAG) or {}
        paused = {str(k): str(v) for k, v in dict(value.get("paused_by") or {}).items()}
        for reason in PAUSE_REASONS:
            self.runtime.set_reason(reason, reason.value in paused)
        self.paused_by = paused
        if paused and not self.loaded:
            log.warning("starting paused: %s", ", ".join(f"{r} by {o}" for r, o in paused.items()))
        self.loaded = True

    async def _save(self, operator_id: str) -> None:
        assert self.runtime.sessions is not None
        values = {
            "name": PAUSE_FLAG,
            "value": {"paused_by": self.paused_by},
            "updated_ms": now_ms(),
            "updated_by": operator_id[:64],
        }
        async with self.runtime.sessions() as session, session.begin():
            statement = insert(SystemFlag).values(**values)
            await session.execute(statement.on_conflict_do_update(index_elements=["name"], set_=values))

    async def apply(self, control: Control) -> None:
        effect = effect_of(control)
        if effect.action is ControlAction.IGNORE:
            return
        if effect.action is ControlAction.RELOAD_CONFIG:
            log.info("config changed (by %s): reloading the whitelist", control.operator_id)
            await self.on_config_changed()
            return
        if effect.action is ControlAction.PAUSE:
            assert effect.reason is not None
            self.paused_by[effect.reason.value] = control.operator_id
            self.runtime.set_reason(effect.reason, True)  # first: the pause holds even if the save fails
            log.warning(
                "CONTROL %s by %s (%s): signals paused",
                control.command.value,
                control.operator_id,
                control.reason or "-",
            )
        else:
            self.paused_by.clear()
            for reason in PAUSE_REASONS:
                self.runtime.set_reason(reason, False)
            log.warning("CONTROL RESUME by %s (%s): signals resume", control.operator_id, control.reason or "-")
        try:
            await self._save(control.operator_id)
        except Exception as exc:
            log.error("could not persist the scavenger pause flag: %s", exc)

    async def run(self, rt: ServiceRuntime) -> None:
        """Read the persisted pause until it succeeds, then follow titan:control."""
        while not self.loaded and not rt.stop.is_set():
            try:
                await self.load()
            except Exception as exc:
                log.warning("pause flag not readable yet (%s); holding STARTUP_RECOVER", exc)
                await rt.sleep(1.0)
        assert rt.redis is not None
        subscriber: Subscriber[Control] = Subscriber(rt.redis, CONTROL, on_reconnect=self._reload_quietly)
        async for control in subscriber.messages(rt.stop):
            await self.apply(control)

    async def _reload_quietly(self) -> None:
        try:
            await self.load()
        except Exception as exc:
            log.warning("pause flag not re-read after reconnect: %s", exc)
