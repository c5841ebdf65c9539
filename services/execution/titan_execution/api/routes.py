"""Execution's HTTP routes: thin. Reads are open on loopback; mutations need an operator."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from titan_common.api_auth import Operator, require_role
from titan_common.auth import Role
from titan_common.clock import DAY_MS, utc_day_start_ms
from titan_common.db.models import OrderRow, PositionRow, ReconcileDiff, ReconcileRun, TradeRow
from titan_common.events import WalletUpdate
from titan_common.exchanges import ExchangeError, OrderStatus
from titan_common.service import ServiceRuntime, get_runtime
from titan_execution.core import reconcile as reconcile_core
from titan_execution.runtime import Execution, execution_of, operator_actions
from titan_execution.runtime.engine import ExecutionEngine
from titan_execution.settings import ExecutionSettings

router = APIRouter()
operator = require_role(Role.OPERATOR)
admin = require_role(Role.ADMIN)
OPEN_STATUSES = tuple(status.value for status in OrderStatus if status.is_open)


def _exchange(runtime: ServiceRuntime) -> str:
    """This execution's venue: its reads show its own account's rows only."""
    return cast(ExecutionSettings, runtime.settings).exchange


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


def _diff(
    kind: str, symbol: str | None, field: str, shadow: str | None, exchange: str | None, severity: str, action: str
) -> dict[str, Any]:
    return {
        "kind": kind,
        "symbol": symbol,
        "field": field,
        "shadow": shadow,
        "exchange": exchange,
        "severity": str(severity),
        "action": str(action),
    }


def _row_diff(row: ReconcileDiff) -> dict[str, Any]:
    return _diff(row.kind, row.symbol, row.field, row.shadow_value, row.exchange_value, row.severity, row.action)


def _core_diff(diff: reconcile_core.Diff) -> dict[str, Any]:
    return _diff(diff.kind, diff.symbol, diff.field, diff.shadow, diff.exchange, diff.severity, diff.action)


def _money(value: Any) -> str | None:
    return None if value is None else format(value.normalize(), "f")


@router.get("/positions")
async def positions(runtime: ServiceRuntime = Depends(get_runtime)) -> dict[str, Any]:
    assert runtime.sessions is not None
    async with runtime.sessions() as session:
        rows = (
            await session.scalars(
                select(PositionRow)
                .where(PositionRow.exchange == _exchange(runtime), PositionRow.size > 0)
                .order_by(PositionRow.symbol)
            )
        ).all()
    items = [
        {
            "exchange": r.exchange,
            "symbol": r.symbol,
            "side": r.side,
            "size": _money(r.size),
            "entryPrice": _money(r.avg_entry),
            "markPrice": _money(r.mark_price),
            "stopLoss": _money(r.stop_loss),
            "takeProfit": _money(r.take_profit),
            "unrealizedPnl": _money(r.unrealised_pnl),
            "realizedPnl": _money(r.realised_pnl),
            "fees": _money(r.fees),
            "adopted": r.adopted,
            "openedAt": r.opened_ms,
            "updatedAt": r.updated_ms,
        }
        for r in rows
    ]
    return {"count": len(items), "positions": items}


@router.get("/orders")
async def orders(
    runtime: ServiceRuntime = Depends(get_runtime), limit: int = Query(100, ge=1, le=1000), open_only: bool = True
) -> dict[str, Any]:
    assert runtime.sessions is not None
    query = select(OrderRow).where(OrderRow.exchange == _exchange(runtime))
    query = query.order_by(OrderRow.updated_ms.desc()).limit(limit)
    if open_only:
        query = query.where(OrderRow.status.in_(OPEN_STATUSES))
    async with runtime.sessions() as session:
        rows = (await session.scalars(query)).all()
    items = [
        {
            "orderId": r.exchange_order_id,
            "orderLinkId": r.client_order_id,
            "symbol": r.symbol,
            "side": r.side,
            "orderType": r.order_type,
            "qty": _money(r.qty),
            "price": _money(r.price),
            "status": r.status,
            "cumExecQty": _money(r.cum_exec_qty),
            "avgPrice": _money(r.avg_price),
            "stopLoss": _money(r.stop_loss),
            "reduceOnly": r.reduce_only,
            "updatedAt": r.updated_ms,
        }
        for r in rows
    ]
    return {"count": len(items), "orders": items}


@router.get("/trades")
async def trades(
    runtime: ServiceRuntime = Depends(get_runtime),
    limit: int = Query(50, ge=1, le=10000),
    since_ms: int = Query(0, ge=0, description="only trades closed at or after this time"),
) -> dict[str, Any]:
    assert runtime.sessions is not None
    async with runtime.sessions() as session:
        query = (
            select(TradeRow)
            .where(TradeRow.exchange == _exchange(runtime), TradeRow.closed_ms >= since_ms)
            .order_by(TradeRow.closed_ms.desc())
        )
        rows = (await session.scalars(query.limit(limit))).all()
    items = [
        {
            "symbol": r.symbol,
            "side": r.side,
            "qty": _money(r.qty),
            "entryPrice": _money(r.entry_price),
            "exitPrice": _money(r.exit_price),
            "pnl": _money(r.pnl),
            "fees": _money(r.fees),
            "netPnl": _money(r.pnl - r.fees),
            "rMultiple": _money(r.r_multiple),
            "openedAt": r.opened_ms,
            "closedAt": r.closed_ms,
        }
        for r in rows
    ]
    return {"count": len(items), "trades": items}


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


class DisarmBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, Field(max_length=500)] = "operator"
    request: dict[str, Any] | None = None  # the caller's own request, kept with the record


@router.post("/api/safety/disarm")
async def disarm(
    body: DisarmBody | None = None, runtime: ServiceRuntime = Depends(get_runtime), who: Operator = Depends(operator)
) -> dict[str, Any]:
    """Master arm off at the door: entries refused at once, on record now or when Postgres returns."""
    engine = await _engine_when_ready(runtime)
    body = body or DisarmBody()
    return await operator_actions.disarm(runtime, engine, who.operator_id, body.reason, body.request)


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
        "diffs": [_core_diff(d) for d in result.diffs],
    }


@router.get("/api/state/reconciliation-status")
async def reconciliation_status(runtime: ServiceRuntime = Depends(get_runtime)) -> dict[str, Any]:
    assert runtime.sessions is not None
    async with runtime.sessions() as session:
        runs = (
            await session.scalars(
                select(ReconcileRun)
                .where(ReconcileRun.summary["exchange"].astext == _exchange(runtime))
                .order_by(ReconcileRun.id.desc())
                .limit(10)
            )
        ).all()
        last = runs[0] if runs else None
        diffs = []
        if last is not None:
            diffs = list((await session.scalars(select(ReconcileDiff).where(ReconcileDiff.run_id == last.id))).all())
    return {
        "status": last.status if last else "NEVER_RUN",
        "last_run": None
        if last is None
        else {"id": last.id, "trigger": last.trigger, "started_ms": last.started_ms, "finished_ms": last.finished_ms},
        "diffs": [_row_diff(d) for d in diffs],
        "recent": [{"id": r.id, "status": r.status, "trigger": r.trigger, "finished_ms": r.finished_ms} for r in runs],
    }


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
        exchange_positions = await engine.adapter.positions()
    except ExchangeError as exc:
        raise HTTPException(503, "EXCHANGE_UNAVAILABLE") from exc
    diffs = reconcile_core.diff_positions(engine.book.open_positions(), exchange_positions)
    return {
        "ok": not diffs,
        "shadow_count": len(engine.book.open_positions()),
        "exchange_count": sum(1 for p in exchange_positions if p.size > 0),
        "unprotected": sorted(p.symbol for p in exchange_positions if p.size > 0 and p.stop_loss is None),
        "diffs": [_core_diff(d) for d in diffs],
    }


@router.get("/api/state/reconciliation-report")
async def reconciliation_report(
    runtime: ServiceRuntime = Depends(get_runtime),
    date: str = Query(..., pattern=r"^\d{4}-\d{2}-\d{2}$", description="UTC day, YYYY-MM-DD"),
) -> dict[str, Any]:
    """Every reconcile run of one UTC day: counts by verdict and trigger, and every difference."""
    assert runtime.sessions is not None
    try:
        start = utc_day_start_ms(date)
    except ValueError as exc:
        raise HTTPException(422, "INVALID_DATE") from exc
    async with runtime.sessions() as session:
        runs = (
            await session.scalars(
                select(ReconcileRun)
                .where(
                    ReconcileRun.summary["exchange"].astext == _exchange(runtime),
                    ReconcileRun.started_ms >= start,
                    ReconcileRun.started_ms < start + DAY_MS,
                )
                .order_by(ReconcileRun.id)
            )
        ).all()
        diffs = (
            await session.scalars(select(ReconcileDiff).where(ReconcileDiff.run_id.in_([r.id for r in runs])))
        ).all()
    return {
        "date": date,
        "runs": len(runs),
        "by_status": dict(Counter(r.status for r in runs)),
        "by_trigger": dict(Counter(r.trigger.split(":", 1)[0] for r in runs)),
        "first_ms": runs[0].started_ms if runs else None,
        "last_ms": runs[-1].started_ms if runs else None,
        "diffs": [
            {
                "run_id": d.run_id,
                **_row_diff(d),
            }
            for d in diffs
        ],
    }
