"""Every position has a protective stop from the moment it exists.

After a fill, and on every reconcile, the stop is checked on the exchange (REST is the
truth). A missing stop is set with trading-stop; if that fails `attempts` times, the
position is closed with a reduce-only market order and the service pauses with
PROTECTION_FAILED (recovery is an operator's decision).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select

from titan_common.clock import now_ms
from titan_common.db.engine import transaction
from titan_common.db.models import Alert, OrderIntentRow
from titan_common.exchanges import ExchangeError, ExchangePosition, NotModified
from titan_common.messages import IntentState, Side
from titan_common.reasons import ReasonCode
from titan_execution.core.filters import round_to_tick
from titan_execution.runtime import store
from titan_execution.runtime.engine import ExecutionEngine

log = logging.getLogger(__name__)
CRITICAL_ALERTS = frozenset({ReasonCode.PROTECTION_FAILED, ReasonCode.POSITION_LIQUIDATED})
# an exit the venue took: accepted, partly or wholly filled
CLOSE_ACCEPTED = frozenset({IntentState.CONFIRMED, IntentState.PARTIALLY_FILLED, IntentState.FILLED})

# An adopted position has no signal behind it; it gets a stop this far from its entry.
ADOPTED_STOP_DISTANCE = Decimal("0.02")


@dataclass(frozen=True)
class ProtectionResult:
    symbol: str
    protected: bool
    closed: bool = False
    stop_loss: Decimal | None = None
    detail: str = ""


async def intended_stop(engine: ExecutionEngine, symbol: str) -> Decimal | None:
    """The stop of the newest entry intent for the symbol, if any."""
    async with engine.sessions() as session:
        return await session.scalar(
            select(OrderIntentRow.stop_loss)
            .where(
                OrderIntentRow.symbol == symbol,
                OrderIntentRow.kind == "ENTRY",
                OrderIntentRow.stop_loss.is_not(None),
                store.of_account(engine.config.exchange),
            )
            .order_by(OrderIntentRow.ts_ms.desc())
            .limit(1)
        )


def fallback_stop(position: ExchangePosition) -> Decimal:
    reference = position.avg_price or position.mark_price or Decimal(0)
    offset = reference * ADOPTED_STOP_DISTANCE
    return reference - offset if position.side is Side.BUY else reference + offset


def stop_is_on_the_right_side(position: ExchangePosition, stop: Decimal) -> bool:
    mark = position.mark_price or position.avg_price
    return stop < mark if position.side is Side.BUY else stop > mark


async def ensure_protected(
    engine: ExecutionEngine,
    position: ExchangePosition,
    *,
    attempts: int = 2,
    on_failure: Callable[[ReasonCode], None] | None = None,
) -> ProtectionResult:
    if position.size <= 0 or position.side is None:
        return ProtectionResult(position.symbol, protected=True, detail="flat")
    if position.stop_loss is not None:
        await remember_stop(engine, position.symbol, position.stop_loss)
        return ProtectionResult(position.symbol, protected=True, stop_loss=position.stop_loss)
    stop = await _stop_for(engine, position)
    if engine.config.spot:
        # a spot venue takes no stop orders: Titan's own stop guards the position (titan_stops.py)
        await remember_stop(engine, position.symbol, stop)
        log.info("%s guarded by Titan with stop %s", position.symbol, stop)
        return ProtectionResult(position.symbol, protected=True, stop_loss=stop, detail="titan-side")
    last_error = ""
    for attempt in range(1, attempts + 1):
        try:
            await engine.set_stop(position.symbol, stop)
        except NotModified:
            pass
        except ExchangeError as exc:
            if await _closed_meanwhile(engine, position.symbol):
                # the position closed between the read and the stop (its exit filled): nothing to protect
                log.info("%s closed before its stop was set (%s)", position.symbol, exc)
                return ProtectionResult(position.symbol, protected=True, detail="flat")
            last_error = str(exc)
            log.error("protect %s attempt %d/%d failed: %s", position.symbol, attempt, attempts, exc)
            continue
        await remember_stop(engine, position.symbol, stop)
        log.info("protected %s with stop %s", position.symbol, stop)
        return ProtectionResult(position.symbol, protected=True, stop_loss=stop)
    # could not protect: close it, and pause for an operator
    closed = await close_position(engine, position, reason="PROTECTION_FAILED")
    await raise_alert(engine, position.symbol, ReasonCode.PROTECTION_FAILED, f"stop could not be set: {last_error}")
    if on_failure is not None:
        on_failure(ReasonCode.PROTECTION_FAILED)
    return ProtectionResult(position.symbol, protected=False, closed=closed, detail=last_error)


async def _closed_meanwhile(engine: ExecutionEngine, symbol: str) -> bool:
    """True when the venue now holds no position in the symbol. A failed lookup is not
    evidence of flat: the caller keeps treating the position as open (fail closed)."""
    try:
        positions = await engine.venue_positions()
    except ExchangeError as exc:
        log.warning("could not re-read %s after a failed stop: %s", symbol, exc)
        return False
    return not any(p.symbol == symbol and p.size > 0 and p.side is not None for p in positions)


async def _stop_for(engine: ExecutionEngine, position: ExchangePosition) -> Decimal:
    """The stop a position without one gets: its entry intent's, else the adopted distance
    from its entry; on the instrument's tick."""
    stop = await intended_stop(engine, position.symbol)
    if stop is None or not stop_is_on_the_right_side(position, stop):
        stop = fallback_stop(position)
    filters = engine.filters.get(position.symbol)
    if filters is not None:
        stop = round_to_tick(stop, filters.tick_size)
        if stop <= 0:  # a stop that rounds to nothing would cancel the stop, not set one
            stop = round_to_tick(fallback_stop(position), filters.tick_size)
    return stop


async def remember_stop(engine: ExecutionEngine, symbol: str, stop: Decimal) -> None:
    """Keep the stop in the shadow state and its record, so /positions shows what protects it."""
    if engine.book.position(symbol).stop_loss == stop:
        return
    engine.book.set_stop(symbol, stop)
    async with transaction(engine.sessions) as session:
        await store.set_stop(session, engine.config.exchange, symbol, stop)


async def close_position(
    engine: ExecutionEngine, position: ExchangePosition, *, reason: str, operator_id: str | None = None
) -> bool:
    """A reduce-only market close of the whole position, through the engine's one door.
    True when the venue took it (or it had already filled)."""
    if position.side is None or position.size <= 0:
        return True
    outcome = await engine.exit_position(
        position.symbol, position.side, position.size, origin=reason, operator_id=operator_id,
        reference_price=position.mark_price or None,
    )  # fmt: skip
    if outcome.state not in CLOSE_ACCEPTED:
        log.error("close of %s failed: %s %s %s", position.symbol, outcome.state, outcome.reasons, outcome.detail)
        return False
    return True


async def alert_venue_closes(engine: ExecutionEngine) -> None:
    """An alert for every position the venue itself liquidated or deleveraged since last asked."""
    for symbol in sorted(engine.take_venue_closes()):
        position = engine.book.position(symbol)
        left = "closed" if position.is_flat else f"reduced to {position.size}"
        log.error("%s liquidated or auto-deleveraged by the venue: position %s", symbol, left)
        await raise_alert(engine, symbol, ReasonCode.POSITION_LIQUIDATED, f"the venue liquidated the position ({left})")


async def raise_alert(engine: ExecutionEngine, symbol: str, reason: ReasonCode, message: str) -> None:
    async with transaction(engine.sessions) as session:
        session.add(
            Alert(
                ts_ms=now_ms(),
                severity="CRITICAL" if reason in CRITICAL_ALERTS else "HIGH",
                source="execution",
                alert_type=reason.value,
                reason_code=reason.value,
                message=f"{symbol}: {message}",
            )
        )
