"""Execution's loops and I/O wiring: the engine, the intent consumer, the exchange streams."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import cast

from pydantic import BaseModel

from titan_common.audit import AuditQueueFull
from titan_common.bus import INTENTS, Delivery, StreamConsumer
from titan_common.clock import now_ms
from titan_common.events import EventType, WalletUpdate
from titan_common.exchanges import ExchangeError, Wallet
from titan_common.exchanges.registry import adapter_for
from titan_common.messages import OrderIntent
from titan_common.reasons import ReasonCode
from titan_common.service import ServiceRuntime
from titan_common.settings import SystemMode
from titan_common.system_state import Mode
from titan_execution.core.exchange_health import clock_drifted, clock_offset_ms
from titan_execution.core.reconcile import Verdict
from titan_execution.runtime import metrics
from titan_execution.runtime.engine import EngineConfig, ExecutionEngine
from titan_execution.runtime.protection import alert_venue_closes, ensure_protected, raise_alert
from titan_execution.runtime.reconciler import Reconciler
from titan_execution.runtime.store import intents_by_state
from titan_execution.settings import ExecutionSettings

log = logging.getLogger(__name__)
AUDITED_EVENTS = frozenset({EventType.TRADE_CLOSED, EventType.EMERGENCY_FLATTEN})


async def _first_of(*events: asyncio.Event, timeout: float) -> None:
    """Return when any event is set, or after `timeout`."""
    waiters = [asyncio.create_task(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


async def setup(runtime: ServiceRuntime) -> None:
    settings = cast(ExecutionSettings, runtime.settings)
    # one trading venue per execution process: the first of TITAN_VENUES
    adapter = adapter_for(settings.venues[0], settings.venue_options(settings.venues[0]))
    holder: dict[str, ExecutionEngine] = {}
    ready = asyncio.Event()
    drift_seen = asyncio.Event()  # set by whoever notices drift between reconciles
    # until the engine has loaded instruments and positions, no entry may pass
    runtime.set_reason(ReasonCode.STARTUP_RECOVER)
    runtime.readiness.append(ready.is_set)
    runtime.components["ready"] = ready  # the emergency routes wait on it rather than refuse

    def engine() -> ExecutionEngine:
        return holder["engine"]

    def announce(event_type: EventType, payload: BaseModel) -> None:
        """State changes (a closed trade) are audited; snapshots (fills, positions, wallet)
        are broadcast only, their record being their own tables."""
        body = payload.model_dump(mode="json")
        if event_type in AUDITED_EVENTS:
            try:
                runtime.emit(event_type, payload=body)
            except AuditQueueFull:
                log.error("audit queue full; %s not audited (its row is in its table)", event_type)
        else:
            runtime.broadcast(event_type, body)

    def announce_wallet(wallet: Wallet) -> None:
        update = WalletUpdate.of(settings.exchange, wallet)
        runtime.components["wallet"] = update
        announce(EventType.WALLET_UPDATE, update)

    async def start_engine(rt: ServiceRuntime) -> None:
        assert rt.sessions is not None
        holder["engine"] = ExecutionEngine(
            config=EngineConfig(
                exchange=settings.exchange,
                run_id=settings.run_id,
                not_found_after=settings.not_found_after,
                not_found_min_age_ms=settings.not_found_min_age_ms,
                churn_limit_10s=settings.churn_limit_10s,
                churn_limit_60s=settings.churn_limit_60s,
            ),
            sessions=rt.sessions,
            adapter=adapter,
            mode=lambda: rt.state.mode,
            on_reason=rt.set_reason,
            on_event=announce,
            audit_now=rt.audit.record_now if rt.audit is not None else None,
        )
        reconciler = Reconciler(engine(), set_reason=rt.set_reason, protection_attempts=settings.protection_attempts)
        while not rt.stop.is_set():
            try:
                await engine().load()
                # startup reconcile runs before any new entry: unknowns resolved, positions adopted and protected
                await reconciler.run("STARTUP")
            except ExchangeError as exc:
                rt.set_reason(ReasonCode.WS_DOWN)
                log.warning("exchange not reachable at start (%s); retrying", exc)
                await rt.sleep(2.0)
                continue
            except Exception:
                log.exception("startup recovery failed; retrying")
                await rt.sleep(2.0)
                continue
            rt.set_reason(ReasonCode.WS_DOWN, False)
            rt.set_reason(ReasonCode.STARTUP_RECOVER, False)
            rt.components["engine"] = engine()
            rt.components["reconciler"] = reconciler
            ready.set()
            log.info("startup recovery done: %d instruments, %d open positions",
                     len(engine().filters), len(engine().book.open_positions()))  # fmt: skip
            return

    async def consume_intents(rt: ServiceRuntime) -> None:
        assert rt.redis is not None
        await ready.wait()
        consumer = StreamConsumer(
            rt.redis, INTENTS, group=settings.consumer_group, consumer=f"execution-{settings.run_id}", block_ms=500
        )

        async def handle(delivery: Delivery[OrderIntent]) -> None:
            outcome = await engine().handle_intent(delivery.message)
            log.info("intent %s -> %s %s", delivery.message.intent_id, outcome.state, outcome.detail)

        await consumer.run(handle, rt.stop)

    async def write_deferred(rt: ServiceRuntime) -> None:
        """What emergency actions could not write while Postgres was down, written when it returns."""
        await ready.wait()
        while not rt.stop.is_set():
            if engine().deferred and await engine().flush_deferred():
                log.info("wrote rows deferred during the Postgres outage; %d left", len(engine().deferred))
            await rt.sleep(1.0)

    async def resolve_loop(rt: ServiceRuntime) -> None:
        """SENT_UNKNOWN every second; open intents whose reports may be lost every few seconds."""
        await ready.wait()
        last_refresh = 0.0
        while not rt.stop.is_set():
            await engine().resolve_unknown()
            if asyncio.get_running_loop().time() - last_refresh >= settings.open_refresh_s:
                await engine().refresh_open_intents(min_age_ms=int(settings.open_refresh_s * 1000))
                last_refresh = asyncio.get_running_loop().time()
            await rt.sleep(settings.resolve_interval_s)

    async def protect(symbols: set[str]) -> None:
        """After fills: check the stop on the exchange for every touched symbol."""
        try:
            for position in await adapter.positions():
                if position.symbol in symbols:
                    await ensure_protected(
                        engine(),
                        position,
                        attempts=settings.protection_attempts,
                        on_failure=lambda reason: runtime.set_reason(reason, True),
                    )
        except ExchangeError as exc:
            log.error("protection check failed: %s", exc)

    async def private_stream(rt: ServiceRuntime) -> None:
        await ready.wait()
        async for event in adapter.private_events():
            if event.wallet is not None:
                announce_wallet(event.wallet)
            marks = {p.symbol: p.mark_price for p in event.positions if p.mark_price is not None}
            if marks:
                await engine().mark_to_market(marks)
            for order in event.orders:
                await engine().apply_order_update(order)
            touched = set()
            for execution in event.executions:
                if await engine().on_execution(execution, "WS") and execution.exec_type.changes_position:
                    touched.add(execution.symbol)
            if touched:
                await protect(touched)
            await alert_venue_closes(engine())
            for symbol in sorted(engine().take_foreign_fills()):
                # a position Titan did not open: adopted, protected above, alerted, manage-only until clean
                rt.set_reason(ReasonCode.RECONCILE_DRIFT, True)
                drift_seen.set()  # manage-only until the follow-up reconcile finds it clean
                await raise_alert(engine(), symbol, ReasonCode.RECONCILE_DRIFT, "fill from an order Titan did not send")
            if rt.stop.is_set():
                return

    async def reconcile_loop(rt: ServiceRuntime) -> None:
        """Every reconcile_interval_s; after drift (a non-OK run, or drift seen elsewhere,
        e.g. foreign fills) a follow-up after reconcile_recheck_s, since the system runs
        manage-only until a clean run."""
        await ready.wait()
        while not rt.stop.is_set():
            reconciler = rt.components["reconciler"]
            clean = reconciler.last is None or reconciler.last.verdict is Verdict.OK
            if clean and not drift_seen.is_set():
                await _first_of(rt.stop, drift_seen, timeout=settings.reconcile_interval_s)
            if not clean or drift_seen.is_set():
                await rt.sleep(settings.reconcile_recheck_s)
            drift_seen.clear()
            if rt.stop.is_set():
                return
            try:
                await reconciler.run("PERIODIC")
            except ExchangeError as exc:
                log.warning("periodic reconcile failed: %s", exc)

    async def poll_fills(rt: ServiceRuntime) -> None:
        """REST is the truth: fills the stream missed are picked up here, once each.

        Every 5 s normally; every second while the private stream is down or unsettled."""
        await ready.wait()
        since = await engine().fills_resume_ms()
        while not rt.stop.is_set():
            try:
                started = now_ms()
                await engine().catch_up_fills(since)
                since = started - 60_000  # windows overlap by a minute; exec_id makes that harmless
                if ReasonCode.WS_DOWN in rt.state.reasons:
                    for order in await adapter.open_orders():
                        await engine().apply_order_update(order)
            except ExchangeError as exc:
                log.warning("fill poll failed: %s", exc)
            await rt.sleep(1.0 if ReasonCode.WS_DOWN in rt.state.reasons else 5.0)

    async def watch_stream(rt: ServiceRuntime) -> None:
        """WebSocket loss: DEGRADE with WS_DOWN and fast REST polling, until the stream has
        been up for ws_stable_s; then a reconcile, because REST is the truth."""
        await ready.wait()
        up_since: float | None = None
        reconnects_seen = adapter.stream_reconnects
        while not rt.stop.is_set():
            connected = adapter.private_stream_connected()
            if adapter.stream_reconnects > reconnects_seen:
                # pybit came back by itself, often too fast for WS_DOWN to be seen: whatever the
                # stream carried meanwhile is lost, so REST decides (a reconcile, as on any reconnect)
                metrics.WS_RECONNECTS.inc(adapter.stream_reconnects - reconnects_seen)
                reconnects_seen = adapter.stream_reconnects
                if ReasonCode.WS_DOWN not in rt.state.reasons:
                    with contextlib.suppress(ExchangeError):
                        await rt.components["reconciler"].run("WS_RECONNECT")
            if connected is False:
                up_since = None
                if ReasonCode.WS_DOWN not in rt.state.reasons:
                    log.warning("private stream lost; polling REST until it is stable")
                rt.set_reason(ReasonCode.WS_DOWN, True)
            elif connected and ReasonCode.WS_DOWN in rt.state.reasons:
                up_since = up_since or asyncio.get_running_loop().time()
                if asyncio.get_running_loop().time() - up_since >= settings.ws_stable_s:
                    with contextlib.suppress(ExchangeError):
                        await rt.components["reconciler"].run("WS_RECONNECT")
                    rt.set_reason(ReasonCode.WS_DOWN, False)
                    up_since = None
            await rt.sleep(0.5)

    async def refresh_instruments(rt: ServiceRuntime) -> None:
        await ready.wait()
        while not rt.stop.is_set():
            await rt.sleep(3600.0)
            with contextlib.suppress(ExchangeError):
                changed = await engine().refresh_instruments()
                if changed:
                    rt.emit("FILTERS_REFRESHED", reason_code=ReasonCode.FILTERS_REFRESHED, payload={"changed": changed})

    runtime.add_loop("startup-recover", start_engine)
    runtime.add_loop("intents", consume_intents)
    runtime.add_loop("resolver", resolve_loop)
    runtime.add_loop("deferred-writes", write_deferred)
    runtime.add_loop("reconcile", reconcile_loop)
    runtime.add_loop("private-stream", private_stream)

    async def watch_clock(rt: ServiceRuntime) -> None:
        """Sync the offset to the exchange clock. Drift: CLOCK_DRIFT (DEGRADE; PAUSE in LIVE).
        A good sync and a signed call that succeeds also clear TIMESTAMP_MISMATCH."""
        await ready.wait()
        while not rt.stop.is_set():
            try:
                sent = now_ms()
                server = await adapter.server_time_ms()
                offset = clock_offset_ms(sent, server, now_ms())
                drifted = clock_drifted(offset, settings.clock_drift_threshold_ms)
                if drifted:
                    log.warning("clock offset to the exchange is %d ms", offset)
                rt.set_reason(ReasonCode.CLOCK_DRIFT, drifted)
                if not drifted and ReasonCode.TIMESTAMP_MISMATCH in rt.state.reasons:
                    await adapter.wallet()  # a signed call the exchange accepts again
                    rt.set_reason(ReasonCode.TIMESTAMP_MISMATCH, False)
            except ExchangeError as exc:
                log.warning("clock check failed: %s", exc)
            await rt.sleep(settings.clock_check_s)

    if settings.system_mode is SystemMode.LIVE:
        runtime.mode_overrides[ReasonCode.CLOCK_DRIFT] = Mode.PAUSE

    async def poll_wallet(rt: ServiceRuntime) -> None:
        """The account's equity every wallet_poll_s over REST, whatever the stream does."""
        await ready.wait()
        while not rt.stop.is_set():
            try:
                announce_wallet(await adapter.wallet())
            except ExchangeError as exc:
                log.warning("wallet poll failed: %s", exc)
            await rt.sleep(settings.wallet_poll_s)

    async def poll_marks(rt: ServiceRuntime) -> None:
        """Live PnL: the exchange's mark for every open position every mark_poll_s (the
        private stream only reports a position when it changes)."""
        await ready.wait()
        while not rt.stop.is_set():
            if engine().book.open_positions():
                try:
                    positions = await adapter.positions()
                    await engine().mark_to_market({p.symbol: p.mark_price for p in positions if p.mark_price})
                except ExchangeError as exc:
                    log.warning("mark poll failed: %s", exc)
            await rt.sleep(settings.mark_poll_s)

    runtime.add_loop("marks", poll_marks)
    runtime.add_loop("wallet", poll_wallet)
    runtime.add_loop("fill-poll", poll_fills)
    runtime.add_loop("clock", watch_clock)
    runtime.add_loop("watch-stream", watch_stream)
    runtime.add_loop("instruments", refresh_instruments)
    health_cache: dict[str, object] = {"intents": {}}
    rate_hits_seen = [0]

    async def watch_state(rt: ServiceRuntime) -> None:
        """Intents by state and open positions, for /health and /metrics (every 2 s)."""
        while not rt.stop.is_set():
            if rt.sessions is not None and rt.checks.get("db") and rt.checks["db"].ok:
                with contextlib.suppress(Exception):
                    health_cache["intents"] = await intents_by_state(rt.sessions)
                    for state, count in health_cache["intents"].items():  # type: ignore[attr-defined]
                        metrics.INTENTS.labels(state).set(count)
            if "engine" in rt.components:
                metrics.ACTIVE_POSITIONS.set(len(engine().book.open_positions()))
                if ReasonCode.RISK_CHURN_LIMIT_HIT in rt.state.reasons:
                    rt.set_reason(ReasonCode.RISK_CHURN_LIMIT_HIT, bool(engine().churn.symbols_over_limit(now_ms())))
            # RATE_LIMIT (DEGRADE) holds until the exchange has stopped refusing us for a while
            since_refused_s = (now_ms() - adapter.last_rate_limited_ms) / 1000
            rt.set_reason(ReasonCode.RATE_LIMIT, since_refused_s < settings.rate_limit_stability_s)
            metrics.RATE_LIMIT_HITS.inc(adapter.rate_limit_hits - rate_hits_seen[0])
            rate_hits_seen[0] = adapter.rate_limit_hits
            await rt.sleep(1.0)

    def exchange_health() -> dict[str, object]:
        reconciler = runtime.components.get("reconciler")
        last = reconciler.last if isinstance(reconciler, Reconciler) else None
        return {
            "exchange": {
                "name": settings.exchange,
                "endpoint": settings.bybit_endpoint,
                "connected": ready.is_set() and ReasonCode.WS_DOWN not in runtime.state.reasons,
                "ready": ready.is_set(),
            },
            "last_reconcile": None
            if last is None
            else {"run_id": last.run_id, "status": last.verdict.value, "finished_ms": last.finished_ms},
            "intents_by_state": health_cache["intents"],
        }

    runtime.add_loop("watch-state", watch_state)
    runtime.extra_health.append(exchange_health)
