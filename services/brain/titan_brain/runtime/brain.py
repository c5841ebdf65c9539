"""The brain process: its state, its loops and what its routes call.

Loops (registered by `titan_brain.runtime.setup`):
  restore    Postgres -> config, breaker, last equity snapshot, positions, trades, open
             intents, recent decisions; then execution's GET /wallet. Nothing is consumed
             before it finishes.
  signals    titan:signals in batches through the pipeline
  events     titan:events: wallet, positions, fills, closed trades, master arm
  control    titan:control: CONFIG_CHANGED reloads the trading config
  wallet     GET /wallet on execution when no wallet report came for a while
  snapshots  equity_snapshots every snapshot_interval_s
  market     public instruments and last prices (correlations, betas, volatility); no
             price for the volatility symbol raises MARKET_DATA_STALE with a WARN
  tick       every second: breaker (cooldown end, volatility), pending expiry, modifier, gauges
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import replace
from decimal import Decimal
from typing import Any, cast

import httpx

from titan_brain.core.aigate import GATE_FAILURES, FailureAction
from titan_brain.core.breaker import Transition
from titan_brain.core.nav import restore_nav, utc_day_of
from titan_brain.core.risk import risk_metrics
from titan_brain.core.types import OpenPosition
from titan_brain.core.venue_gate import venue_modes
from titan_brain.runtime import dashboard, feeds, metrics, store
from titan_brain.runtime.aigate import AIGate
from titan_brain.runtime.breaker import BreakerController
from titan_brain.runtime.pipeline import SignalPipeline
from titan_brain.runtime.state import DAY_MS, BrainState, Pending
from titan_brain.settings import BrainSettings
from titan_common.audit import AuditQueueFull
from titan_common.bus import CONTROL, EVENTS, INTENTS, REDIS_ERRORS, SIGNALS, StreamConsumer, StreamProducer, Subscriber
from titan_common.clock import now_ms
from titan_common.config import active_config
from titan_common.db import reads
from titan_common.db.engine import DB_ERRORS
from titan_common.db.models import EquitySnapshot, OperatorAction
from titan_common.events import EventType, PhaseChange, payload_of
from titan_common.exchanges import ExchangeError
from titan_common.exchanges.registry import adapter_for
from titan_common.heartbeats import read_beats
from titan_common.internal import InternalClient, ServiceUnavailable
from titan_common.logging import best_effort
from titan_common.messages import ControlCommand, Decision, Severity, Side, Signal, exit_intent
from titan_common.reasons import ReasonCode
from titan_common.service import ServiceRuntime
from titan_common.settings import VENUE_SERVICES, SystemMode
from titan_common.system_state import Mode

log = logging.getLogger(__name__)

RECENT = 20
MARKET_WARN_EVERY_S = 60.0
AIGATE_OPERATOR = "brain-aigate"


class Brain:
    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime
        self.settings = cast(BrainSettings, runtime.settings)
        self.state: BrainState | None = None
        self.ready = asyncio.Event()
        self.client = InternalClient(self.settings, timeout_s=10.0)
        self.gate = AIGate(self.settings, runtime.emit)
        self.breaker: BreakerController | None = None
        self.pipeline: SignalPipeline | None = None
        self.recent: deque[dict[str, Any]] = deque(maxlen=RECENT)
        self._dashboard_cache: tuple[float, dict[str, Any]] | None = None
        self._last_wallet_ms = 0
        self._market_warned = 0.0
        self._tasks: set[asyncio.Task[Any]] = set()
        if self.settings.system_mode is SystemMode.LIVE and self.settings.ai_dec >= 2:
            # the gate is mandatory: any failure pauses the brain until an operator recovers it
            for code in GATE_FAILURES:
                runtime.mode_overrides[code] = Mode.PAUSE
        # raised only by a hard trip: the brain pauses until the manual reset
        runtime.mode_overrides[ReasonCode.BREAKER_ACTIVE] = Mode.PAUSE

    # --- start-up --------------------------------------------------------------------

    async def restore(self, rt: ServiceRuntime) -> None:
        """Rebuild what the brain knows from Postgres, retrying until it answers."""
        while not rt.stop.is_set():
            try:
                await self._restore()
            except Exception as exc:
                log.warning("restore from Postgres failed (%s); retrying", exc)
                await rt.sleep(2.0)
                continue
            self.ready.set()
            await self.fetch_wallet()
            await self.breaker_check()
            return

    async def _restore(self) -> None:
        assert self.runtime.sessions is not None
        now = now_ms()
        settings = self.settings
        async with self.runtime.sessions() as session:
            config = await active_config(session)
            snapshot = await store.last_snapshot(session, settings.exchange)
            hwm = await store.high_watermark(session, settings.exchange)
            # execution's rows, read as execution's own GET /positions and /trades read them;
            # from here on its POSITION_UPDATE and TRADE_CLOSED events keep them current
            positions = store.open_positions(await reads.open_positions(session, settings.accounts))
            trades = store.trade_results(
                await reads.closed_trades(
                    session,
                    [settings.exchange],
                    since_ms=now - settings.sharpe_window_days * DAY_MS,
                    newest_first=False,
                )
            )
            intents = await store.open_entry_intents(session, now - settings.pending_grace_ms, settings.accounts)
            recent = await store.recent_decision_rows(session, RECENT)
        state = BrainState(settings=settings, config=config, spot_venues=feeds.spot_venues(settings.venues))
        if snapshot is not None:
            state.nav = restore_nav(snapshot.equity, snapshot.ts_ms, snapshot.day_start_equity, hwm, now)
            state.phase = snapshot.phase
        for position in positions:
            venue = settings.venue_of(position.exchange)
            state.positions[(venue, position.symbol)] = replace(position, exchange=venue)
        for intent, entry in intents:
            venue = settings.venue_of(intent.exchange or settings.exchange)
            if (venue, intent.symbol) not in state.positions:
                position = OpenPosition(
                    symbol=intent.symbol, side=Side(intent.side), size=intent.qty,
                    entry_price=entry or intent.price or Decimal(0), pending=True, exchange=venue,
                )  # fmt: skip
                state.add_pending(intent.symbol, Pending(position, intent.intent_id, intent.expires_at_ms))
        for closed_ms, pnl in trades:
            state.observe_trade(closed_ms, pnl)
        state.refresh_modifier(now)
        self.state = state
        self.recent.clear()
        self.recent.extend(store.decision_summary(row) for row in reversed(recent))
        self.breaker = BreakerController(self.runtime, state, self.client)
        await self.breaker.restore()
        self.pipeline = SignalPipeline(
            sessions=self.runtime.sessions,
            producer=StreamProducer(cast(Any, self.runtime.redis), INTENTS),
            state=state,
            read_mode=self.system_mode,
            gate=self.gate,
            on_gate_failure=self.on_gate_failure,
            on_decided=self.on_decided,
        )
        log.info(
            "brain restored: config %s, %d positions, %d pending entries, %d trades in %d days, breaker %s",
            config.version_tag, len(positions), len(state.pending), len(trades), settings.sharpe_window_days,
            "ACTIVE" if state.breaker.active else "clear",
        )  # fmt: skip

    # --- gates -------------------------------------------------------------------------

    async def system_mode(self) -> dict[str, Mode]:
        """Each running venue's mode for entries: the worst of the configured services'
        heartbeats and the brain's own live state, where `execution` and `scavenger` stand
        for the venue's own process of each (a venue that fails never stops the other's entries)."""
        per_venue = [kind for kind in VENUE_SERVICES if kind in self.settings.mode_services]
        shared = [n for n in self.settings.mode_services if n != self.runtime.name and n not in VENUE_SERVICES]
        own = {
            venue: [self.settings.venue_service(kind, venue) for kind in per_venue] for venue in self.settings.venues
        }
        wanted = shared + [service for services in own.values() for service in services]
        beats = {}
        if wanted:
            assert self.runtime.redis is not None
            beats = await read_beats(self.runtime.redis, wanted)
        return venue_modes(
            self.runtime.state,
            [beats[name] for name in shared],
            {venue: [beats[service] for service in services] for venue, services in own.items()},
            now_ms(),
        )

    # --- the signal consumer ---------------------------------------------------------------

    async def consume_signals(self, rt: ServiceRuntime) -> None:
        assert rt.redis is not None
        await self.ready.wait()
        consumer = StreamConsumer(
            rt.redis,
            SIGNALS,
            group=self.settings.consumer_group,
            consumer=f"brain-{self.settings.run_id}",
            batch_size=self.settings.batch_size,
            block_ms=self.settings.block_ms,
            claim_idle_ms=self.settings.claim_idle_ms,
        )
        await consumer.ensure_group()
        # Several workers, one turn: a batch is read and decided holding it (so batches are
        # decided one after another, in stream order, each seeing the last one's approvals),
        # and recorded after letting go of it, so one batch's commit overlaps the next one's
        # read and decisions.
        turn = asyncio.Lock()
        await asyncio.gather(*(self._signal_worker(rt, consumer, turn) for _ in range(self.settings.signal_workers)))

    async def _signal_worker(self, rt: ServiceRuntime, consumer: StreamConsumer[Signal], turn: asyncio.Lock) -> None:
        pipeline = self.pipeline
        assert pipeline is not None
        while not rt.stop.is_set():
            if ReasonCode.DB_UNAVAILABLE in rt.state.reasons:
                await rt.sleep(0.5)  # no record, no decision: leave signals in the stream
                continue
            async with turn:
                deliveries = await consumer.read()
                if not deliveries:
                    continue
                decided = await pipeline.decide_in_turn(deliveries)
            acked = await pipeline.record_or_each(deliveries, decided, turn)
            await consumer.ack(*acked)
            if len(acked) < len(deliveries):
                await rt.sleep(0.5)

    def on_decided(self, records: list[store.Record]) -> None:
        for record in records[-RECENT:]:  # the dashboard keeps the last RECENT: older ones would fall out
            self.recent.append(
                store.summary_of(
                    record.decision.model_dump(mode="json"),
                    record.intent.intent_id if record.intent else None,
                    (record.detail.get("aigate") or {}).get("verdict"),
                )
            )
        if not log.isEnabledFor(logging.INFO):
            return
        for record in records:
            decision = record.decision
            reasons = ",".join(decision.reasons) or "-"
            if decision.verdict.value == "APPROVE":
                log.info("APPROVE %s %s %s qty=%s lev=%d risk=%s reasons=%s", decision.signal_id, decision.symbol,
                         decision.side, decision.qty, decision.leverage, decision.risk_usd, reasons)  # fmt: skip
            else:
                log.info("VETO %s %s %s %s", decision.signal_id, decision.symbol, decision.side, reasons)

    def on_gate_failure(self, failure: ReasonCode, action: FailureAction, decision: Decision) -> None:
        if action is FailureAction.BLOCK_AND_PAUSE:
            log.critical("AI gate failed (%s) in LIVE with AI_DEC=2: blocking and pausing", failure)
            self.runtime.set_reason(failure, True)
        elif action is FailureAction.EXIT:
            log.warning("AI gate failed (%s) while managing %s: exiting the position", failure, decision.symbol)
            self._spawn(self._exit_position(decision))
        else:
            log.warning("AI gate failed (%s): skipping the entry on %s", failure, decision.symbol)

    async def _exit_position(self, decision: Decision) -> None:
        """The AI gate's fallback exit: an EXIT intent on titan:intents, so it goes through
        execution's one door (write-ahead, audit, orderLinkId) like every other order."""
        symbol = decision.symbol
        position = self.state.position(symbol, decision.exchange) if self.state is not None else None
        if position is None:
            log.warning("AI gate fallback: no open position on %s to exit", symbol)
            return
        intent = exit_intent(
            symbol, position.side, position.size, correlation=decision.correlation, origin="AIGATE_EXIT",
            exchange=decision.exchange,
            operator_id=AIGATE_OPERATOR, reference_price=position.mark_price, ts_ms=now_ms(),
        )  # fmt: skip
        try:
            await StreamProducer(cast(Any, self.runtime.redis), INTENTS).publish(intent)
        except Exception as exc:
            log.error("AI gate fallback could not send the exit of %s: %s", symbol, exc)
            return
        metrics.INTENTS_PUBLISHED.labels("exit").inc()
        log.warning("AI gate fallback: exit of %s %s sent as %s", symbol, position.size, intent.client_order_id)

    # --- events and control ------------------------------------------------------------

    async def consume_events(self, rt: ServiceRuntime) -> None:
        assert rt.redis is not None
        await self.ready.wait()
        subscriber = Subscriber(rt.redis, EVENTS, on_reconnect=self.refetch_wallet)
        async for event in subscriber.messages(rt.stop):
            if event.service == rt.name:
                continue
            state = self.state
            assert state is not None
            before = state.phase
            change = feeds.apply_event(state, event)
            if change.equity:
                self._last_wallet_ms = now_ms()
                self._after_equity(before)
            if change.trade:
                state.refresh_modifier(now_ms())
            if change.equity or change.trade or change.price:
                await self.breaker_check()
            if change.positions or change.equity:
                self._dashboard_cache = None

    async def consume_control(self, rt: ServiceRuntime) -> None:
        assert rt.redis is not None
        await self.ready.wait()
        subscriber = Subscriber(rt.redis, CONTROL, on_reconnect=self.reload_config)
        async for control in subscriber.messages(rt.stop):
            if control.command is ControlCommand.CONFIG_CHANGED and control.target in ("all", "brain"):
                await self.reload_config()

    async def reload_config(self) -> None:
        assert self.runtime.sessions is not None
        assert self.state is not None
        try:
            async with self.runtime.sessions() as session:
                config = await active_config(session)
        except Exception as exc:
            log.error("config reload failed (%s); keeping %s", exc, self.state.config.version_tag)
            return
        if config.version_tag != self.state.config.version_tag:
            log.info("config %s -> %s", self.state.config.version_tag, config.version_tag)
        self.state.config = config
        self._dashboard_cache = None

    # --- NAV ---------------------------------------------------------------------------------

    def _after_equity(self, phase_before: int | None) -> None:
        state = self.state
        assert state is not None
        nav = state.nav
        if nav.equity is not None:
            metrics.EQUITY.set(float(nav.equity))
        metrics.DAILY_DRAWDOWN.set(float(nav.daily_drawdown or 0))
        metrics.DRAWDOWN.set(float(nav.drawdown or 0))
        metrics.DAILY_PNL.set(float(nav.daily_pnl or 0))
        metrics.PHASE.set(state.phase or 1)
        if phase_before is not None and state.phase is not None and state.phase != phase_before:
            log.warning("PHASE %d -> %d at equity %s", phase_before, state.phase, nav.equity)
            with best_effort(log, "auditing the phase change", AuditQueueFull):
                self.runtime.emit(
                    EventType.PHASE_CHANGE.value,
                    severity=Severity.WARNING,
                    payload=payload_of(PhaseChange(previous=phase_before, phase=state.phase, equity=nav.equity)),
                )

    async def fetch_wallet(self) -> bool:
        """Ask execution for the wallet (GET /wallet), so NAV does not wait for an event."""
        state = self.state
        if state is None:
            return False
        try:
            response = await self.client.request("execution", "GET", "/wallet")
        except ServiceUnavailable as exc:
            log.debug("wallet not fetched: %s", exc)
            return False
        if response.status_code != 200:
            log.debug("wallet not fetched: HTTP %d", response.status_code)
            return False
        wallet = feeds.wallet_from(response.json())
        if wallet is None or wallet.exchange != self.settings.exchange:
            return False
        before = state.phase
        state.spendable[self.settings.venue_of(wallet.exchange)] = wallet.available_balance
        state.observe_equity(
            wallet.equity, now_ms(), wallet_balance=wallet.wallet_balance,
            unrealised_pnl=wallet.unrealised_pnl, available_balance=wallet.available_balance,
        )  # fmt: skip
        self._last_wallet_ms = now_ms()
        self._after_equity(before)
        return True

    async def refetch_wallet(self) -> None:
        """After a lost subscription: wallet reports may have been missed."""
        await self.fetch_wallet()

    async def poll_wallet(self, rt: ServiceRuntime) -> None:
        await self.ready.wait()
        while not rt.stop.is_set():
            now = now_ms()
            quiet_s = (now - self._last_wallet_ms) / 1000
            # past midnight: the day's first report rebases its start (no drawdown until then)
            day = self.state.nav.day if self.state is not None else None
            new_day = day is not None and day != utc_day_of(now)
            if (quiet_s >= self.settings.wallet_poll_s or new_day) and await self.fetch_wallet():
                await self.breaker_check()
            await rt.sleep(min(2.0, self.settings.wallet_poll_s))

    async def snapshots(self, rt: ServiceRuntime) -> None:
        await self.ready.wait()
        while not rt.stop.is_set():
            await rt.sleep(self.settings.snapshot_interval_s)
            if not rt.stop.is_set():
                await self.write_snapshot()

    async def write_snapshot(self) -> bool:
        state = self.state
        assert state is not None
        assert self.runtime.sessions is not None
        nav = state.nav
        now = now_ms()
        if nav.fresh_equity(now, int(self.settings.equity_max_age_s * 1000)) is None:
            log.warning("EQUITY unknown: no fresh wallet report from execution; entries are vetoed")
            return False
        assert nav.equity is not None
        row = EquitySnapshot(
            exchange=self.settings.exchange,
            ts_ms=now,
            equity=nav.equity,
            wallet_balance=nav.wallet_balance if nav.wallet_balance is not None else nav.equity,
            unrealised_pnl=nav.unrealised_pnl or Decimal(0),
            day_start_equity=nav.day_start_equity or nav.equity,
            high_watermark=nav.high_watermark or nav.equity,
            daily_pnl=nav.daily_pnl or Decimal(0),
            drawdown_pct=nav.drawdown or Decimal(0),
            phase=state.phase or 1,
        )
        try:
            async with self.runtime.sessions() as session, session.begin():
                session.add(row)
        except Exception as exc:
            log.warning("equity snapshot not written: %s", exc)
            return False
        log.info("EQUITY %s day_pnl=%s daily_dd=%s hwm=%s phase=%d", nav.equity, nav.daily_pnl,
                 nav.daily_drawdown, nav.high_watermark, state.phase or 1)  # fmt: skip
        return True

    # --- market data -------------------------------------------------------------------------

    async def market_data(self, rt: ServiceRuntime) -> None:
        if not self.settings.market_data:
            return
        await self.ready.wait()
        # public market data only: the venue's endpoint, no key pair
        public = {
            venue: adapter_for(venue, {**self.settings.venue_options(venue), "api_key": "", "api_secret": ""})
            for venue in self.settings.venues
        }
        adapter: Any = public[self.settings.venues[0]]  # prices, correlations and volatility
        last_instruments = 0.0
        try:
            while not rt.stop.is_set():
                state = self.state
                assert state is not None
                config = state.config.config
                symbols = sorted(set(config.asset_whitelist) | state.held_symbols | {config.breaker.volatility_symbol})
                volatility_symbol = config.breaker.volatility_symbol
                problems: dict[str, str] = {}
                try:
                    if time.monotonic() - last_instruments > 3600 or set(symbols) - set(state.instruments):
                        state.instruments.update(await feeds.load_instruments(adapter, set(symbols)))
                        await self._other_venues_rules(public, set(symbols))
                        last_instruments = time.monotonic()
                    prices = await feeds.poll_prices(adapter, symbols, problems)
                    if prices:
                        state.add_samples(now_ms(), prices)
                        await self.breaker_check()
                except Exception as exc:
                    problems[volatility_symbol] = f"poll failed: {type(exc).__name__}: {str(exc)[:200]}"
                self._volatility_feed(volatility_symbol, problems.get(volatility_symbol))
                await rt.sleep(self.settings.market_poll_s)
        finally:
            for each in public.values():
                await each.close()

    async def _other_venues_rules(self, public: dict[str, Any], symbols: set[str]) -> None:
        """Each other venue's trading rules, for sizing there; one that fails keeps its last."""
        state = self.state
        assert state is not None
        for venue, adapter in list(public.items())[1:]:
            try:
                state.venue_instruments[venue] = await feeds.load_instruments(adapter, symbols)
            except ExchangeError as exc:
                log.warning("%s's instruments not loaded: %s", venue, exc)

    def _volatility_feed(self, symbol: str, problem: str | None) -> None:
        """Without its symbol's price the breaker's volatility trigger is blind: say so with
        MARKET_DATA_STALE and a WARN (again each minute while it lasts), clear it on a price."""
        stale = ReasonCode.MARKET_DATA_STALE in self.runtime.state.reasons
        if problem is None:
            if stale:
                log.info("MARKET_DATA %s prices are back: the volatility trigger sees again", symbol)
                self.runtime.set_reason(ReasonCode.MARKET_DATA_STALE, False)
            return
        now = time.monotonic()
        if not stale or now - self._market_warned >= MARKET_WARN_EVERY_S:
            log.warning("MARKET_DATA_STALE no %s price for the volatility trigger: %s", symbol, problem)
            self._market_warned = now
        self.runtime.set_reason(ReasonCode.MARKET_DATA_STALE, True)

    # --- housekeeping ------------------------------------------------------------------------

    async def breaker_check(self) -> list[Transition]:
        if self.breaker is None:
            return []
        transitions = await self.breaker.check()
        if transitions:
            self._dashboard_cache = None
        return transitions

    async def tick(self, rt: ServiceRuntime) -> None:
        await self.ready.wait()
        while not rt.stop.is_set():
            state = self.state
            assert state is not None
            now = now_ms()
            state.expire_pending(now)
            state.refresh_modifier(now)
            with best_effort(log, "the breaker check", AuditQueueFull, httpx.HTTPError, *DB_ERRORS, *REDIS_ERRORS):
                await self.breaker_check()
            positions = state.open_positions(now)
            metrics.OPEN_POSITIONS.set(len(positions))
            metrics.PERFORMANCE_MODIFIER.set(float(state.modifier))
            equity = state.nav.equity
            metrics.GLOBAL_LEVERAGE.set(float(risk_metrics(positions, equity, state.market(now)).global_leverage))
            await rt.sleep(1.0)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- for the routes ------------------------------------------------------------------------

    def dashboard(self) -> dict[str, Any]:
        cached = self._dashboard_cache
        if cached is not None and time.monotonic() - cached[0] < self.settings.dashboard_cache_s:
            return cached[1]
        assert self.state is not None
        body = dashboard.dashboard_body(self.state, now_ms(), list(self.recent))
        self._dashboard_cache = (time.monotonic(), body)
        return body

    async def breaker_status(self) -> dict[str, Any]:
        assert self.state is not None
        assert self.runtime.sessions is not None
        history = []
        with best_effort(log, "reading the breaker history", *DB_ERRORS):
            async with self.runtime.sessions() as session:
                history = await reads.breaker_events(session, 10)
        return dashboard.breaker_body(self.state, now_ms(), history)

    async def approval_rates(self, hours: float) -> dict[str, Any]:
        assert self.runtime.sessions is not None
        since = now_ms() - int(hours * 3_600_000)
        async with self.runtime.sessions() as session:
            rows = await store.approval_counts(session, since)
        return store.approval_body(rows, since, hours, self.state.phase if self.state else None)

    async def decisions(self, limit: int) -> list[dict[str, Any]]:
        assert self.runtime.sessions is not None
        async with self.runtime.sessions() as session:
            rows = await store.recent_decision_rows(session, limit)
        return [store.decision_summary(row) for row in rows]

    async def reset_aigate(self, operator_id: str, reason: str) -> dict[str, Any]:
        assert self.runtime.sessions is not None
        active = [code for code in GATE_FAILURES if code in self.runtime.state.reasons]
        async with self.runtime.sessions() as session, session.begin():
            session.add(
                OperatorAction(
                    ts_ms=now_ms(), operator_id=operator_id, action="AIGATE_RESET",
                    request={"reason": reason}, result={"cleared": [c.value for c in active]}, success=True,
                )
            )  # fmt: skip
        for code in active:
            self.runtime.set_reason(code, False)
        self.runtime.emit("AIGATE_RESET", operator_id=operator_id, payload={"cleared": [c.value for c in active],
                                                                             "reason": reason})  # fmt: skip
        return {"success": True, "cleared": [c.value for c in active], "mode": self.runtime.state.mode.value}

    def health(self) -> dict[str, Any]:
        state = self.state
        if state is None:
            return {"brain": {"ready": False}}
        now = now_ms()
        return {
            "brain": {
                "ready": self.ready.is_set(),
                "equity_known": state.nav.fresh_equity(now, int(self.settings.equity_max_age_s * 1000)) is not None,
                "phase": state.phase,
                "breaker_active": state.breaker.active,
                "config_version": state.config.version_tag,
                "ai_gate": self.settings.ai_gate_provider,
                "pending_entries": len(state.pending),
                "instruments": len(state.instruments),
            }
        }

    async def close(self) -> None:
        if self.breaker is not None:
            await self.breaker.close()
        for task in list(self._tasks):
            task.cancel()
        await self.gate.close()
        await self.client.close()
