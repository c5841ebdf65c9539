"""The scavenger's loops and I/O wiring.

  universe   whitelist + top N by turnover; re-chosen hourly and on CONFIG_CHANGED
  intake     the public stream into the hot path (trap book -> signal emitter)
  trap-map   REST history + stream state -> the trap map, every trap_rebuild_s
  sensor     data freshness -> WS_DOWN (PAUSE) and back; SENSOR_STATUS_UPDATED
  control    titan:control -> OPERATOR_PAUSE / KILL_SWITCH (persisted) / RESUME
  scanner    the breadth cycle of every 15-minute slot (log-only)

Signals leave only while the service is NORMAL: no pause, fresh data, a trap map, the
audit trail and Redis available.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any, cast

from titan_common.bus import SIGNALS, StreamProducer
from titan_common.clock import now_ms
from titan_common.config import DEFAULT_WHITELIST, active_config
from titan_common.events import EventType, SensorStatusUpdated, TrapMapUpdated, payload_of
from titan_common.exchanges import ExchangeError
from titan_common.exchanges.registry import adapter_for
from titan_common.exchanges.registry import venue as venue_traits
from titan_common.messages import Signal
from titan_common.metrics import label_every_sample
from titan_common.reasons import ReasonCode
from titan_common.service import ServiceRuntime
from titan_common.system_state import Mode
from titan_scavenger.core.market import MINUTE_MS
from titan_scavenger.core.signals import SignalConfig
from titan_scavenger.core.sprung import SprungConfig, TrapBook
from titan_scavenger.core.stream import StreamHealth, StreamStatus
from titan_scavenger.core.traps import EMPTY_MAP, TrapConfig, TrapMap, TrapType, build_trap_map
from titan_scavenger.runtime import metrics
from titan_scavenger.runtime.control import ControlState
from titan_scavenger.runtime.emitter import SignalEmitter
from titan_scavenger.runtime.intake import Intake, Pipeline
from titan_scavenger.runtime.live import LiveHub
from titan_scavenger.runtime.market import MarketData
from titan_scavenger.runtime.scanner import BreadthScanner, ScannerConfig
from titan_scavenger.runtime.views import trap_views
from titan_scavenger.settings import ScavengerSettings

log = logging.getLogger(__name__)


@dataclass
class Scavenger:
    """The long-lived parts, for the routes (runtime.components["scavenger"])."""

    settings: ScavengerSettings
    runtime: ServiceRuntime
    adapter: Any  # the venue adapter (registry), with its market streams
    hub: LiveHub
    book: TrapBook
    market: MarketData
    health: StreamHealth
    trap_cfg: TrapConfig
    pipeline: Pipeline
    intake: Intake
    emitter: SignalEmitter
    scanner: BreadthScanner
    control: ControlState
    trap_map: TrapMap = EMPTY_MAP
    whitelist: tuple[str, ...] = DEFAULT_WHITELIST
    universe_changed: asyncio.Event = field(default_factory=asyncio.Event)
    universe_ready: asyncio.Event = field(default_factory=asyncio.Event)
    producer: StreamProducer[Signal] | None = None
    last_status: dict[str, Any] = field(default_factory=dict)
    map_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    built_monotonic: float = -math.inf  # when the map was last built (either way)

    def armed(self) -> bool:
        return self.runtime.state.mode is Mode.NORMAL

    @property
    def proximity_pct(self) -> float:
        return self.settings.proximity_pct

    # --- views -----------------------------------------------------------------------------

    def trap_map_payload(self) -> TrapMapUpdated:
        views = trap_views(self.trap_map, self.book, self.market, self.proximity_pct)
        return TrapMapUpdated(
            cycle_id=self.trap_map.cycle_id,
            built_ms=self.trap_map.built_ms,
            symbols=self.trap_map.symbols,
            traps=tuple(views),
        )

    def sensor_status(self, now: int) -> SensorStatusUpdated:
        state = self.runtime.state
        return SensorStatusUpdated(
            emitting=self.armed(),
            mode=state.mode.value,
            reasons=tuple(r.value for r in state.reasons),
            stream=self.stream_status(now).value,
            last_data_age_ms=self.health.age_ms(now),
            stream_drops=self.health.downs,
            symbols=self.intake.symbols,
            trades_seen=self.pipeline.trades_seen,
            traps=len(self.trap_map.traps),
            trap_map_age_ms=now - self.trap_map.built_ms if self.trap_map.built_ms else None,
        )

    def stream_status(self, now: int) -> StreamStatus:
        return self.health.evaluate(now)

    def announce(self, event_type: EventType, payload: dict[str, Any]) -> None:
        self.hub.publish(self.runtime.broadcast(event_type, payload))

    # --- loops ------------------------------------------------------------------------------

    def register(self) -> None:
        runtime = self.runtime
        # stale data must stop signals outright: WS_DOWN pauses the scavenger (the shared table degrades)
        runtime.mode_overrides[ReasonCode.WS_DOWN] = Mode.PAUSE
        # until the pause flag is read and a trap map exists, nothing may spring
        runtime.set_reason(ReasonCode.STARTUP_RECOVER)
        runtime.readiness.append(lambda: ReasonCode.STARTUP_RECOVER not in runtime.state.reasons)
        runtime.add_loop("universe", self.universe_loop)
        runtime.add_loop("intake", self.intake_loop)
        runtime.add_loop("trap-map", self.trap_map_loop)
        runtime.add_loop("sensor", self.sensor_loop)
        runtime.add_loop("control", self.control_loop)
        if self.settings.scanner_enabled:
            runtime.add_loop("scanner", self.scanner_loop)
        runtime.extra_health.append(self.health_extra)

    async def read_whitelist(self, rt: ServiceRuntime) -> tuple[str, ...]:
        assert rt.sessions is not None
        try:
            async with rt.sessions() as session:
                return tuple((await active_config(session)).config.asset_whitelist)
        except Exception as exc:
            log.warning("active config unreadable (%s); whitelist stays %s", exc, ",".join(self.whitelist))
            return self.whitelist

    async def universe_loop(self, rt: ServiceRuntime) -> None:
        """Choose the symbols; again every universe_refresh_s and on CONFIG_CHANGED."""
        while not rt.stop.is_set():
            self.universe_changed.clear()
            self.whitelist = await self.read_whitelist(rt)
            try:
                settings = self.settings
                symbols = await self.market.universe(self.whitelist, settings.top_n_symbols, settings.max_symbols)
            except ExchangeError as exc:
                log.warning("exchange not reachable for the symbol list (%s); retrying", exc)
                await rt.sleep(2.0)
                continue
            if not self.universe_ready.is_set():
                with contextlib.suppress(ExchangeError):
                    await self.market.seed_open_interest(symbols)
            self.intake.set_symbols(tuple(symbols))
            self.universe_ready.set()
            waiter = asyncio.create_task(self.universe_changed.wait())
            stopper = asyncio.create_task(rt.stop.wait())
            await asyncio.wait(
                {waiter, stopper}, timeout=self.settings.universe_refresh_s, return_when=asyncio.FIRST_COMPLETED
            )
            waiter.cancel()
            stopper.cancel()

    async def intake_loop(self, rt: ServiceRuntime) -> None:
        assert rt.redis is not None
        self.producer = StreamProducer(rt.redis, SIGNALS)
        await self.universe_ready.wait()
        await self.intake.run()

    async def trap_map_loop(self, rt: ServiceRuntime) -> None:
        """REST history and funding every trap_rebuild_s. The map itself is rebuilt on the
        feed's minute boundaries (Intake); this loop builds it only while no trade has done
        so lately: at start, and while the market is quiet or the stream down."""
        await self.universe_ready.wait()
        while not rt.stop.is_set():
            started = now_ms()
            symbols = self.intake.symbols
            try:
                await self.market.refresh_bars(symbols, started)
                if started - self.market.funding_loaded_ms > self.settings.funding_refresh_s * 1000:
                    await self.market.refresh_funding(symbols, started)
            except ExchangeError as exc:
                log.warning("market history refresh failed: %s", exc)
            if time.monotonic() - self.built_monotonic >= 2 * self.settings.trap_rebuild_s:
                await self.build_map(started, on_feed=False)
            await rt.sleep(self.settings.trap_rebuild_s)

    async def build_map(self, at_ms: int, *, on_feed: bool) -> None:
        """Build the trap map as of `at_ms` (a market minute when `on_feed`) and arm it."""
        async with self.map_lock:
            if not on_feed and time.monotonic() - self.built_monotonic < 2 * self.settings.trap_rebuild_s:
                return  # the feed built one while this waited for the lock
            market, book = self.market, self.book
            symbols = self.intake.symbols
            snapshots = [snap for s in symbols if (snap := market.snapshot(s, book.last_price(s))) is not None]
            t0 = time.perf_counter()
            built = await asyncio.to_thread(build_trap_map, snapshots, at_ms, self.trap_cfg, f"trapmap:{at_ms}")
            metrics.TRAP_MAP_BUILD_MS.set((time.perf_counter() - t0) * 1000)
            if not snapshots and self.trap_map.traps:
                return  # nothing to build from (history failed): the last map stands
            self.book.set_traps(built.traps, at_ms)
            self.trap_map = built
            self.built_monotonic = time.monotonic()
            if not on_feed and self.intake.map_minute is None:
                # the start-up map stands for its minute: a feed build now would take the
                # price of symbols not yet traded from tickers, which may be newer than the
                # trades still queued (a burst in flight would lose the trap it is crossing)
                self.intake.map_minute = at_ms - at_ms % MINUTE_MS
        metrics.TRAP_MAP_BUILT.set(built.built_ms)
        for trap_type in TrapType:
            metrics.TRAPS.labels(trap_type.value).set(sum(t.trap_type is trap_type for t in built.traps))
        self.announce(EventType.TRAP_MAP_UPDATED, payload_of(self.trap_map_payload()))
        log.info(
            "trap map %s: %d traps over %d symbols (%s)",
            built.cycle_id,
            len(built.traps),
            len(snapshots),
            ", ".join(f"{t.symbol} {t.trap_type.value} {t.side.value}@{t.trigger}" for t in built.traps[:5]) or "none",
        )

    async def sensor_loop(self, rt: ServiceRuntime) -> None:
        """Freshness -> WS_DOWN; readiness -> STARTUP_RECOVER cleared; SENSOR_STATUS_UPDATED."""
        last_sent = 0.0
        last_key: tuple[Any, ...] = ()
        while not rt.stop.is_set():
            now = now_ms()
            status = self.stream_status(now)
            down = status is StreamStatus.DOWN
            if down != (ReasonCode.WS_DOWN in rt.state.reasons):
                if down:
                    age_ms = self.health.age_ms(now)
                    log.warning("market data stale or dropped (age %s ms): WS_DOWN, no signals", age_ms)
                else:
                    log.info("market data fresh again: WS_DOWN cleared")
            rt.set_reason(ReasonCode.WS_DOWN, down)
            if ReasonCode.STARTUP_RECOVER in rt.state.reasons and self.control.loaded and self.trap_map.symbols:
                rt.set_reason(ReasonCode.STARTUP_RECOVER, False)
                log.info("ready: %d symbols, %d traps", len(self.intake.symbols), len(self.trap_map.traps))
            metrics.STREAM_UP.set(1 if status is StreamStatus.LIVE else 0)
            metrics.EMITTING.set(1 if self.armed() else 0)
            age = self.health.age_ms(now)
            if age is not None:
                metrics.DATA_AGE_MS.set(age)
            sensor = self.sensor_status(now)
            key = (sensor.emitting, sensor.mode, sensor.reasons, sensor.stream, len(sensor.symbols), sensor.traps)
            if key != last_key or time.monotonic() - last_sent >= 5.0:
                self.announce(EventType.SENSOR_STATUS_UPDATED, payload_of(sensor))
                last_key, last_sent = key, time.monotonic()
            await rt.sleep(0.25)

    async def control_loop(self, rt: ServiceRuntime) -> None:
        await self.control.run(rt)

    async def scanner_loop(self, rt: ServiceRuntime) -> None:
        """The cycle of each slot, scanner_delay_s after it opens (the current slot too, at start).

        A fallback to the Celery beat job, which triggers POST /scanner/run at the slot's start:
        a slot someone already ran is skipped quietly, so the log's IDEMPOTENCY line keeps
        meaning that a trigger really was refused."""
        slot_ms = self.settings.scanner_slot_s * 1000
        delay_ms = int(self.settings.scanner_delay_s * 1000)
        attempted = -1
        while not rt.stop.is_set():
            now = now_ms()
            slot = now // slot_ms * slot_ms
            if slot != attempted and now >= slot + delay_ms:
                attempted = slot
                try:
                    done = await self.scanner.recorded(now)
                except Exception as exc:
                    log.warning("scanner slot check failed (%s); running the cycle, which checks again", exc)
                    done = False
                if not done:
                    await self.scanner.run_cycle(trigger="SCHEDULE")
                continue
            due = (slot + delay_ms if now < slot + delay_ms else slot + slot_ms + delay_ms) - now
            await rt.sleep(max(0.05, due / 1000))

    def health_extra(self) -> dict[str, object]:
        now = now_ms()
        last = self.scanner.last
        return {
            "market_data": {
                "exchange": self.settings.exchange,
                "endpoint": str(self.settings.venue_options(self.settings.scavenger_venue).get("endpoint", "")),
                "stream": self.stream_status(now).value,
                "connected": self.stream_status(now) is StreamStatus.LIVE,
                "last_data_age_ms": self.health.age_ms(now),
                "symbols": len(self.intake.symbols),
                "trades_seen": self.pipeline.trades_seen,
                "emitting": self.armed(),
                "paused_by": self.control.paused_by,
            },
            "trap_map": {
                "cycle_id": self.trap_map.cycle_id or None,
                "traps": len(self.trap_map.traps),
                "age_ms": now - self.trap_map.built_ms if self.trap_map.built_ms else None,
                "signals_published": self.emitter.published,
            },
            "scanner": {
                "enabled": self.settings.scanner_enabled,
                "last_cycle": None if last is None else {k: last[k] for k in ("cycle_id", "status", "reason")},
            },
            "websocket": {"path": "/ws/scavenger", "clients": self.hub.clients},
        }


async def setup(runtime: ServiceRuntime) -> None:
    settings = cast(ScavengerSettings, runtime.settings)
    # market data from this process's venue (one scavenger per venue: TITAN_SCAVENGER_VENUE)
    venue = settings.scavenger_venue
    label_every_sample(venue=venue)  # every metric of this process is its venue's
    adapter: Any = adapter_for(venue, settings.venue_options(venue))
    hub = LiveHub()
    proximity = settings.proximity_pct / 100
    book = TrapBook(
        SprungConfig(
            proximity=proximity,
            min_trades=settings.burst_min_trades,
            window_ms=settings.burst_window_ms,
            cooldown_ms=int(settings.trap_cooldown_s * 1000),
        )
    )
    trap_cfg = TrapConfig(
        max_traps=settings.max_traps,
        long_only=venue_traits(venue).spot,
        max_distance=settings.trap_max_distance_pct / 100,
        proximity=proximity,
        reward_risk=settings.reward_risk,
    )
    market = MarketData(adapter, bars_history=settings.bars_history)
    health = StreamHealth(
        started_ms=now_ms(),
        stale_after_ms=int(settings.stale_after_s * 1000),
        stable_for_ms=int(settings.stream_stable_s * 1000),
        max_lag_ms=settings.max_feed_lag_ms,
    )

    def on_gap() -> None:
        runtime.set_reason(ReasonCode.WS_DOWN, True)

    pipeline = Pipeline(
        book,
        market,
        health,
        armed=lambda: scavenger.armed(),
        reconnects=lambda: adapter.stream_reconnects,
        on_gap=on_gap,
    )
    emitter = SignalEmitter(
        runtime,
        lambda: scavenger.producer,
        SignalConfig(
            ttl_ms=settings.signal_ttl_ms,
            entry_zone=proximity,
            reward_risk=settings.reward_risk,
            max_leverage_hint=settings.max_leverage_hint,
            exchange=venue,
        ),
        window_ms=settings.burst_window_ms,
        cycle_id=lambda: scavenger.trap_map.cycle_id or "trapmap:none",
        hub=hub,
    )
    intake = Intake(
        adapter,
        pipeline,
        emitter,
        restart_after_s=settings.stream_restart_after_s,
        backoff_max_s=settings.reconnect_backoff_max_s,
        stop=runtime.stop,
        rebuild_ms=int(settings.trap_rebuild_s * 1000),
        rebuild=lambda at_ms: scavenger.build_map(at_ms, on_feed=True),
    )
    scanner = BreadthScanner(
        runtime,
        adapter,
        ScannerConfig(
            exchange=settings.exchange,
            slot_ms=settings.scanner_slot_s * 1000,
            lookback=settings.scanner_lookback,
            max_symbols=settings.scanner_max_symbols,
            timestamp_tolerance_ms=settings.scanner_timestamp_tolerance_ms,
            api_lag_ms=settings.scanner_api_lag_ms,
            has_credentials=settings.has_credentials,
        ),
    )

    async def config_changed() -> None:
        scavenger.universe_changed.set()

    scavenger = Scavenger(
        settings=settings,
        runtime=runtime,
        adapter=adapter,
        hub=hub,
        book=book,
        market=market,
        health=health,
        trap_cfg=trap_cfg,
        pipeline=pipeline,
        intake=intake,
        emitter=emitter,
        scanner=scanner,
        control=ControlState(runtime, config_changed),
    )
    runtime.components["scavenger"] = scavenger
    scavenger.register()
