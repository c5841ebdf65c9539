"""A sprung trap becomes a signal: audited (TRAP_SPRUNG), then published on titan:signals."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from decimal import Decimal

from titan_common.audit import AuditQueueFull
from titan_common.bus import StreamProducer
from titan_common.clock import now_ms
from titan_common.events import EventType, TrapSprung, payload_of
from titan_common.messages import Event, Signal, new_id
from titan_common.service import ServiceRuntime
from titan_scavenger.core.signals import SignalConfig, signal_for
from titan_scavenger.core.sprung import Sprung
from titan_scavenger.runtime import metrics
from titan_scavenger.runtime.live import LiveHub

log = logging.getLogger(__name__)


def _dec(value: float) -> Decimal:
    return Decimal(repr(value))


class SignalEmitter:
    def __init__(
        self,
        runtime: ServiceRuntime,
        producer: Callable[[], StreamProducer[Signal] | None],
        cfg: SignalConfig,
        *,
        window_ms: int,
        cycle_id: Callable[[], str],
        hub: LiveHub,
    ) -> None:
        self.runtime = runtime
        self.producer = producer
        self.cfg = cfg
        self.window_ms = window_ms
        self.cycle_id = cycle_id
        self.hub = hub
        self.published = 0

    async def fire(self, sprung: Sprung, received_ns: int) -> Signal | None:
        """Audit first, then publish: no audit row, no signal."""
        trap = sprung.trap
        signal_id = new_id()
        signal = signal_for(
            sprung,
            signal_id=signal_id,
            ts_ms=now_ms(),
            run_id=self.runtime.settings.run_id,
            cycle_id=self.cycle_id(),
            cfg=self.cfg,
        )
        if signal is None:
            metrics.SPRUNG_DROPPED.labels("GEOMETRY").inc()
            log.info(
                "trap %s sprang at %s but its stop or target is behind the entry; no signal", trap.trap_id, sprung.price
            )
            return None
        producer = self.producer()
        if producer is None:
            metrics.SPRUNG_DROPPED.labels("NO_REDIS").inc()
            return None
        payload = TrapSprung(
            signal_id=signal_id,
            trap_id=trap.trap_id,
            symbol=trap.symbol,
            side=trap.side,
            trap_type=trap.trap_type.value,
            trigger_price=trap.trigger,
            price=_dec(sprung.price),
            entry_price=signal.entry_price,
            stop_loss=signal.stop_loss,
            take_profits=signal.take_profits,
            confidence=signal.confidence,
            leverage_hint=signal.leverage_hint,
            expected_move_pct=signal.expected_move_pct or Decimal(0),
            trades_in_window=sprung.trades_in_window,
            window_ms=self.window_ms,
            trade_ts_ms=sprung.trade_ts_ms,
            ttl_ms=signal.ttl_ms,
        )
        try:
            event: Event = self.runtime.emit(
                EventType.TRAP_SPRUNG, stage="TRAP_SPRUNG", correlation=signal.correlation, payload=payload_of(payload)
            )
        except AuditQueueFull:
            metrics.SPRUNG_DROPPED.labels("AUDIT_FULL").inc()
            log.critical("TRAP_SPRUNG %s not audited (audit queue full): no signal", trap.trap_id)
            return None
        try:
            await producer.publish(signal)
        except Exception as exc:
            metrics.SPRUNG_DROPPED.labels("PUBLISH_FAILED").inc()
            log.error("signal %s for %s could not be published: %s", signal_id, trap.trap_id, exc)
            return None
        latency_ms = (time.perf_counter_ns() - received_ns) / 1e6
        metrics.SIGNAL_LATENCY_MS.observe(latency_ms)
        metrics.TRAPS_SPRUNG.labels(trap.trap_type.value).inc()
        metrics.SIGNALS.labels(trap.trap_type.value).inc()
        self.published += 1
        self.hub.publish(event)
        log.info(
            "TRAP_SPRUNG %s %s %s trigger=%s price=%s trades=%d/%dms entry=%s stop=%s tp=%s signal=%s (%.2f ms)",
            trap.symbol,
            trap.trap_type.value,
            trap.side.value,
            trap.trigger,
            sprung.price,
            sprung.trades_in_window,
            self.window_ms,
            signal.entry_price,
            signal.stop_loss,
            signal.take_profits[0],
            signal_id,
            latency_ms,
        )
        return signal
