"""Execution's loops and I/O wiring: the engine, the intent consumer, the exchange streams."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, cast

from pydantic import BaseModel

from titan_common.audit import AuditQueueFull
from titan_common.bus import INTENTS, Delivery, StreamConsumer
from titan_common.clock import now_ms
from titan_common.db.engine import DB_ERRORS
from titan_common.events import EventType, WalletUpdate
from titan_common.exchanges import ExchangeError, OrderRejected, Wallet
from titan_common.exchanges.registry import adapter_for, venue
from titan_common.logging import best_effort
from titan_common.messages import IntentState as S
from titan_common.messages import OrderIntent
from titan_common.metrics import label_every_sample
from titan_common.reasons import ReasonCode
from titan_common.service import ServiceRuntime
from titan_common.settings import SystemMode
from titan_common.system_state import Mode
from titan_execution.core.exchange_health import clock_drifted, clock_offset_ms
from titan_execution.core.reconcile import Verdict
from titan_execution.runtime import metrics, store
from titan_execution.runtime.engine import EngineConfig, ExecutionEngine
from titan_execution.runtime.protection import alert_venue_closes, ensure_protected, raise_alert
from titan_execution.runtime.reconciler import Reconciler
from titan_execution.runtime.titan_stops import TitanStops
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


class Execution:
    """Execution's long-lived parts and its loops. The routes reach it with `execution_of`.

    Until the startup reconcile is done (`ready`), `engine` and `reconciler` are None and no
    loop but the startup one runs: no entry may pass before positions are known and protected.
    """

    def __init__(self, runtime: ServiceRuntime, settings: ExecutionSettings) -> None:
        self.runtime = runtime
        self.settings = settings
        # one trading venue per execution process (TITAN_EXECUTION_VENUE)
        self.venue = settings.execution_venue
        self.adapter: Any = adapter_for(self.venue, settings.venue_options(self.venue))
        # a spot venue has no stop orders: Titan keeps the stops itself (runtime/titan_stops.py)
        self.spot = venue(self.venue).spot
        self._titan_stops: TitanStops | None = None
        self.ready = asyncio.Event()
        self.drift_seen = asyncio.Event()  # set by whoever notices drift between reconciles
        # symbols whose positions fills changed, their stops not yet checked (protection_loop)
        self.unchecked: set[str] = set()
        self.protection_due = asyncio.Event()
        self._engine: ExecutionEngine | None = None
        self._reconciler: Reconciler | None = None
        self.wallet: WalletUpdate | None = None  # the last stream or poll report
        self.intents_by_state: dict[str, int] = {}
        self._rate_hits_seen = 0

    @property
    def engine(self) -> ExecutionEngine:
        assert self._engine is not None, "the engine is built by the startup loop"
        return self._engine

    @property
    def reconciler(self) -> Reconciler:
        assert self._reconciler is not None, "the reconciler is built by the startup loop"
        return self._reconciler

    @property
    def started(self) -> bool:
        return self.ready.is_set()

    def register(self) -> None:
        runtime = self.runtime
        # until the engine has loaded instruments and positions, no entry may pass
        runtime.set_reason(ReasonCode.STARTUP_RECOVER)
        runtime.readiness.append(self.ready.is_set)
        if self.settings.system_mode is SystemMode.LIVE:
            runtime.mode_overrides[ReasonCode.CLOCK_DRIFT] = Mode.PAUSE
        for name, loop in (
            ("startup-recover", self.start_engine),
            ("intents", self.consume_intents),
            ("resolver", self.resolve_loop),
            ("deferred-writes", self.write_deferred),
            ("reconcile", self.reconcile_loop),
            *(
                (("titan-stops", self.watch_titan_stops),)
                if self.spot
                else (("private-stream", self.private_stream), ("marks", self.poll_marks))
            ),
            ("protection", self.protection_loop),
            ("wallet", self.poll_wallet),
            ("fill-poll", self.poll_fills),
            ("clock", self.watch_clock),
            ("watch-stream", self.watch_stream),
            ("instruments", self.refresh_instruments),
            ("watch-state", self.watch_state),
        ):
            runtime.add_loop(name, loop)
        runtime.extra_health.append(self.exchange_health)

    # --- events out ---

    def announce(self, event_type: EventType, payload: BaseModel) -> None:
        """State changes (a closed trade) are audited; snapshots (fills, positions, wallet)
        are broadcast only, their record being their own tables."""
        body = payload.model_dump(mode="json")
        if event_type in AUDITED_EVENTS:
            try:
                self.runtime.emit(event_type, payload=body)
            except AuditQueueFull:
                log.error("audit queue full; %s not audited (its row is in its table)", event_type)
        else:
            self.runtime.broadcast(event_type, body)

    def announce_wallet(self, wallet: Wallet) -> None:
        self.wallet = WalletUpdate.of(self.settings.exchange, wallet)
        self.announce(EventType.WALLET_UPDATE, self.wallet)

    # --- start-up ---

    async def start_engine(self, rt: ServiceRuntime) -> None:
        assert rt.sessions is not None
        settings = self.settings
        engine = ExecutionEngine(
            config=EngineConfig(
                exchange=settings.exchange,
                run_id=settings.run_id,
                not_found_after=settings.not_found_after,
                not_found_min_age_ms=settings.not_found_min_age_ms,
                churn_limit_10s=settings.churn_limit_10s,
                churn_limit_60s=settings.churn_limit_60s,
                price_band_share=settings.price_band_share,
                spot=self.spot,
                venue=self.venue,
            ),
            sessions=rt.sessions,
            adapter=self.adapter,
            mode=lambda: rt.state.mode,
            on_reason=rt.set_reason,
            on_event=self.announce,
            audit_now=rt.audit.record_now if rt.audit is not None else None,
        )
        if self.spot:
            self._titan_stops = TitanStops(engine, set_reason=rt.set_reason, stale_after_s=settings.price_stale_s)
        reconciler = Reconciler(
            engine,
            set_reason=rt.set_reason,
            protection_attempts=settings.protection_attempts,
            guard=self._titan_stops.guard if self._titan_stops is not None else None,
        )
        while not rt.stop.is_set():
            try:
                await self.adapter.check_trading_allowed()
                await engine.load()
                self.adapter.watch_symbols(await self._own_symbols(engine))
                # startup reconcile runs before any new entry: unknowns resolved, positions adopted and protected
                await reconciler.run("STARTUP")
            except OrderRejected as exc:
                # the venue will not take this account's orders (MEXC's contract API): say so, no pretending
                log.error("%s refuses to trade: %s", self.venue, exc)
                rt.set_reason(ReasonCode.WS_DOWN)
                await rt.sleep(30.0)
                continue
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
            self._engine, self._reconciler = engine, reconciler
            self.ready.set()
            log.info("startup recovery done: %d instruments, %d open positions",
                     len(engine.filters), len(engine.book.open_positions()))  # fmt: skip
            return

    async def _own_symbols(self, engine: ExecutionEngine) -> set[str]:
        """The symbols of this account's open positions and unfinished intents (a venue that
        needs a symbol per query must cover them after a restart)."""
        symbols = {p.symbol for p in engine.book.open_positions()}
        assert self.runtime.sessions is not None
        open_states = (S.CREATED, S.SENT_UNKNOWN, S.CONFIRMED, S.PARTIALLY_FILLED, S.NOT_FOUND)
        async with self.runtime.sessions() as session:
            rows = await store.intents_in(session, self.settings.exchange, *open_states)
        return symbols | {row.symbol for row in rows}

    # --- intents and what became of them ---

    async def consume_intents(self, rt: ServiceRuntime) -> None:
        assert rt.redis is not None
        await self.ready.wait()
        settings = self.settings
        # one consumer group per venue account: each execution process reads every intent
        # and acts on its own venue's alone, so a venue that is down delays only its own
        consumer = StreamConsumer(
            rt.redis,
            INTENTS,
            group=f"{settings.consumer_group}-{self.venue}",
            consumer=f"execution-{self.venue}-{settings.run_id}",
            block_ms=500,
        )

        async def handle(delivery: Delivery[OrderIntent]) -> None:
            if delivery.message.exchange != self.venue:
                return  # another venue's execution places it
            outcome = await self.engine.handle_intent(delivery.message)
            log.info("intent %s -> %s %s", delivery.message.intent_id, outcome.state, outcome.detail)

        # one symbol's intents in order (an exit after its entry); other symbols' alongside
        await consumer.run(handle, rt.stop, key=lambda intent: intent.symbol)

    async def write_deferred(self, rt: ServiceRuntime) -> None:
        """What emergency actions could not write while Postgres was down, written when it returns."""
        await self.ready.wait()
        while not rt.stop.is_set():
            if self.engine.deferred and await self.engine.flush_deferred():
                log.info("wrote rows deferred during the Postgres outage; %d left", len(self.engine.deferred))
            await rt.sleep(1.0)

    async def resolve_loop(self, rt: ServiceRuntime) -> None:
        """SENT_UNKNOWN every second; open intents whose reports may be lost every few seconds."""
        await self.ready.wait()
        last_refresh = 0.0
        refresh_s = self.settings.open_refresh_s
        while not rt.stop.is_set():
            await self.engine.resolve_unknown()
            if asyncio.get_running_loop().time() - last_refresh >= refresh_s:
                await self.engine.refresh_open_intents(min_age_ms=int(refresh_s * 1000))
                last_refresh = asyncio.get_running_loop().time()
            await rt.sleep(self.settings.resolve_interval_s)

    # --- the venue's streams and REST ---

    async def protect(self, symbols: set[str]) -> None:
        """After fills: check the stop on the exchange for every touched symbol (on a spot
        venue, give it Titan's own)."""
        if self._titan_stops is not None:
            await self._titan_stops.guard(symbols)
            return
        try:
            for position in await self.adapter.positions():
                if position.symbol in symbols:
                    await ensure_protected(
                        self.engine,
                        position,
                        attempts=self.settings.protection_attempts,
                        on_failure=lambda reason: self.runtime.set_reason(reason, True),
                    )
        except ExchangeError as exc:
            log.error("protection check failed: %s", exc)

    async def protection_loop(self, rt: ServiceRuntime) -> None:
        """Every position a fill touched gets its stop checked (and set, or the position closed),
        the symbols of many fills in one round: one positions() call however fast fills come."""
        await self.ready.wait()
        while not rt.stop.is_set():
            await _first_of(rt.stop, self.protection_due, timeout=1.0)
            self.protection_due.clear()
            symbols, self.unchecked = self.unchecked, set()
            if symbols:
                await self.protect(symbols)

    async def private_stream(self, rt: ServiceRuntime) -> None:
        await self.ready.wait()
        engine = self.engine
        async for event in rt.until_stopped(self.adapter.private_events()):
            if event.wallet is not None:
                self.announce_wallet(event.wallet)
            marks = {p.symbol: p.mark_price for p in event.positions if p.mark_price is not None}
            if marks:
                await engine.mark_to_market(marks)
            for order in event.orders:
                await engine.apply_order_update(order)
            touched = set()
            for execution in event.executions:
                if await engine.on_execution(execution, "WS") and execution.exec_type.changes_position:
                    touched.add(execution.symbol)
            await self.after_fills(touched)
            if rt.stop.is_set():
                return

    async def after_fills(self, touched: set[str]) -> None:
        """New fills, from the stream or caught up over REST: stops checked where positions
        changed, liquidations and foreign fills alerted (manage-only until a clean reconcile)."""
        engine = self.engine
        if touched:
            # checked by the protection loop: the next fills are never held behind its REST calls
            self.unchecked |= touched
            self.protection_due.set()
        await alert_venue_closes(engine)
        for symbol in sorted(engine.take_foreign_fills()):
            # a position Titan did not open: adopted, protected above, alerted, manage-only until clean
            self.runtime.set_reason(ReasonCode.RECONCILE_DRIFT, True)
            self.drift_seen.set()  # manage-only until the follow-up reconcile finds it clean
            await raise_alert(engine, symbol, ReasonCode.RECONCILE_DRIFT, "fill from an order Titan did not send")

    async def reconcile_loop(self, rt: ServiceRuntime) -> None:
        """Every reconcile_interval_s; after drift (a non-OK run, or drift seen elsewhere,
        e.g. foreign fills) a follow-up after reconcile_recheck_s, since the system runs
        manage-only until a clean run."""
        await self.ready.wait()
        reconciler, drift_seen = self.reconciler, self.drift_seen
        while not rt.stop.is_set():
            clean = reconciler.last is None or reconciler.last.verdict is Verdict.OK
            if clean and not drift_seen.is_set():
                await _first_of(rt.stop, drift_seen, timeout=self.settings.reconcile_interval_s)
            if not clean or drift_seen.is_set():
                await rt.sleep(self.settings.reconcile_recheck_s)
            drift_seen.clear()
            if rt.stop.is_set():
                return
            try:
                await reconciler.run("PERIODIC")
            except ExchangeError as exc:
                log.warning("periodic reconcile failed: %s", exc)

    async def poll_fills(self, rt: ServiceRuntime) -> None:
        """REST is the truth: fills the stream missed are picked up here, once each.

        Every 5 s normally; every second while the private stream is down or unsettled."""
        await self.ready.wait()
        since = await self.engine.fills_resume_ms()
        while not rt.stop.is_set():
            try:
                started = now_ms()
                await self.after_fills(await self.engine.catch_up_fills(since))
                since = started - 60_000  # windows overlap by a minute; exec_id makes that harmless
                if ReasonCode.WS_DOWN in rt.state.reasons:
                    for order in await self.adapter.open_orders():
                        await self.engine.apply_order_update(order)
            except ExchangeError as exc:
                log.warning("fill poll failed: %s", exc)
            # with no private stream (spot), REST is the only way fills arrive
            await rt.sleep(1.0 if self.spot or ReasonCode.WS_DOWN in rt.state.reasons else 5.0)

    async def watch_stream(self, rt: ServiceRuntime) -> None:
        """WebSocket loss: DEGRADE with WS_DOWN and fast REST polling, until the stream has
        been up for ws_stable_s; then a reconcile, because REST is the truth."""
        await self.ready.wait()
        adapter = self.adapter
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
                        await self.reconciler.run("WS_RECONNECT")
            if connected is False:
                up_since = None
                if ReasonCode.WS_DOWN not in rt.state.reasons:
                    log.warning("private stream lost; polling REST until it is stable")
                rt.set_reason(ReasonCode.WS_DOWN, True)
            elif connected and ReasonCode.WS_DOWN in rt.state.reasons:
                up_since = up_since or asyncio.get_running_loop().time()
                if asyncio.get_running_loop().time() - up_since >= self.settings.ws_stable_s:
                    with contextlib.suppress(ExchangeError):
                        await self.reconciler.run("WS_RECONNECT")
                    rt.set_reason(ReasonCode.WS_DOWN, False)
                    up_since = None
            await rt.sleep(0.5)

    async def watch_titan_stops(self, rt: ServiceRuntime) -> None:
        """A spot venue's stops, kept by Titan: the price at least once a second, an exit
        through the one door when a stop is crossed, DEGRADE (API_LAG) when the feed is old."""
        await self.ready.wait()
        stops = self._titan_stops
        assert stops is not None
        while not rt.stop.is_set():
            try:
                await stops.tick()
            except ExchangeError as exc:
                log.warning("Titan-side stop check failed: %s", exc)
            await rt.sleep(self.settings.titan_stop_poll_s)

    async def refresh_instruments(self, rt: ServiceRuntime) -> None:
        await self.ready.wait()
        while not rt.stop.is_set():
            await rt.sleep(3600.0)
            with contextlib.suppress(ExchangeError):
                changed = await self.engine.refresh_instruments()
                if changed:
                    rt.emit("FILTERS_REFRESHED", reason_code=ReasonCode.FILTERS_REFRESHED, payload={"changed": changed})

    async def watch_clock(self, rt: ServiceRuntime) -> None:
        """Sync the offset to the exchange clock. Drift: CLOCK_DRIFT (DEGRADE; PAUSE in LIVE).
        A good sync and a signed call that succeeds also clear TIMESTAMP_MISMATCH."""
        await self.ready.wait()
        while not rt.stop.is_set():
            try:
                sent = now_ms()
                server = await self.adapter.server_time_ms()
                offset = clock_offset_ms(sent, server, now_ms())
                drifted = clock_drifted(offset, self.settings.clock_drift_threshold_ms)
                if drifted:
                    log.warning("clock offset to the exchange is %d ms", offset)
                rt.set_reason(ReasonCode.CLOCK_DRIFT, drifted)
                if not drifted and ReasonCode.TIMESTAMP_MISMATCH in rt.state.reasons:
                    await self.adapter.wallet()  # a signed call the exchange accepts again
                    rt.set_reason(ReasonCode.TIMESTAMP_MISMATCH, False)
            except ExchangeError as exc:
                log.warning("clock check failed: %s", exc)
            await rt.sleep(self.settings.clock_check_s)

    async def poll_wallet(self, rt: ServiceRuntime) -> None:
        """The account's equity every wallet_poll_s over REST, whatever the stream does."""
        await self.ready.wait()
        while not rt.stop.is_set():
            try:
                self.announce_wallet(await self.adapter.wallet())
            except ExchangeError as exc:
                log.warning("wallet poll failed: %s", exc)
            await rt.sleep(self.settings.wallet_poll_s)

    async def poll_marks(self, rt: ServiceRuntime) -> None:
        """Live PnL: the exchange's mark for every open position every mark_poll_s (the
        private stream only reports a position when it changes)."""
        await self.ready.wait()
        while not rt.stop.is_set():
            if self.engine.book.open_positions():
                try:
                    positions = await self.adapter.positions()
                    await self.engine.mark_to_market({p.symbol: p.mark_price for p in positions if p.mark_price})
                except ExchangeError as exc:
                    log.warning("mark poll failed: %s", exc)
            await rt.sleep(self.settings.mark_poll_s)

    # --- health ---

    async def watch_state(self, rt: ServiceRuntime) -> None:
        """Intents by state and open positions, for /health and /metrics (every second)."""
        while not rt.stop.is_set():
            if rt.sessions is not None and rt.checks.get("db") and rt.checks["db"].ok:
                with best_effort(log, "counting intents", *DB_ERRORS):
                    self.intents_by_state = await store.intents_by_state(rt.sessions, self.settings.exchange)
                    for state, count in self.intents_by_state.items():
                        metrics.INTENTS.labels(state).set(count)
            if self.started:
                metrics.ACTIVE_POSITIONS.set(len(self.engine.book.open_positions()))
                if ReasonCode.RISK_CHURN_LIMIT_HIT in rt.state.reasons:
                    churning = bool(self.engine.churn.symbols_over_limit(now_ms()))
                    rt.set_reason(ReasonCode.RISK_CHURN_LIMIT_HIT, churning)
            # RATE_LIMIT (DEGRADE) holds until the exchange has stopped refusing us for a while
            since_refused_s = (now_ms() - self.adapter.last_rate_limited_ms) / 1000
            rt.set_reason(ReasonCode.RATE_LIMIT, since_refused_s < self.settings.rate_limit_stability_s)
            metrics.RATE_LIMIT_HITS.inc(self.adapter.rate_limit_hits - self._rate_hits_seen)
            self._rate_hits_seen = self.adapter.rate_limit_hits
            connected = self.venue_connected
            metrics.VENUE_CONNECTED.set(1 if connected else 0)
            rt.beat_fields.update(venue=self.venue, connected=connected)
            await rt.sleep(1.0)

    @property
    def venue_connected(self) -> bool:
        """Started, its private stream up, and (a spot venue, with no private stream) its prices flowing."""
        return (
            self.started
            and ReasonCode.WS_DOWN not in self.runtime.state.reasons
            and not (self._titan_stops is not None and self._titan_stops.stale)
        )

    def exchange_health(self) -> dict[str, object]:
        last = self._reconciler.last if self._reconciler is not None else None
        return {
            "exchange": {
                "name": self.settings.exchange,
                "venue": self.venue,
                "endpoint": self.settings.venue_options(self.venue).get("endpoint"),
                "connected": self.venue_connected,
                "ready": self.started,
                **self._feed_health(),
            },
            "last_reconcile": None
            if last is None
            else {"run_id": last.run_id, "status": last.verdict.value, "finished_ms": last.finished_ms},
            "intents_by_state": self.intents_by_state,
        }

    def _feed_health(self) -> dict[str, object]:
        """How the venue's state reaches Titan: its private stream, or (spot) REST polling,
        with the price feed's age that Titan's own stops depend on."""
        stops = self._titan_stops
        if not self.spot:
            return {"feed": "websocket", "stops": "venue"}
        last = stops.last_price_ms if stops is not None else None
        return {
            "feed": "rest-poll",
            "stops": "titan",
            "price_age_ms": None if last is None else now_ms() - last,
            "price_stale": stops is None or stops.stale,
        }


def execution_of(runtime: ServiceRuntime) -> Execution:
    """The service's Execution, for its routes."""
    execution = runtime.components["execution"]
    assert isinstance(execution, Execution)
    return execution


async def setup(runtime: ServiceRuntime) -> None:
    settings = cast(ExecutionSettings, runtime.settings)
    label_every_sample(venue=settings.execution_venue)  # one process per venue: every metric is its venue's
    execution = Execution(runtime, settings)
    runtime.components["execution"] = execution
    execution.register()
