"""Operator emergency actions: flatten all, close one symbol, cancel all. Each is idempotent.

They reduce risk, so they run in any mode, PAUSE included. The request is audited before
acting and the result recorded in operator_actions after. If the audit trail itself cannot
take the request, the action still runs (refusing to flatten would be the greater harm)
and the failure is logged at CRITICAL; see docs/decisions.md.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from titan_common.audit import AuditQueueFull
from titan_common.clock import now_ms
from titan_common.db.engine import transaction
from titan_common.db.models import OperatorAction
from titan_common.events import EventType
from titan_common.exchanges import ExchangeError
from titan_common.flags import set_master_arm
from titan_common.messages import Severity
from titan_common.service import ServiceRuntime
from titan_execution.runtime.engine import ExecutionEngine
from titan_execution.runtime.protection import close_position

log = logging.getLogger(__name__)


def _audit_request(runtime: ServiceRuntime, action: str, operator_id: str, request: dict[str, Any]) -> None:
    try:
        runtime.emit(action + "_REQUESTED", severity=Severity.WARNING, operator_id=operator_id, payload=request)
    except AuditQueueFull:
        log.critical("audit queue full; %s by %s proceeds unaudited in Postgres", action, operator_id)


async def _record(
    runtime: ServiceRuntime, action: str, operator_id: str, request: dict[str, Any], result: dict[str, Any]
) -> None:
    assert runtime.sessions is not None
    try:
        async with transaction(runtime.sessions) as session:
            session.add(
                OperatorAction(
                    ts_ms=now_ms(),
                    operator_id=operator_id,
                    action=action,
                    request=request,
                    result=result,
                    success=bool(result.get("success")),
                )
            )
    except Exception:
        log.critical("could not record %s by %s: %s", action, operator_id, result, exc_info=True)


async def flatten_all(
    runtime: ServiceRuntime, engine: ExecutionEngine, operator_id: str, *, disarm: bool = True
) -> dict[str, Any]:
    request = {"disarm": disarm}
    _audit_request(runtime, "FLATTEN_ALL", operator_id, request)
    if disarm:
        # first, so nothing new opens while we close
        async with transaction(engine.sessions) as session:
            await set_master_arm(session, enabled=False, operator_id=operator_id, reason="flatten all")
    try:
        cancelled = await engine.adapter.cancel_all()
    except ExchangeError as exc:
        log.error("cancel-all during flatten failed: %s", exc)
        cancelled = -1
    positions = [p for p in await engine.adapter.positions() if p.size > 0]
    closed = await asyncio.gather(*(close_position(engine, p, reason="FLATTEN_ALL") for p in positions))
    results = [{"symbol": p.symbol, "success": ok} for p, ok in zip(positions, closed, strict=True)]
    result = {
        "success": all(closed) and cancelled >= 0,
        "positions_closed": sum(closed),
        "results": results,
        "orders_cancelled": max(cancelled, 0),
        "master_arm": False if disarm else None,
    }
    await _record(runtime, "FLATTEN_ALL", operator_id, request, result)
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
    positions = [p for p in await engine.adapter.positions() if p.symbol == symbol and p.size > 0]
    ok = all([await close_position(engine, p, reason="OPERATOR_CLOSE") for p in positions])
    result = {"success": ok, "symbol": symbol, "positions_closed": len(positions) if ok else 0}
    await _record(runtime, "CLOSE_POSITION", operator_id, request, result)
    return result


async def cancel_all(runtime: ServiceRuntime, engine: ExecutionEngine, operator_id: str) -> dict[str, Any]:
    _audit_request(runtime, "CANCEL_ALL", operator_id, {})
    try:
        cancelled = await engine.adapter.cancel_all()
        result: dict[str, Any] = {"success": True, "orders_cancelled": cancelled}
    except ExchangeError as exc:
        result = {"success": False, "orders_cancelled": 0, "error": str(exc)}
    await _record(runtime, "CANCEL_ALL", operator_id, {}, result)
    return result
