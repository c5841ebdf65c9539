"""Reconciliation runs: at start-up, every 60 s, on WebSocket reconnect, and on demand.

REST is the truth. Each run resolves SENT_UNKNOWN intents, catches fills up over REST, diffs
positions and open orders against the exchange (core.reconcile), applies the corrections,
protects every position, persists the run with its diffs, and returns the verdict for the
service's mode.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from sqlalchemy import select

from titan_common.clock import now_ms
from titan_common.db.engine import transaction
from titan_common.db.models import OrderRow, ReconcileDiff, ReconcileRun
from titan_common.exchanges import ExchangeError, ExchangePosition, NotModified
from titan_common.reasons import ReasonCode
from titan_execution.core import reconcile as core
from titan_execution.core.positions import Position, adopt
from titan_execution.runtime import metrics, store
from titan_execution.runtime.engine import ExecutionEngine
from titan_execution.runtime.protection import alert_venue_closes, ensure_protected, raise_alert

log = logging.getLogger(__name__)
SNAPSHOT_ATTEMPTS = 5  # venue snapshots per run while fills keep moving the book


@dataclass(frozen=True)
class RunResult:
    run_id: int
    verdict: core.Verdict
    diffs: list[core.Diff]
    started_ms: int
    finished_ms: int


class Reconciler:
    def __init__(
        self,
        engine: ExecutionEngine,
        *,
        set_reason: Callable[[ReasonCode, bool], None],
        protection_attempts: int = 2,
        guard: Callable[[set[str]], Awaitable[None]] | None = None,
    ) -> None:
        self.engine = engine
        # on a spot venue, Titan's own stops (TitanStops.guard) instead of the venue's
        self.guard = guard
        self.set_reason = set_reason
        self.protection_attempts = protection_attempts
        self.previous = core.Verdict.OK
        self.last: RunResult | None = None
        self.deferred = 0  # runs whose position diff was deferred because fills kept landing

    async def run(self, trigger: str) -> RunResult:
        started = now_ms()
        engine = self.engine
        since = self.last.started_ms - 60_000 if self.last else await engine.fills_resume_ms()
        await engine.catch_up_fills(since)
        await engine.resolve_unknown()
        await engine.refresh_open_intents()
        async with engine.sessions() as session:
            known = set(
                (
                    await session.scalars(select(OrderRow.client_order_id).where(OrderRow.client_order_id.is_not(None)))
                ).all()
            )
        # The venue snapshot and the book must describe the same moment. A fill applied while
        # the snapshot is taken (from the stream, or from the REST catch-up right after it)
        # moves engine.fill_seq; then the snapshot may predate it, so it is taken again. The
        # diff and its corrections run under the fills lock, so no fill lands in between.
        diffs: list[core.Diff] = []
        exchange_positions: list[ExchangePosition] = []
        for attempt in range(1, SNAPSHOT_ATTEMPTS + 1):
            seq = engine.fill_seq
            exchange_positions = await engine.venue_positions()
            open_orders = await engine.adapter.open_orders()
            await engine.catch_up_fills(since)
            async with engine.fills_lock:
                settled = engine.fill_seq == seq
                if not settled and attempt < SNAPSHOT_ATTEMPTS:
                    continue
                for order in open_orders:
                    if order.client_order_id and order.client_order_id.startswith("t-"):
                        known.add(order.client_order_id)  # ours: placed by Titan, recorded by the stream shortly
                if settled:
                    diffs = core.diff_positions(engine.book.open_positions(), exchange_positions)
                    adopted = {d.symbol for d in diffs if d.action is core.Action.ADOPT}
                    diffs += core.foreign_fill_diffs(engine.take_foreign_fills() - adopted, exchange_positions)
                    diffs += core.diff_leverage(engine.book.open_positions(), exchange_positions)
                else:
                    # fills kept landing on every attempt: positions are compared by the next
                    # run (soon: a non-clean run is rechecked), never against a stale snapshot
                    log.warning("reconcile (%s): fills kept arriving; position diff deferred", trigger)
                    self.deferred += 1
                diffs += core.diff_orders({k for k in known if k}, open_orders)
                verdict = core.verdict(diffs, self.previous)
                await self._apply(diffs, {p.symbol: p for p in exchange_positions})
            break
        await alert_venue_closes(engine)  # liquidations the catch-up found
        if self.guard is not None:
            await self.guard({p.symbol for p in engine.book.open_positions()})
        for position in exchange_positions if self.guard is None else ():
            if position.size > 0:
                await ensure_protected(
                    engine,
                    position,
                    attempts=self.protection_attempts,
                    on_failure=lambda reason: self.set_reason(reason, True),
                )
        finished = now_ms()
        run_id = await self._persist(trigger, verdict, diffs, started, finished)
        self._set_mode(verdict)
        metrics.RECONCILE_RUNS.labels(verdict.value).inc()
        metrics.RECONCILE_DIFFS.set(len(diffs))
        metrics.ACTIVE_POSITIONS.set(len(engine.book.open_positions()))
        self.previous = verdict
        self.last = RunResult(run_id, verdict, diffs, started, finished)
        if diffs:
            log.warning("reconcile (%s): %s with %d diff(s)", trigger, verdict, len(diffs))
        return self.last

    async def _apply(self, diffs: list[core.Diff], exchange: dict[str, ExchangePosition]) -> None:
        engine = self.engine
        for diff in diffs:
            real = exchange.get(diff.symbol)
            if diff.action in (core.Action.ADOPT, core.Action.RESIZE) and real is not None:
                current = engine.book.position(diff.symbol)
                engine.book.positions[diff.symbol] = replace(
                    adopt(current, real.side, real.size, real.avg_price, real.stop_loss),
                    opened_ms=current.opened_ms or now_ms(),
                )
                async with transaction(engine.sessions) as session:
                    await store.save_position(
                        session,
                        engine.config.exchange,
                        engine.book.position(diff.symbol),
                        mark_price=real.mark_price,
                        adopted=diff.action is core.Action.ADOPT,
                    )
                if diff.action is core.Action.ADOPT:
                    await raise_alert(
                        engine,
                        diff.symbol,
                        ReasonCode.RECONCILE_DRIFT,
                        f"adopted a position Titan did not open: {diff.exchange}",
                    )
            elif diff.action is core.Action.SET_LEVERAGE:
                engine.leverage_on_venue.pop(diff.symbol, None)  # the venue changed it: set it again next entry
                decided = engine.book.position(diff.symbol).leverage
                try:
                    if decided is not None:
                        await engine.adapter.set_leverage(diff.symbol, decided)
                except NotModified:
                    pass
                except ExchangeError as exc:
                    log.error("could not restore %s leverage to %sx: %s", diff.symbol, decided, exc)
                    message = f"venue leverage {diff.exchange}x, not {decided}x"
                    await raise_alert(engine, diff.symbol, ReasonCode.RECONCILE_DRIFT, message)
            elif diff.action is core.Action.DROP:
                engine.book.positions[diff.symbol] = Position(
                    symbol=diff.symbol,
                    realised_pnl=engine.book.position(diff.symbol).realised_pnl,
                    fees=engine.book.position(diff.symbol).fees,
                )
                async with transaction(engine.sessions) as session:
                    await store.save_position(session, engine.config.exchange, engine.book.position(diff.symbol))

    async def _persist(
        self, trigger: str, verdict: core.Verdict, diffs: list[core.Diff], started: int, finished: int
    ) -> int:
        async with transaction(self.engine.sessions) as session:
            run = ReconcileRun(
                started_ms=started,
                finished_ms=finished,
                trigger=trigger,
                status=verdict.value,
                summary={
                    "exchange": self.engine.config.exchange,
                    "diffs": len(diffs),
                    "positions": len(self.engine.book.open_positions()),
                },
            )
            session.add(run)
            await session.flush()
            for diff in diffs:
                session.add(
                    ReconcileDiff(
                        run_id=run.id,
                        kind=diff.kind,
                        symbol=diff.symbol,
                        field=diff.field,
                        shadow_value=diff.shadow,
                        exchange_value=diff.exchange,
                        severity=diff.severity.value,
                        action=diff.action.value,
                    )
                )
            return run.id

    def _set_mode(self, verdict: core.Verdict) -> None:
        self.set_reason(ReasonCode.RECONCILE_DRIFT, verdict is core.Verdict.WARN)
        self.set_reason(ReasonCode.DRIFT_LIMIT_EXCEEDED, verdict is core.Verdict.BAD)
