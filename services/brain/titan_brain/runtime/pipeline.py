"""Signals in, decisions and intents out: the brain's hot path.

Per batch read from `titan:signals`:
  1. the gates: system mode (heartbeats and the brain's own), master arm (Postgres), and
     which signals already have a decision (a redelivery);
  2. each new signal through the pure core (`evaluate`), then the AI gate when enabled
     (mandatory in LIVE with AI_DEC=2: the settings refuse to start without a provider);
     an approval counts as a pending position at once, so the next signal in the batch
     sees it (duplicate, max positions, leverage);
  3. one transaction: signals upserted PENDING -> APPROVED/VETOED/EXPIRED, decisions
     inserted (signal_id is unique), each approval's intent inserted with its decision;
  4. after the commit, each new intent goes to `titan:intents`; a redelivered signal whose
     intent is still CREATED has that SAME intent published again (it may have been
     committed and never published), never a second one;
  5. the caller acks the batch.
If the transaction fails nothing is acked: the batch comes back and is decided again.

Steps 1-2 are `decide`, 3-4 `record`. The brain's workers (TITAN_SIGNAL_WORKERS) read and
decide holding one turn, so batches are decided one at a time in stream order, and record
after letting go of it: one batch's commit overlaps the next one's decisions. A batch that
then fails to record forgets its pending entries; the next batch may have been vetoed
against them meanwhile (DUPLICATE_POSITION and the like): a refusal, never an extra entry.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from titan_brain.core.aigate import FailureAction, on_failure, vetoed
from titan_brain.core.evaluate import evaluate_detailed
from titan_brain.core.sizing import with_costs
from titan_brain.core.types import OpenPosition
from titan_brain.runtime import metrics, store
from titan_brain.runtime.aigate import AIGate
from titan_brain.runtime.state import BrainState, Pending
from titan_common.bus import Delivery, StreamProducer
from titan_common.clock import now_ms
from titan_common.flags import read_master_arm
from titan_common.messages import (
    Decision,
    IntentKind,
    OrderIntent,
    OrderType,
    Signal,
    Verdict,
    client_order_id_for,
    new_id,
)
from titan_common.reasons import ReasonCode
from titan_common.settings import SystemMode
from titan_common.system_state import Mode

log = logging.getLogger(__name__)

GateFailureHook = Callable[[ReasonCode, FailureAction, Decision], None]


@dataclass(frozen=True)
class Decided:
    """A batch decided, not yet on record: the session whose transaction read its gates (its
    records commit in it), the records, and the decisions already on record before it."""

    deliveries: Sequence[Delivery[Signal]]
    session: AsyncSession
    records: list[store.Record]
    existing: dict[str, store.Existing]
    started: float


@dataclass(frozen=True)
class BatchResult:
    ack_ids: list[str]
    decided: list[store.Record]  # decisions this batch put on record
    published: list[OrderIntent]  # new intents and re-published ones
    redelivered: int


def build_intent(decision: Decision, signal: Signal, now: int) -> OrderIntent:
    """The entry execution must place for an approval."""
    assert decision.stop_loss is not None
    intent_id = new_id()
    return OrderIntent(
        intent_id=intent_id,
        client_order_id=client_order_id_for(intent_id),
        ts_ms=now,
        correlation=decision.correlation.model_copy(update={"order_intent_id": intent_id}),
        kind=IntentKind.ENTRY,
        exchange=decision.exchange,
        symbol=decision.symbol,
        side=decision.side,
        order_type=OrderType.MARKET,
        qty=decision.qty,
        # execution checks the minimum notional of a market order against this price
        reference_price=signal.entry_price,
        stop_loss=decision.stop_loss,
        take_profit=decision.take_profit,
        leverage=max(1, decision.leverage),
        # an intent does not outlive its signal
        ttl_ms=max(1, signal.expires_at_ms() - now),
    )


class SignalPipeline:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        producer: StreamProducer[OrderIntent],
        state: BrainState,
        # the system mode for entries: one for every venue, or each running venue's own
        read_mode: Callable[[], Awaitable[Mode | Mapping[str, Mode]]],
        gate: AIGate | None = None,
        on_gate_failure: GateFailureHook | None = None,
        on_decided: Callable[[list[store.Record]], None] | None = None,
    ) -> None:
        self.sessions = sessions
        self.producer = producer
        self.state = state
        self.read_mode = read_mode
        self.gate = gate if gate is not None and gate.enabled else None
        self.on_gate_failure = on_gate_failure
        self.on_decided = on_decided

    async def process(self, deliveries: Sequence[Delivery[Signal]]) -> BatchResult:
        return await self.record(await self.decide(deliveries))

    async def decide(self, deliveries: Sequence[Delivery[Signal]]) -> Decided:
        """Steps 1 and 2: the gates read in the transaction the decisions will commit in (held
        by the returned batch), and each new signal decided in stream order."""
        started = time.perf_counter()
        unique: dict[str, Signal] = {}
        for delivery in deliveries:
            unique.setdefault(delivery.message.signal_id, delivery.message)
        modes = await self.read_mode()
        session = self.sessions()
        records: list[store.Record] = []
        try:
            armed = await read_master_arm(session)
            # a signal read for the first time has a decision on record only if it was published
            # twice; the insert's conflict finds that one, so only redeliveries are looked up first
            redelivered = [d.message.signal_id for d in deliveries if d.claimed]
            existing = await store.existing_decisions(session, redelivered) if redelivered else {}
            self.state.master_armed = armed
            if self.gate is not None:
                await session.rollback()  # hold no transaction while the AI gate is asked
            now = now_ms()
            for signal in unique.values():
                if signal.signal_id not in existing:
                    records.append(await self._decide(signal, now, self._mode_for(modes, signal), armed))
        except BaseException:
            self._forget_pending(records)
            await session.close()
            raise
        return Decided(deliveries, session, records, existing, started)

    async def record(self, batch: Decided) -> BatchResult:
        """Steps 3 and 4: the batch's one transaction, then its intents on the stream. A batch
        that cannot be recorded forgets its pending entries (nothing of it is acked)."""
        session, records, existing = batch.session, batch.records, batch.existing
        try:
            won = await store.write_records(session, records, self.state.settings.account_of)
            lost = [r.signal.signal_id for r in records if r.signal.signal_id not in won]
            if lost:  # another consumer decided these first; theirs stand
                existing.update(await store.existing_decisions(session, lost))
            await session.commit()
        except BaseException:
            self._forget_pending(records)
            raise
        finally:
            await session.close()  # rolls back whatever was not committed
        decided = [r for r in records if r.signal.signal_id in won]
        self._forget_pending([r for r in records if r.signal.signal_id not in won])

        to_publish = [r.intent for r in decided if r.intent is not None]
        republish = [e.intent for e in existing.values() if e.should_republish and e.intent is not None]
        await self.producer.publish_many(to_publish + republish)  # one round trip, in order
        for intent in republish:
            log.warning(
                "re-published intent %s of redelivered signal %s", intent.intent_id, intent.correlation.signal_id
            )
        metrics.INTENTS_PUBLISHED.labels("new").inc(len(to_publish))
        metrics.INTENTS_PUBLISHED.labels("republished").inc(len(republish))
        deliveries = batch.deliveries
        redelivered = len(deliveries) - len(decided)
        metrics.REDELIVERIES.inc(redelivered)
        for record in decided:
            reason = record.decision.reasons[0].value if record.decision.reasons else ""
            metrics.DECISIONS.labels(record.decision.verdict.value, reason).inc()
        if self.on_decided is not None and decided:
            self.on_decided(decided)
        elapsed_ms = (time.perf_counter() - batch.started) * 1000
        for _ in deliveries:
            metrics.SIGNAL_LATENCY_MS.observe(elapsed_ms)
        return BatchResult([d.message_id for d in deliveries], decided, to_publish + republish, redelivered)

    async def process_or_each(self, deliveries: Sequence[Delivery[Signal]]) -> list[str]:
        """The batch in one transaction; if that fails, each signal in its own (one worker's
        way through `record_or_each`)."""
        turn = asyncio.Lock()
        async with turn:
            decided = await self.decide_in_turn(deliveries)
        return await self.record_or_each(deliveries, decided, turn)

    async def decide_in_turn(self, deliveries: Sequence[Delivery[Signal]]) -> Decided | None:
        """`decide`, for a caller holding the turn; None when the batch could not be decided
        (logged): `record_or_each` then takes its signals one by one."""
        try:
            return await self.decide(deliveries)
        except Exception:
            log.exception("a batch of %d signals could not be decided", len(deliveries))
            return None

    async def record_or_each(
        self, deliveries: Sequence[Delivery[Signal]], decided: Decided | None, turn: asyncio.Lock
    ) -> list[str]:
        """Record the decided batch in its one transaction; if it could not be decided or
        recorded, each signal in its own, so one signal the database refuses does not hold
        back the others. Returns the message ids to ack; a signal that still fails stays
        pending (redelivered, then dead-lettered)."""
        if decided is not None:
            try:
                return (await self.record(decided)).ack_ids
            except Exception:
                log.exception("a batch of %d signals could not be recorded", len(deliveries))
        if len(deliveries) == 1:
            return []  # left pending: it comes back
        return await self.process_each(deliveries, turn)

    async def process_each(self, deliveries: Sequence[Delivery[Signal]], turn: asyncio.Lock) -> list[str]:
        """Each signal decided and recorded on its own, holding `turn` (other workers' batches
        are decided in between, never during). Returns the ids to ack."""
        acked: list[str] = []
        for delivery in deliveries:
            try:
                async with turn:
                    acked += (await self.process([delivery])).ack_ids
            except Exception:
                log.exception("signal %s failed; left pending", delivery.message.signal_id)
        return acked

    def _mode_for(self, modes: Mode | Mapping[str, Mode], signal: Signal) -> Mode:
        """The mode that gates an entry on the signal's venue: a venue's own execution counts
        for that venue alone (a venue not running: the first venue's; the core then refuses
        it with VENUE_NOT_ENABLED)."""
        if isinstance(modes, Mode):
            return modes
        return modes.get(signal.exchange) or modes[self.state.settings.venues[0]]

    async def _decide(self, signal: Signal, now: int, mode: Mode, armed: bool) -> store.Record:
        config = self.state.config
        portfolio = self.state.portfolio(now, mode=mode, armed=armed)
        evaluation = evaluate_detailed(signal, portfolio, config.config, self.state.market(now))
        decision = evaluation.decision
        detail: dict[str, Any] = {
            "detail": evaluation.detail,
            "sizing": evaluation.sizing.as_dict() if evaluation.sizing else None,
            "config_version": config.version_tag,
            "equity": str(portfolio.equity) if portfolio.equity is not None else None,
            "performance_modifier": str(portfolio.performance_modifier),
        }
        if decision.verdict is Verdict.APPROVE and self.gate is not None:
            decision, detail["aigate"] = await self._gate(decision, signal, portfolio.equity, len(portfolio.positions))
            decision = with_costs(decision, config.config)  # a MODIFY changed qty or stop
        elif decision.verdict is Verdict.APPROVE and self.gate_mandatory:
            # settings refuse to start like this; should it happen anyway, fail closed
            decision = self._no_gate(decision)
            detail["aigate"] = {"verdict": "ERROR", "failure": ReasonCode.AIGATE_ERROR.value,
                                "detail": "AI_DEC=2 in LIVE and no AI gate provider"}  # fmt: skip
        intent = None
        if decision.verdict is Verdict.APPROVE:
            intent = build_intent(decision, signal, now)
            decision = decision.model_copy(update={"correlation": intent.correlation})
            position = OpenPosition(
                symbol=decision.symbol, side=decision.side, size=decision.qty, entry_price=signal.entry_price,
                pending=True, exchange=decision.exchange,
            )  # fmt: skip
            self.state.add_pending(decision.symbol, Pending(position, intent.intent_id, intent.expires_at_ms()))
        log.debug("decision %s %s %s %s", signal.signal_id, decision.verdict, decision.reasons, evaluation.detail)
        return store.Record(signal, decision, intent, detail)

    @property
    def gate_mandatory(self) -> bool:
        settings = self.state.settings
        return settings.system_mode is SystemMode.LIVE and settings.ai_dec >= 2

    def _no_gate(self, decision: Decision) -> Decision:
        log.critical("AI_DEC=2 in LIVE but no AI gate provider: %s refused", decision.signal_id)
        refused = with_costs(vetoed(decision, ReasonCode.AIGATE_ERROR), self.state.config.config)
        if self.on_gate_failure is not None:
            self.on_gate_failure(ReasonCode.AIGATE_ERROR, FailureAction.BLOCK_AND_PAUSE, refused)
        return refused

    async def _gate(
        self, decision: Decision, signal: Signal, equity: Any, open_positions: int
    ) -> tuple[Decision, dict[str, Any]]:
        assert self.gate is not None
        context = {
            "equity": str(equity),
            "phase": self.state.phase,
            "open_positions": open_positions,
            "daily_drawdown": str(self.state.nav.daily_drawdown),
        }
        outcome = await self.gate.review(decision, signal, context)
        if outcome.failure is None:
            assert outcome.decision is not None
            record = {"verdict": outcome.verdict.value if outcome.verdict else None, "detail": outcome.detail[:500]}
            return outcome.decision, record
        settings = self.state.settings
        action = on_failure(
            live=settings.system_mode is SystemMode.LIVE,
            ai_dec=settings.ai_dec,
            managing=self.state.position(decision.symbol, decision.exchange) is not None,
        )
        refused = vetoed(decision, outcome.failure)
        if self.on_gate_failure is not None:
            self.on_gate_failure(outcome.failure, action, refused)
        record = {"verdict": "ERROR", "failure": outcome.failure.value, "action": action.value,
                  "detail": outcome.detail[:500]}  # fmt: skip
        return refused, record

    def _forget_pending(self, records: Sequence[store.Record]) -> None:
        for record in records:
            if record.intent is not None:
                self.state.forget_pending(record.decision.symbol, record.decision.exchange, record.intent.intent_id)
