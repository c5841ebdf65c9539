"""What execution's read routes answer: one pydantic model per answer, and the reads of its
own tables that fill them (its account's rows only). Money is a decimal string.

The field names are the API's (camelCase where the Titan reference has them): the runbooks
and the console read them as they are.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from titan_common.clock import DAY_MS
from titan_common.db import reads
from titan_common.db.models import OrderRow, ReconcileDiff, ReconcileRun
from titan_common.exchanges import OrderStatus
from titan_execution.core import reconcile as reconcile_core

OPEN_STATUSES = tuple(status.value for status in OrderStatus if status.is_open)


def money(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")


# --- positions, orders, trades ------------------------------------------------------------


class PositionView(BaseModel):
    exchange: str
    symbol: str
    side: str
    size: str | None
    entryPrice: str | None
    markPrice: str | None
    stopLoss: str | None
    takeProfit: str | None
    unrealizedPnl: str | None
    realizedPnl: str | None
    fees: str | None
    adopted: bool
    openedAt: int | None
    updatedAt: int


class Positions(BaseModel):
    count: int
    positions: list[PositionView]


class OrderView(BaseModel):
    exchange: str  # the account (venue) it is on
    orderId: str
    orderLinkId: str | None
    symbol: str
    side: str
    orderType: str
    qty: str | None
    price: str | None
    status: str
    cumExecQty: str | None
    avgPrice: str | None
    stopLoss: str | None
    reduceOnly: bool
    updatedAt: int


class Orders(BaseModel):
    count: int
    orders: list[OrderView]


class TradeView(BaseModel):
    exchange: str  # the account (venue) it was made on
    symbol: str
    side: str
    qty: str | None
    entryPrice: str | None
    exitPrice: str | None
    pnl: str | None
    fees: str | None
    netPnl: str | None
    rMultiple: str | None
    openedAt: int
    closedAt: int


class Trades(BaseModel):
    count: int
    trades: list[TradeView]


async def positions(session: AsyncSession, exchange: str) -> Positions:
    rows = await reads.open_positions(session, [exchange])
    items = [
        PositionView(
            exchange=r.exchange, symbol=r.symbol, side=r.side, size=money(r.size), entryPrice=money(r.avg_entry),
            markPrice=money(r.mark_price), stopLoss=money(r.stop_loss), takeProfit=money(r.take_profit),
            unrealizedPnl=money(r.unrealised_pnl), realizedPnl=money(r.realised_pnl), fees=money(r.fees),
            adopted=r.adopted, openedAt=r.opened_ms, updatedAt=r.updated_ms,
        )
        for r in rows
    ]  # fmt: skip
    return Positions(count=len(items), positions=items)


async def orders(session: AsyncSession, exchange: str, *, limit: int, open_only: bool) -> Orders:
    query = select(OrderRow).where(OrderRow.exchange == exchange).order_by(OrderRow.updated_ms.desc()).limit(limit)
    if open_only:
        query = query.where(OrderRow.status.in_(OPEN_STATUSES))
    items = [
        OrderView(
            exchange=r.exchange, orderId=r.exchange_order_id, orderLinkId=r.client_order_id, symbol=r.symbol,
            side=r.side,
            orderType=r.order_type, qty=money(r.qty), price=money(r.price), status=r.status,
            cumExecQty=money(r.cum_exec_qty), avgPrice=money(r.avg_price), stopLoss=money(r.stop_loss),
            reduceOnly=r.reduce_only, updatedAt=r.updated_ms,
        )
        for r in (await session.scalars(query)).all()
    ]  # fmt: skip
    return Orders(count=len(items), orders=items)


async def trades(session: AsyncSession, exchange: str, *, limit: int, since_ms: int) -> Trades:
    rows = await reads.closed_trades(session, [exchange], since_ms=since_ms, limit=limit)
    items = [
        TradeView(
            exchange=r.exchange, symbol=r.symbol, side=r.side, qty=money(r.qty), entryPrice=money(r.entry_price),
            exitPrice=money(r.exit_price), pnl=money(r.pnl), fees=money(r.fees), netPnl=money(r.pnl - r.fees),
            rMultiple=money(r.r_multiple), openedAt=r.opened_ms, closedAt=r.closed_ms,
        )
        for r in rows
    ]  # fmt: skip
    return Trades(count=len(items), trades=items)


# --- reconciliation -------------------------------------------------------------------------


class DiffView(BaseModel):
    kind: str
    symbol: str | None
    field: str
    shadow: str | None
    exchange: str | None
    severity: str
    action: str

    @classmethod
    def of_row(cls, row: ReconcileDiff) -> DiffView:
        return cls(kind=row.kind, symbol=row.symbol, field=row.field, shadow=row.shadow_value,
                   exchange=row.exchange_value, severity=str(row.severity), action=str(row.action))  # fmt: skip

    @classmethod
    def of_core(cls, diff: reconcile_core.Diff) -> DiffView:
        return cls(kind=diff.kind, symbol=diff.symbol, field=diff.field, shadow=diff.shadow, exchange=diff.exchange,
                   severity=str(diff.severity), action=str(diff.action))  # fmt: skip


class RunView(BaseModel):
    id: int
    trigger: str
    started_ms: int
    finished_ms: int | None


class RecentRun(BaseModel):
    id: int
    status: str
    trigger: str
    finished_ms: int | None


class ReconciliationStatus(BaseModel):
    status: str  # OK, WARN, BAD, or NEVER_RUN
    last_run: RunView | None
    diffs: list[DiffView]
    recent: list[RecentRun]


class RunDiffView(DiffView):
    run_id: int


class ReconciliationReport(BaseModel):
    date: str
    runs: int
    by_status: dict[str, int]
    by_trigger: dict[str, int]
    first_ms: int | None
    last_ms: int | None
    diffs: list[RunDiffView]


async def reconciliation_status(session: AsyncSession, exchange: str) -> ReconciliationStatus:
    runs = (
        await session.scalars(
            select(ReconcileRun)
            .where(ReconcileRun.summary["exchange"].astext == exchange)
            .order_by(ReconcileRun.id.desc())
            .limit(10)
        )
    ).all()
    last = runs[0] if runs else None
    diffs = []
    if last is not None:
        diffs = list((await session.scalars(select(ReconcileDiff).where(ReconcileDiff.run_id == last.id))).all())
    return ReconciliationStatus(
        status=last.status if last else "NEVER_RUN",
        last_run=None
        if last is None
        else RunView(id=last.id, trigger=last.trigger, started_ms=last.started_ms, finished_ms=last.finished_ms),
        diffs=[DiffView.of_row(d) for d in diffs],
        recent=[RecentRun(id=r.id, status=r.status, trigger=r.trigger, finished_ms=r.finished_ms) for r in runs],
    )


async def reconciliation_report(session: AsyncSession, exchange: str, date: str, start_ms: int) -> ReconciliationReport:
    runs = (
        await session.scalars(
            select(ReconcileRun)
            .where(
                ReconcileRun.summary["exchange"].astext == exchange,
                ReconcileRun.started_ms >= start_ms,
                ReconcileRun.started_ms < start_ms + DAY_MS,
            )
            .order_by(ReconcileRun.id)
        )
    ).all()
    diffs = (await session.scalars(select(ReconcileDiff).where(ReconcileDiff.run_id.in_([r.id for r in runs])))).all()
    return ReconciliationReport(
        date=date,
        runs=len(runs),
        by_status=dict(Counter(r.status for r in runs)),
        by_trigger=dict(Counter(r.trigger.split(":", 1)[0] for r in runs)),
        first_ms=runs[0].started_ms if runs else None,
        last_ms=runs[-1].started_ms if runs else None,
        diffs=[RunDiffView(run_id=d.run_id, **DiffView.of_row(d).model_dump()) for d in diffs],
    )
