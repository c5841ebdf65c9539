"""Execution's HTTP routes: thin. Reads are open on loopback; mutations need an operator."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from titan_common.api_types import epoch_ms_query
from titan_common.auth.http import Operator, require_role
from titan_common.auth.roles import Role
from titan_common.clock import utc_day_start_ms
from titan_common.db.engine import DB_ERRORS
from titan_common.events import WalletUpdate
from titan_common.exchanges import ExchangeError
from titan_common.reasons import ReasonCode
from titan_common.service import ServiceRuntime, get_runtime
from titan_execution.core import reconcile as reconcile_core
from titan_execution.runtime import Execution, execution_of, operator_actions, views
from titan_execution.runtime.engine import ExecutionEngine
from titan_execution.runtime.master_arm import KillSwitchEngaged
from titan_execution.settings import ExecutionSettings

router = APIRouter()
operator = require_role(Role.OPERATOR)
admin = require_role(Role.ADMIN)
risk_raiser = require_role(Role.OPERATOR, raises_risk=True)  # in LIVE: admin


def _exchange(runtime: ServiceRuntime) -> str:
    """This execution's venue: its reads show its own account's rows only."""
    return cast(ExecutionSettings, runtime.settings).exchange


def _sessions(runtime: ServiceRuntime) -> async_sessionmaker[AsyncSession]:
    assert runtime.sessions is not None
    return runtime.sessions


def _started(runtime: ServiceRuntime) -> Execution:
    """The service, once its startup reconcile is done; 503 STARTUP_RECOVER before."""
    execution = execution_of(runtime)
    if not execution.started:
        raise HTTPException(503, "STARTUP_RECOVER")
    return execution


def _engine(runtime: ServiceRuntime) -> ExecutionEngine:
    return _started(runtime).engine


async def _engine_when_ready(runtime: ServiceRuntime) -> ExecutionEngine:
    """For the emergency actions: an operator who flattens right after a restart waits for
    startup recovery (bounded) instead of being refused while it finishes."""
    ready = execution_of(runtime).ready
    if not ready.is_set():
        wait_s = cast(ExecutionSettings, runtime.settings).emergency_ready_wait_s
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ready.wait(), timeout=wait_s)
    return _engine(runtime)


@router.get("/positions", response_model=views.Positions)
async def positions(runtime: ServiceRuntime = Depends(get_runtime)) -> views.Positions:
    async with _sessions(runtime)() as session:
        return await views.positions(session, _exchange(runtime))


@router.get("/orders", response_model=views.Orders)
async def orders(
    runtime: ServiceRuntime = Depends(get_runtime), limit: int = Query(100, ge=1, le=1000), open_only: bool = True
) -> views.Orders:
    async with _sessions(runtime)() as session:
        return await views.orders(session, _exchange(runtime), limit=limit, open_only=open_only)


@router.get("/trades", response_model=views.Trades)
async def trades(
    runtime: ServiceRuntime = Depends(get_runtime),
    limit: int = Query(50, ge=1, le=10000),
    since_ms: int = epoch_ms_query(0, "only trades closed at or after this time"),
) -> views.Trades:
    async with _sessions(runtime)() as session:
        return await views.trades(session, _exchange(runtime), limit=limit, since_ms=since_ms)


@router.post("/positions/flatten")
async def flatten(runtime: ServiceRuntime = Depends(get_runtime), who: Operator = Depends(operator)) -> dict[str, Any]:
    return await operator_actions.flatten_all(runtime, await _engine_when_ready(runtime), who.operator_id)


@router.post("/positions/{symbol}/close")
async def close(
    symbol: str, runtime: ServiceRuntime = Depends(get_runtime), who: Operator = Depends(operator)
) -> dict[str, Any]:
    return await operator_actions.close_symbol(
        runtime, await _engine_when_ready(runtime), who.operator_id, symbol.upper()
    )


@router.post("/orders/cancel-all")
async def cancel_all(
    runtime: ServiceRuntime = Depends(get_runtime), who: Operator = Depends(operator)
) -> dict[str, Any]:
    return await operator_actions.cancel_all(runtime, await _engine_when_ready(runtime), who.operator_id)


class MasterArmBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, Field(max_length=500)] = "operator"
    request: dict[str, Any] | None = None  # the caller's own request, kept with the record


@router.post("/api/safety/disarm")
async def disarm(
    body: MasterArmBody | None = None, runtime: ServiceRuntime = Depends(get_runtime), who: Operator = Depends(operator)
) -> dict[str, Any]:
    """Master arm off at the door: entries refused at once, on record now or when Postgres returns."""
    engine = await _engine_when_ready(runtime)
    body = body or MasterArmBody()
    return await operator_actions.set_arm(
        runtime, engine, who.operator_id, enabled=False, reason=body.reason, request=body.request
    )


@router.post("/api/safety/arm")
async def arm(
    body: MasterArmBody | None = None,
    runtime: ServiceRuntime = Depends(get_runtime),
    who: Operator = Depends(risk_raiser),
) -> dict[str, Any]:
    """Master arm on (the console's arm lands here): 409 while the kill switch is engaged,
    503 when Postgres cannot take it."""
    engine = await _engine_when_ready(runtime)
    body = body or MasterArmBody()
    try:
        return await operator_actions.set_arm(
            runtime, engine, who.operator_id, enabled=True, reason=body.reason, request=body.request
        )
    except KillSwitchEngaged as exc:
        raise HTTPException(409, "KILL_SWITCH_ENGAGED") from exc
    except DB_ERRORS as exc:
        raise HTTPException(503, ReasonCode.DB_UNAVAILABLE.value) from exc


class ReviewedClear(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, Field(min_length=3, max_length=500)]


@router.post("/api/safety/protection-failed/clear")
async def clear_protection_failed(
    body: ReviewedClear, runtime: ServiceRuntime = Depends(get_runtime), who: Operator = Depends(admin)
) -> dict[str, Any]:
    """After an operator's review: clear PROTECTION_FAILED (before, only a restart did)."""
    engine = await _engine_when_ready(runtime)
    return await operator_actions.clear_protection_failed(runtime, engine, who.operator_id, body.reason)


@router.post("/api/state/reconcile")
async def reconcile(
    runtime: ServiceRuntime = Depends(get_runtime), who: Operator = Depends(operator)
) -> dict[str, Any]:
    result = await _started(runtime).reconciler.run(f"OPERATOR:{who.operator_id}")
    return {
        "success": True,
        "run_id": result.run_id,
        "status": result.verdict.value,
        "diffs": [views.DiffView.of_core(d).model_dump() for d in result.diffs],
    }


@router.get("/api/state/reconciliation-status", response_model=views.ReconciliationStatus)
async def reconciliation_status(runtime: ServiceRuntime = Depends(get_runtime)) -> views.ReconciliationStatus:
    async with _sessions(runtime)() as session:
        return await views.reconciliation_status(session, _exchange(runtime))


@router.get("/wallet")
async def wallet(runtime: ServiceRuntime = Depends(get_runtime)) -> dict[str, Any]:
    """The account's equity: the last stream or poll update, else asked of the exchange now."""
    latest = execution_of(runtime).wallet
    if latest is None:
        try:
            account = await _engine(runtime).adapter.wallet()
        except ExchangeError as exc:
            raise HTTPException(503, "EXCHANGE_UNAVAILABLE") from exc
        latest = WalletUpdate.of(_exchange(runtime), account)
    return latest.model_dump(mode="json")


@router.get("/positions/verify")
async def verify_positions(runtime: ServiceRuntime = Depends(get_runtime)) -> dict[str, Any]:
    """The shadow state against the exchange, read-only: what a reconcile would find now."""
    engine = _engine(runtime)
    try:
        exchange_positions = await engine.venue_positions()
    except ExchangeError as exc:
        raise HTTPException(503, "EXCHANGE_UNAVAILABLE") from exc
    diffs = reconcile_core.diff_positions(engine.book.open_positions(), exchange_positions)
    return {
        "ok": not diffs,
        "shadow_count": len(engine.book.open_positions()),
        "exchange_count": sum(1 for p in exchange_positions if p.size > 0),
        "unprotected": sorted(p.symbol for p in exchange_positions if p.size > 0 and p.stop_loss is None),
        "diffs": [views.DiffView.of_core(d).model_dump() for d in diffs],
    }


@router.get("/api/state/reconciliation-report", response_model=views.ReconciliationReport)
async def reconciliation_report(
    runtime: ServiceRuntime = Depends(get_runtime),
    date: str = Query(..., pattern=r"^\d{4}-\d{2}-\d{2}$", description="UTC day, YYYY-MM-DD"),
) -> views.ReconciliationReport:
    """Every reconcile run of one UTC day: counts by verdict and trigger, and every difference."""
    try:
        start = utc_day_start_ms(date)
    except ValueError as exc:
        raise HTTPException(422, "INVALID_DATE") from exc
    async with _sessions(runtime)() as session:
        return await views.reconciliation_report(session, _exchange(runtime), date, start)
