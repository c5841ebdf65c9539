"""Operator emergency actions: flatten all, close one symbol, cancel all. Each is idempotent.

They reduce risk, so they run in any mode, PAUSE included, and with Postgres down: they act
on the venue first. The request is audited before acting (the audit mirror takes it even
when Postgres does not) and the result recorded in operator_actions after, or when Postgres
returns. A flatten's disarm holds in memory (entries refused) until Postgres confirms it. If
the audit trail itself cannot take the request, the action still runs (refusing to flatten
would be the greater harm) and the failure is logged at CRITICAL; see docs/decisions.md.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from titan_common.audit import AuditQueueFull
from titan_common.clock import now_ms
from titan_common.db.engine import DB_ERRORS, transaction
from titan_common.db.models import OperatorAction
from titan_common.events import EventType
from titan_common.exchanges import ExchangeError
from titan_common.messages import Severity
from titan_common.reasons import ReasonCode
from titan_common.service import ServiceRuntime
from titan_execution.runtime.engine import ExecutionEngine
from titan_execution.runtime.master_arm import set_master_arm
from titan_execution.runtime.protection import close_position, ensure_protected

log = logging.getLogger(__name__)


def _audit_request(runtime: ServiceRuntime, action: str, operator_id: str, request: dict[str, Any]) -> None:
    try:
        runtime.emit(action + "_REQUESTED", severity=Severity.WARNING, operator_id=operator_id, payload=request)
    except AuditQueueFull:
        log.critical("audit queue full; %s by %s proceeds unaudited in Postgres", action, operator_id)


async def _record(
    engine: ExecutionEngine, action: str, operator_id: str, request: dict[str, Any], result: dict[str, Any]
) -> None:
    row = OperatorAction(
        ts_ms=now_ms(),
        operator_id=operator_id,
        action=action,
        request=request,
        result=result,
        success=bool(result.get("success")),
    )

    async def write(session: AsyncSession) -> None:
        session.add(row)

    try:
        async with transaction(engine.sessions) as session:
            await write(session)
    except DB_ERRORS:
        log.critical("Postgres is down: %s by %s is recorded when it returns", action, operator_id)
        engine.deferred.append(write)


async def set_arm(
    runtime: ServiceRuntime,
    engine: ExecutionEngine,
    operator_id: str,
    *,
    enabled: bool,
    reason: str,
    request: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Master arm at the one door, its one writer; `request` is the caller's, for the
    MASTER_ARM record.
    - Off: entries are refused from now, whatever Postgres is doing (on record now or when
      it returns). The console's disarm and kill switch, and the brain's breaker, land here.
    - On: only with Postgres taking it now (arming never waits for a record), and never while
      the kill switch is engaged. Raises KillSwitchEngaged, or DB_ERRORS."""
    _audit_request(runtime, "ARM" if enabled else "DISARM", operator_id, request or {"reason": reason})
    if enabled:
        async with transaction(engine.sessions) as session:
            previous, _now = await set_master_arm(
                session, enabled=True, operator_id=operator_id, reason=reason, request=request
            )
        persisted: bool = True
    else:
        persisted, previous = await _disarm(engine, operator_id, reason, request)
    return {
        "success": True,
        "master_arm": enabled,
        "persisted": persisted,
        "previous_state": previous,
        "operator_id": operator_id,
    }


async def _disarm(
    engine: ExecutionEngine, operator_id: str, reason: str, request: dict[str, Any] | None = None
) -> tuple[bool, bool | None]:
    """Disarm now: in memory at once (entries refused), in Postgres now or when it returns.
    Returns (in Postgres already, the previous state when known)."""
    engine.disarm_latched = True

    async def write(session: AsyncSession) -> None:
        await set_master_arm(session, enabled=False, operator_id=operator_id, reason=reason, request=request)
        engine.disarm_latched = False  # released by the flush once the commit holds

    try:
        async with transaction(engine.sessions) as session:
            previous, _now = await set_master_arm(
                session, enabled=False, operator_id=operator_id, reason=reason, request=request
            )
    except DB_ERRORS:
        log.critical("Postgres is down: disarmed in memory until it takes the disarm")
        engine.deferred.append(write)
        return False, None
    engine.disarm_latched = False
    return True, previous


async def _until_booked(engine: ExecutionEngine, symbols: list[str], timeout_s: float = 2.0) -> None:
    """Wait (bounded) until the closes' fills are in the shadow book and on record, so that the
    operator's next GET /positions never shows what was just closed. The fills arrive on the
    venue's private stream a moment after the venue took the orders."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    # the shadow book has no change event to wait on: a short, bounded poll
    while not all(engine.book.position(symbol).is_flat for symbol in symbols) and loop.time() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.02)
    async with engine.fills_lock:  # a fill being applied is committed before the answer
        pass


async def flatten_all(
    runtime: ServiceRuntime, engine: ExecutionEngine, operator_id: str, *, disarm: bool = True
) -> dict[str, Any]:
    request = {"disarm": disarm}
    _audit_request(runtime, "FLATTEN_ALL", operator_id, request)
    if disarm:
        await _disarm(engine, operator_id, "flatten all")  # first, so nothing new opens while we close
    try:
        cancelled = await engine.cancel_all(origin="FLATTEN_ALL")
    except ExchangeError as exc:
        log.error("cancel-all during flatten failed: %s", exc)
        cancelled = -1
    positions = [p for p in await engine.venue_positions() if p.size > 0]
    closed = await asyncio.gather(
        *(close_position(engine, p, reason="FLATTEN_ALL", operator_id=operator_id) for p in positions)
    )
    results = [{"symbol": p.symbol, "success": ok} for p, ok in zip(positions, closed, strict=True)]
    await _until_booked(engine, [p.symbol for p, ok in zip(positions, closed, strict=True) if ok])
    result = {
        "success": all(closed) and cancelled >= 0,
        "positions_closed": sum(closed),
        "results": results,
        "orders_cancelled": max(cancelled, 0),
        "master_arm": False if disarm else None,
    }
    await _record(engine, "FLATTEN_ALL", operator_id, request, result)
    try:
        runtime.emit(EventType.EMERGENCY_FLATTEN, severity=Severity.WARNING, operator_id=operator_id, payload=result)
    except AuditQueueFull:
        log.critical("audit queue full; the flatten result by %s is only in operator_actions", operator_id)
    return result


async def close_symbol(
    runtime: ServiceRuntime, engine: ExecutionEngine, operator_id: str, symbol: str
) -> dict[str, Any]:
    request = {"symbol": symbol}
    _audit_request(runtime, "CLOSE_POSITION", operator_id, request)
    positions = [p for p in await engine.venue_positions() if p.symbol == symbol and p.size > 0]
    ok = all([await close_position(engine, p, reason="OPERATOR_CLOSE", operator_id=operator_id) for p in positions])
    if ok and positions:
        await _until_booked(engine, [symbol])
    result = {"success": ok, "symbol": symbol, "positions_closed": len(positions) if ok else 0}
    await _record(engine, "CLOSE_POSITION", operator_id, request, result)
    return result


async def clear_protection_failed(
    runtime: ServiceRuntime, engine: ExecutionEngine, operator_id: str, reason: str
) -> dict[str, Any]:
    """An admin's reviewed clear of PROTECTION_FAILED. Every open position's stop is checked
    again at once: one that still cannot be protected is closed and sets it again."""
    request = {"reason": reason}
    was_set = ReasonCode.PROTECTION_FAILED in runtime.state.reasons
    _audit_request(runtime, "PROTECTION_FAILED_CLEAR", operator_id, request)
    runtime.set_reason(ReasonCode.PROTECTION_FAILED, False)
    unprotected = []
    for position in [p for p in await engine.venue_positions() if p.size > 0]:
        checked = await ensure_protected(
            engine, position, attempts=1, on_failure=lambda code: runtime.set_reason(code, True)
        )
        if not checked.protected:
            unprotected.append(position.symbol)
    result = {
        "success": not unprotected,
        "cleared": not unprotected,
        "was_set": was_set,
        "unprotected": unprotected,
        "mode": runtime.state.mode.value,
        "operator_id": operator_id,
    }
    await _record(engine, "PROTECTION_FAILED_CLEAR", operator_id, request, result)
    return result


async def cancel_all(runtime: ServiceRuntime, engine: ExecutionEngine, operator_id: str) -> dict[str, Any]:
    _audit_request(runtime, "CANCEL_ALL", operator_id, {})
    try:
        cancelled = await engine.cancel_all(origin="CANCEL_ALL")
        result: dict[str, Any] = {"success": True, "orders_cancelled": cancelled}
    except ExchangeError as exc:
        result = {"success": False, "orders_cancelled": 0, "error": str(exc)}
    await _record(engine, "CANCEL_ALL", operator_id, {}, result)
    return result
