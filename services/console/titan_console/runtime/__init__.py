"""The console's loops and I/O wiring.

- start-up: the accounts check (PAPER creates admin/password when no account exists and
  warns while it is in use; LIVE refuses to start with it), and the kill switch's
  persisted state (a console restart keeps PAUSE/KILL_SWITCH);
- events: titan:events forwarded to every /ws/console client;
- state: every `state_interval_s`, the system state is refreshed and STATE_UPDATE sent;
- housekeeping: throttles and expired sessions.
"""

from __future__ import annotations

import asyncio
import logging
from typing import cast

from sqlalchemy import delete

from titan_common.auth.accounts import ensure_bootstrap_admin, users_with_default_password
from titan_common.bus import EVENTS, Subscriber
from titan_common.clock import now_ms
from titan_common.db.engine import DB_ERRORS, make_engine, make_sessionmaker
from titan_common.db.models import ConsoleSession
from titan_common.events import EventType
from titan_common.flags import KILL_SWITCH, read_flag
from titan_common.logging import best_effort
from titan_common.messages import Event
from titan_common.reasons import ReasonCode
from titan_common.service import ServiceRuntime
from titan_common.settings import DEFAULT_INTERNAL_TOKEN, SystemMode
from titan_console.core.kill_switch import ChallengeBook
from titan_console.runtime.authenticator import Authenticator
from titan_console.runtime.context import Console
from titan_console.runtime.health import refresh_healths
from titan_console.runtime.hub import WS_CLOSE_ERRORS, Hub
from titan_console.runtime.state import StateCache
from titan_console.runtime.upstream import Upstream
from titan_console.settings import ConsoleSettings

log = logging.getLogger(__name__)

# a position changed: GET /positions asks the venues until the snapshot has caught up
POSITION_EVENTS = frozenset({EventType.POSITION_UPDATE, EventType.ORDER_FILLED, EventType.TRADE_CLOSED})
# What /ws/console forwards from titan:events (frequent internal snapshots are left out)
FORWARDED_EVENTS = frozenset(
    {
        EventType.POSITION_UPDATE,
        EventType.ORDER_FILLED,
        EventType.WALLET_UPDATE,
        EventType.TRADE_CLOSED,
        EventType.EMERGENCY_FLATTEN,
        EventType.MASTER_ARM_CHANGE,
        EventType.CIRCUIT_BREAKER_UPDATE,
        EventType.PHASE_CHANGE,
        EventType.CONFIG_CHANGE,
        EventType.ALERT,
        EventType.TRAP_SPRUNG,
        EventType.MODE_CHANGE,
        "KILL_SWITCH_REQUESTED",
        "KILL_SWITCH_CLEARED",
    }
)


class LiveRefused(SystemExit):
    """LIVE start-up preconditions the console checks itself."""


def console_of(runtime: ServiceRuntime) -> Console:
    console = runtime.components["console"]
    assert isinstance(console, Console)
    return console


async def check_accounts(settings: ConsoleSettings) -> list[str]:
    """PAPER: create admin/password if there is no account, and warn while it is in use.
    LIVE: refuse to start with it, or with the default internal token (fail closed: an
    unreachable database counts as a refusal, since nothing can be verified)."""
    warnings: list[str] = []
    live = settings.system_mode is SystemMode.LIVE
    if live and settings.internal_token.get_secret_value() == DEFAULT_INTERNAL_TOKEN:
        log.critical("LIVE refused: TITAN_INTERNAL_TOKEN is the development default")
        raise LiveRefused(2)
    engine = make_engine(settings.database_url, pool_size=1, application_name="titan-console-startup")
    try:
        sessions = make_sessionmaker(engine)
        if not live and await ensure_bootstrap_admin(sessions):
            log.warning("PAPER: created the account admin/password (LIVE refuses it; change it with `titan user add`)")
        defaults = await users_with_default_password(sessions)
    except LiveRefused:
        raise
    except Exception as exc:
        if live:
            log.critical("LIVE refused: cannot verify the accounts (%s)", exc)
            raise LiveRefused(2) from exc
        log.warning("could not check the accounts at start (%s); continuing in PAPER", exc)
        return warnings
    finally:
        await engine.dispose()
    if defaults and live:
        log.critical("LIVE refused: account(s) %s still use the default password", ", ".join(defaults))
        raise LiveRefused(2)
    if defaults:
        message = f"PAPER only: account(s) {', '.join(defaults)} use the default password; LIVE refuses it"
        log.warning(message)
        warnings.append(message)
    return warnings


async def setup(runtime: ServiceRuntime) -> None:
    settings = cast(ConsoleSettings, runtime.settings)
    upstream = Upstream(settings)
    console = Console(
        runtime=runtime,
        settings=settings,
        upstream=upstream,
        auth=Authenticator(runtime, settings),
        hub=Hub(),
        state=StateCache(runtime, upstream),
        challenges=ChallengeBook(ttl_ms=settings.kill_switch_code_ttl_s * 1000),
    )
    runtime.components["console"] = console
    console.warnings = await check_accounts(settings)
    runtime.extra_health.append(lambda: {"websocket": console.hub.stats()})

    async def restore_kill_switch(rt: ServiceRuntime) -> None:
        """A console restart keeps the kill switch's PAUSE until an admin clears it."""
        while not rt.stop.is_set():
            try:
                assert rt.sessions is not None
                async with rt.sessions() as session:
                    flag = await read_flag(session, KILL_SWITCH)
            except Exception as exc:
                log.warning("kill switch state unreadable (%s); retrying", exc)
                await rt.sleep(1.0)
                continue
            console.state.kill_switch = flag or {"engaged": False}
            if flag and flag.get("engaged"):
                log.warning("kill switch engaged since %s by %s: PAUSE", flag.get("engaged_ms"), flag.get("engaged_by"))
                rt.set_reason(ReasonCode.KILL_SWITCH, True)
            return

    async def forward_events(rt: ServiceRuntime) -> None:
        assert rt.redis is not None
        subscriber = Subscriber(rt.redis, EVENTS)

        async def mark_connected() -> None:
            await subscriber.connected.wait()
            console.hub.subscribed = True

        watcher = asyncio.create_task(mark_connected())
        try:
            async for event in subscriber.messages(rt.stop):
                console.hub.subscribed = subscriber.connected.is_set()
                on_event(console, event)
        finally:
            watcher.cancel()
            console.hub.subscribed = False

    async def publish_state(rt: ServiceRuntime) -> None:
        while not rt.stop.is_set():
            started = asyncio.get_running_loop().time()
            try:
                await console.state.tick()
                console.hub.broadcast(console.state.state_message(settings.system_mode.value))
            except Exception:
                log.exception("state refresh failed")
            elapsed = asyncio.get_running_loop().time() - started
            await rt.sleep(max(0.05, settings.state_interval_s - elapsed))

    async def snapshot_healths(rt: ServiceRuntime) -> None:
        """Every service's /health, asked once a round for every reader (never per request)."""
        while not rt.stop.is_set():
            started = asyncio.get_running_loop().time()
            try:
                await refresh_healths(console)
            except Exception:
                log.exception("health snapshot failed")
            elapsed = asyncio.get_running_loop().time() - started
            await rt.sleep(max(0.05, settings.snapshot_interval_s - elapsed))

    async def write_deferred(rt: ServiceRuntime) -> None:
        """What an emergency action could not write or hand over yet."""
        while not rt.stop.is_set():
            if console.deferred and await console.flush_deferred():
                log.info("did what was deferred during an outage; %d left", len(console.deferred))
            await rt.sleep(1.0)

    async def refresh_sources(rt: ServiceRuntime) -> None:
        while not rt.stop.is_set():
            try:
                await console.state.refresh_slow()
            except Exception:
                log.exception("source refresh failed")
            await rt.sleep(2.0)

    async def housekeeping(rt: ServiceRuntime) -> None:
        while not rt.stop.is_set():
            await rt.sleep(60.0)
            console.auth.prune()
            if rt.sessions is not None:
                with best_effort(log, "pruning expired sessions", *DB_ERRORS):
                    async with rt.sessions() as session, session.begin():
                        await session.execute(delete(ConsoleSession).where(ConsoleSession.expires_ms < now_ms()))

    async def close_clients(rt: ServiceRuntime) -> None:
        await rt.stop.wait()
        for client in list(console.hub.clients):
            with best_effort(log, "closing a websocket", *WS_CLOSE_ERRORS, level=logging.DEBUG):
                await client.websocket.close(code=1001)
        await upstream.close()

    runtime.add_loop("kill-switch-restore", restore_kill_switch)
    runtime.add_loop("events", forward_events)
    runtime.add_loop("state", publish_state)
    runtime.add_loop("health-snapshot", snapshot_healths)
    runtime.add_loop("sources", refresh_sources)
    runtime.add_loop("deferred-writes", write_deferred)
    runtime.add_loop("housekeeping", housekeeping)
    runtime.add_loop("shutdown", close_clients)


def on_event(console: Console, event: Event) -> None:
    """One event from titan:events: update what the state needs, forward it to clients."""
    console.hub.events_received += 1
    console.hub.last_event_ms = event.ts_ms
    if event.event_type == EventType.WALLET_UPDATE:
        # the equity card is the first venue's account, as the brain's NAV and phases are;
        # another venue's wallet must not replace it (docs/decisions.md)
        if event.service == console.settings.execution_service(console.settings.venues[0]):
            console.state.note_wallet(dict(event.payload), event.ts_ms)
    elif event.event_type == EventType.MASTER_ARM_CHANGE:
        console.state.master_arm = bool(event.payload.get("master_arm"))
    elif event.event_type == EventType.CIRCUIT_BREAKER_UPDATE:
        console.state.note_breaker_event(dict(event.payload))
    elif event.event_type in POSITION_EVENTS:
        console.state.positions_changed_ms = now_ms()  # this clock: asked before it, the view is old
    if event.event_type in FORWARDED_EVENTS:
        console.hub.broadcast(
            {
                "type": event.event_type,
                "ts_ms": event.ts_ms,
                "event_id": event.event_id,
                "service": event.service,
                "severity": event.severity.value,
                "reason_code": event.reason_code.value if event.reason_code else None,
                "operator_id": event.operator_id,
                "data": event.payload,
            }
        )
