"""What the console currently knows, refreshed every second and on every event.

Sources, nearest to the truth first:
- system mode: every service's heartbeat in Redis (the worst of them; a missing one is
  PAUSE/SERVICE_DOWN), plus the console's own reasons (KILL_SWITCH);
- master arm: the system_flags row in Postgres;
- positions and their PnL: execution's shadow state (GET /positions);
- equity: execution's WALLET_UPDATE events (GET /wallet when they stop), daily PnL,
  drawdown and phase from the brain's equity_snapshots;
- breaker: the brain's GET /breaker, else its breaker_events rows;
- churn: samples of execution's per-symbol cancel/replace counter.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import Any

from titan_common.clock import now_ms
from titan_common.db import reads
from titan_common.db.engine import DB_ERRORS
from titan_common.flags import KILL_SWITCH, read_flag, read_master_arm
from titan_common.heartbeats import read_beats, state_of_beat, system_state_of
from titan_common.logging import best_effort
from titan_common.service import ServiceRuntime
from titan_common.system_state import SystemState, worst_of
from titan_console.core import ops_panel
from titan_console.core.snapshot import EquityView, breaker_from_events, equity_view, state_update
from titan_console.core.venues import merge_positions, venue_links
from titan_console.errors import ConsoleError
from titan_console.runtime.upstream import Upstream

log = logging.getLogger(__name__)

CHURN_COUNTER = "titan_execution_cancel_replace_total"


# attributes whose change is not news to the aggregate's readers (`system` is derived from
# the heartbeats and the console's own state each time it is composed)
_UNVERSIONED = frozenset({"version", "aggregate_memo", "system"})


class StateCache:
    # +1 on every assignment to an attribute: the aggregate composed for one version serves
    # every reader until anything changes (runtime/health.py)
    version = 0
    aggregate_memo: Any = None

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        if name not in _UNVERSIONED:
            object.__setattr__(self, "version", self.version + 1)

    def __init__(self, runtime: ServiceRuntime, upstream: Upstream) -> None:
        self.runtime = runtime
        self.upstream = upstream
        self.beats: dict[str, dict[str, Any] | None] = {}
        # when the heartbeats were last read, and whether the last read worked (None: not yet tried)
        self.beats_ms: int | None = None
        self.beats_ok: bool | None = None
        # every other service's last /health answer (None: it did not answer), and when
        # they were asked: the snapshot /health, /api/status and the panel answer from
        self.healths: dict[str, dict[str, Any] | None] = {}
        self.healths_ms: int | None = None
        self.system: SystemState | None = None
        self.master_arm: bool | None = None
        # an operator's disarm no execution has taken yet (handed over when one answers):
        # master arm shows off meanwhile, whatever the flag still says
        self.disarm_pending = False
        self.kill_switch: dict[str, Any] = {"engaged": False}
        self.positions: list[dict[str, Any]] = []
        self.positions_ok = False
        # the last complete GET /positions answer of every venue, and when it was asked
        self.positions_view: dict[str, Any] | None = None
        self.positions_ms: int | None = None
        self.positions_changed_ms = 0  # the last POSITION_UPDATE, ORDER_FILLED or TRADE_CLOSED
        self.wallet: dict[str, Any] | None = None
        self.wallet_ms: int | None = None
        self.snapshot: dict[str, Any] | None = None
        self.brain_view: dict[str, Any] | None = None
        self.breaker: dict[str, Any] | None = None
        self.churn_samples: list[ops_panel.ChurnSample] = []
        self.equity_history: deque[tuple[int, str]] = deque(maxlen=20_000)
        self._tick = 0

    # --- reads ------------------------------------------------------------------------

    async def refresh_system(self) -> SystemState:
        """The worst state over every heartbeat, and the console's own state."""
        if self.runtime.redis is not None:
            try:
                self.beats = await read_beats(self.runtime.redis, self.upstream.settings.trading_processes)
            except Exception:
                self.beats_ok = False
            else:
                self.beats_ms, self.beats_ok = now_ms(), True
        return self.system_now(now_ms())

    def system_now(self, now: int) -> SystemState:
        """The worst state over the heartbeats last read and the console's own state now."""
        others = [name for name in self.upstream.settings.trading_processes if name != self.runtime.name]
        # the console's own state is known first-hand, not through its heartbeat's lag
        states = [state_of_beat(self.beats.get(name), now) for name in others] + [self.runtime.state]
        self.system = worst_of(states, now)
        return self.system

    def note_healths(self, bodies: dict[str, dict[str, Any] | None], asked_ms: int) -> None:
        self.healths, self.healths_ms = bodies, asked_ms

    def note_breaker_event(self, payload: dict[str, Any]) -> None:
        """A CIRCUIT_BREAKER_UPDATE from the brain: the breaker as it now is, without waiting
        for the next read of GET /breaker (which fills in the rest)."""
        fields = {k: payload.get(k) for k in ("active", "level", "reason", "until_ms")}
        self.breaker = {**(self.breaker or {}), **fields, "source": "event"}

    async def refresh_flags(self) -> None:
        if self.runtime.sessions is None:
            return
        try:
            async with self.runtime.sessions() as session:
                self.master_arm = await read_master_arm(session) and not self.disarm_pending
                flag = await read_flag(session, KILL_SWITCH)
            self.kill_switch = flag or {"engaged": False}
        except Exception as exc:
            log.debug("flags unreadable: %s", exc)
            self.master_arm = None  # unknown, shown as such (and arming stays off: fail closed)

    async def refresh_positions(self) -> None:
        """Every venue's positions; a venue that did not answer makes the view incomplete."""
        asked = now_ms()
        try:
            answers = await self.upstream.each_venue("GET", "/positions", fast=True)
        except ConsoleError:
            self.positions_ok = False
            return
        merged = merge_positions(answers)
        self.positions = merged["positions"]
        self.positions_ok = "unavailable" not in merged
        if self.positions_ok:
            self.positions_view, self.positions_ms = merged, asked

    def positions_now(self, max_age_ms: int) -> dict[str, Any] | None:
        """GET /positions from the snapshot, with its age; None when it is incomplete or
        older than `max_age_ms` (then the caller asks every venue itself)."""
        if not self.positions_ok or self.positions_view is None or self.positions_ms is None:
            return None
        now = now_ms()
        # a position changed since it was asked: never older than that event
        if now - self.positions_ms > max_age_ms or self.positions_changed_ms >= self.positions_ms:
            return None
        return {**self.positions_view, "as_of_ms": self.positions_ms, "age_ms": now - self.positions_ms}

    async def follow_action(self, bound_s: float = 1.0) -> None:
        """After an operator's flatten, close or kill switch: the flags (execution disarms when
        it flattens) and the positions as they now are, so that the operator's next read
        never shows the old state; a slow or absent database or venue never holds the answer."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(self.refresh_flags(), self.refresh_positions()), timeout=bound_s)

    async def refresh_equity_sources(self) -> None:
        now = now_ms()
        if self.wallet_ms is None or now - self.wallet_ms > 5_000:
            body = await self.upstream.try_json("execution", "/wallet")
            if isinstance(body, dict) and "equity" in body:
                self.note_wallet(body, now)
        if self.runtime.sessions is None:
            return
        with best_effort(log, "reading the last equity snapshot", *DB_ERRORS):
            async with self.runtime.sessions() as session:
                row = await reads.latest_equity_snapshot(session, self.upstream.settings.exchange)
            if row is not None:
                self.snapshot = {
                    "ts_ms": row.ts_ms,
                    "equity": row.equity,
                    "day_start_equity": row.day_start_equity,
                    "daily_pnl": row.daily_pnl,
                    "drawdown_pct": row.drawdown_pct,
                    "phase": row.phase,
                }

    async def refresh_brain_view(self) -> None:
        """Daily PnL, drawdown and phase as the brain holds them now (its snapshots are
        written only every minute)."""
        body = await self.upstream.try_json("brain", "/dashboard")
        # the brain's `.nav` is the equity (a number); its detail is `.navDetail`
        if not isinstance(body, dict) or not isinstance(body.get("navDetail"), dict):
            self.brain_view = None
            return
        nav, phase = body["navDetail"], body.get("phase") or {}
        self.brain_view = {
            "ts_ms": nav.get("updatedAt") or now_ms(),
            "equity": nav.get("equity"),
            "day_start_equity": nav.get("dayStartEquity"),
            "daily_pnl": nav.get("dailyPnl"),
            "drawdown_pct": nav.get("drawdown"),
            "phase": phase.get("current") if isinstance(phase, dict) else None,
        }
        if isinstance(body.get("circuitBreaker"), dict) and "active" in body["circuitBreaker"]:
            self.breaker = {**body["circuitBreaker"], "source": "brain"}

    async def refresh_breaker(self) -> None:
        body = await self.upstream.try_json("brain", "/breaker")
        if isinstance(body, dict) and "active" in body:
            self.breaker = {**body, "source": "brain"}
            return
        if self.runtime.sessions is None:
            return
        with best_effort(log, "reading the breaker events", *DB_ERRORS):
            async with self.runtime.sessions() as session:
                rows = await reads.breaker_events(session, 20)
            self.breaker = breaker_from_events(
                [
                    {"action": r.action, "level": r.level, "reason": r.reason, "ts_ms": r.ts_ms, "payload": r.payload}
                    for r in rows
                ],
                now_ms(),
            )

    async def sample_churn(self) -> None:
        text = await self.upstream.text("execution", "/metrics")
        if text is None:
            return
        now = now_ms()
        counts = ops_panel.parse_counter(text, CHURN_COUNTER, "symbol")
        self.churn_samples.append(ops_panel.ChurnSample(now, counts))
        self.churn_samples = ops_panel.trim_samples(self.churn_samples, now)

    def note_wallet(self, wallet: dict[str, Any], ts_ms: int) -> None:
        self.wallet = wallet
        self.wallet_ms = ts_ms
        equity = wallet.get("equity")
        if equity is not None and (not self.equity_history or ts_ms - self.equity_history[-1][0] >= 5_000):
            self.equity_history.append((ts_ms, str(equity)))

    # --- the views ------------------------------------------------------------------------

    def equity(self) -> EquityView:
        return equity_view(self.wallet, self.wallet_ms, self.brain_view or self.snapshot, now_ms())

    def state_message(self, system_mode: str) -> dict[str, Any]:
        now = now_ms()
        system = self.system or system_state_of({}, now)
        return state_update(
            ts_ms=now,
            equity=self.equity(),
            master_arm=self.master_arm,
            system=system,
            kill_switch=bool(self.kill_switch.get("engaged")),
            breaker=self.breaker,
            positions=self.positions,
            positions_ok=self.positions_ok,
            system_mode=system_mode,
            venues=venue_links(self.upstream.settings.execution_services, self.beats),
        )

    async def tick(self) -> None:
        """The fast sources, every second: heartbeats, flags, positions."""
        await asyncio.gather(self.refresh_system(), self.refresh_flags(), self.refresh_positions())

    async def refresh_slow(self) -> None:
        """The slower sources, every few seconds, in their own loop so that a slow brain
        never delays STATE_UPDATE."""
        self._tick += 1
        await asyncio.gather(self.sample_churn(), self.refresh_brain_view())
        if self._tick % 3 == 1:
            await asyncio.gather(self.refresh_equity_sources(), self.refresh_breaker())
