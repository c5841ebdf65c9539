"""Reads of one service's tables by another, with the owner's own filters.

Each table has one owner, the service that writes it (docs/architecture.md). A service
that needs another's rows reads them here, where the filters are the owner's: the accounts
Titan trades (`CommonSettings.accounts`), so rows of an account this installation does
not run (an old venue, a test's, another installation's on a shared database) never mix
in. The owner's own read routes use the same functions.

- positions and trades: execution's;
- equity snapshots: the brain's, under the first venue's account. Rows written before the
  account column (migration 0003) have none and count as that account's;
- breaker events: the brain's (the console's fallback while the brain does not answer);
- signals and decisions: the brain's, listed for the console and counted for the daily
  report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from titan_common.db.models import BreakerEvent, DecisionRow, EquitySnapshot, PositionRow, SignalRow, TradeRow


async def open_positions(session: AsyncSession, accounts: Sequence[str]) -> list[PositionRow]:
    """The accounts' open positions, by symbol."""
    rows = await session.scalars(
        select(PositionRow)
        .where(PositionRow.exchange.in_(list(accounts)), PositionRow.size > 0)
        .order_by(PositionRow.symbol)
    )
    return list(rows.all())


async def closed_trades(
    session: AsyncSession,
    accounts: Sequence[str],
    *,
    since_ms: int = 0,
    until_ms: int | None = None,
    limit: int | None = None,
    newest_first: bool = True,
) -> list[TradeRow]:
    """The accounts' closed round trips in [since_ms, until_ms)."""
    query = select(TradeRow).where(TradeRow.exchange.in_(list(accounts)), TradeRow.closed_ms >= since_ms)
    if until_ms is not None:
        query = query.where(TradeRow.closed_ms < until_ms)
    if newest_first:
        query = query.order_by(TradeRow.closed_ms.desc(), TradeRow.id.desc())
    else:
        query = query.order_by(TradeRow.closed_ms, TradeRow.id)
    if limit is not None:
        query = query.limit(limit)
    return list((await session.scalars(query)).all())


def _of_account(account: str) -> ColumnElement[bool]:
    return or_(EquitySnapshot.exchange == account, EquitySnapshot.exchange.is_(None))


async def equity_snapshots(
    session: AsyncSession, account: str, *, since_ms: int, until_ms: int | None = None, limit: int | None = None
) -> list[EquitySnapshot]:
    """The account's equity snapshots in [since_ms, until_ms), oldest first."""
    query = select(EquitySnapshot).where(_of_account(account), EquitySnapshot.ts_ms >= since_ms)
    if until_ms is not None:
        query = query.where(EquitySnapshot.ts_ms < until_ms)
    query = query.order_by(EquitySnapshot.ts_ms)
    if limit is not None:
        query = query.limit(limit)
    return list((await session.scalars(query)).all())


async def latest_equity_snapshot(session: AsyncSession, account: str) -> EquitySnapshot | None:
    query = select(EquitySnapshot).where(_of_account(account)).order_by(EquitySnapshot.ts_ms.desc()).limit(1)
    return await session.scalar(query)


async def breaker_events(session: AsyncSession, limit: int) -> list[BreakerEvent]:
    """The circuit breaker's latest changes, newest first."""
    rows = await session.scalars(select(BreakerEvent).order_by(BreakerEvent.id.desc()).limit(limit))
    return list(rows.all())


async def breaker_trips(session: AsyncSession, *, since_ms: int, until_ms: int) -> int:
    """How many times the breaker tripped in [since_ms, until_ms)."""
    count = await session.scalar(
        select(func.count())
        .select_from(BreakerEvent)
        .where(BreakerEvent.ts_ms >= since_ms, BreakerEvent.ts_ms < until_ms, BreakerEvent.action == "TRIP")
    )
    return int(count or 0)


@dataclass(frozen=True)
class DecisionCounts:
    signals: int  # received
    by_verdict: dict[str, int]  # APPROVE, VETO
    veto_reasons: dict[str, int]  # each reason a veto named


async def decision_counts(session: AsyncSession, *, since_ms: int, until_ms: int) -> DecisionCounts:
    """The brain's signals and decisions in [since_ms, until_ms), counted."""
    signals = await session.scalar(
        select(func.count()).select_from(SignalRow).where(SignalRow.ts_ms >= since_ms, SignalRow.ts_ms < until_ms)
    )
    in_window = (DecisionRow.ts_ms >= since_ms, DecisionRow.ts_ms < until_ms)
    verdicts = await session.execute(
        select(DecisionRow.verdict, func.count()).where(*in_window).group_by(DecisionRow.verdict)
    )
    reason = func.jsonb_array_elements_text(DecisionRow.reasons).label("reason")
    reasons = await session.execute(
        select(reason, func.count()).where(*in_window, DecisionRow.verdict == "VETO").group_by("reason")
    )
    return DecisionCounts(
        signals=int(signals or 0),
        by_verdict={verdict: int(n) for verdict, n in verdicts},
        veto_reasons={name: int(n) for name, n in reasons},
    )


async def signals_with_decisions(
    session: AsyncSession, *, limit: int, status: str | None = None
) -> list[tuple[SignalRow, DecisionRow | None]]:
    """Signals newest first, each with the brain's decision when it made one."""
    query = (
        select(SignalRow, DecisionRow)
        .join(DecisionRow, DecisionRow.signal_id == SignalRow.signal_id, isouter=True)
        .order_by(SignalRow.ts_ms.desc())
        .limit(limit)
    )
    if status:
        query = query.where(SignalRow.status == status)
    return [(signal, decision) for signal, decision in (await session.execute(query)).all()]
