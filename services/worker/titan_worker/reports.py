"""The daily report: read one UTC day of records, compute, store (table + files), read back.

The console shows reports with `latest(session)` / `get(session, day)` / `list_days(session)`;
`titan report daily --date D` and the 00:05 UTC beat job both call `generate()`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from titan_common.db import reads
from titan_common.db.models import (
    AuditEvent,
    DailyReportRow,
)
from titan_worker.core.report import (
    DAY_MS,
    ClosedTrade,
    DailyReport,
    DayRecords,
    EquityPoint,
    build_daily_report,
    day_start_ms,
)
from titan_worker.core.report_html import render_html


async def read_day(session: AsyncSession, day: str, now_ms: int, accounts: Sequence[str]) -> DayRecords:
    """Every record the report needs for one UTC day, of Titan's accounts (the first is the
    one the brain keeps equity for). Raises ValueError for a malformed day."""
    start = day_start_ms(day)
    end = start + DAY_MS
    equity_rows = await reads.equity_snapshots(session, accounts[0], since_ms=start, until_ms=end)
    trade_rows = await reads.closed_trades(session, accounts, since_ms=start, until_ms=end, newest_first=False)
    decided = await reads.decision_counts(session, since_ms=start, until_ms=end)
    severities = await session.execute(
        select(AuditEvent.severity, func.count())
        .where(AuditEvent.ts_ms >= start, AuditEvent.ts_ms < end)
        .group_by(AuditEvent.severity)
    )
    trips = await reads.breaker_trips(session, since_ms=start, until_ms=end)
    return DayRecords(
        day=day,
        start_ms=start,
        now_ms=now_ms,
        equity=[EquityPoint(r.ts_ms, r.equity, r.day_start_equity) for r in equity_rows],
        trades=[ClosedTrade(r.closed_ms, r.symbol, r.pnl - r.fees, r.fees) for r in trade_rows],
        signals_received=decided.signals,
        decisions_by_verdict=decided.by_verdict,
        veto_reasons=decided.veto_reasons,
        audit_by_severity={s: int(n) for s, n in severities},
        breaker_trips=trips,
    )


async def store(session: AsyncSession, report: DailyReport, html: str) -> None:
    """Insert or replace the day's report (re-running a day refreshes it)."""
    values = {"day": report.day, "generated_ms": report.generated_ms, "figures": report.as_json(), "html": html}
    statement = insert(DailyReportRow).values(**values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[DailyReportRow.day],
            set_={"generated_ms": statement.excluded.generated_ms, "figures": statement.excluded.figures,
                  "html": statement.excluded.html},
        )
    )  # fmt: skip


def write_files(report_dir: Path, report: DailyReport, html: str) -> tuple[Path, Path]:
    """var/reports/daily-YYYY-MM-DD.json and .html, written atomically."""
    report_dir.mkdir(parents=True, exist_ok=True)
    json_path = report_dir / f"daily-{report.day}.json"
    html_path = report_dir / f"daily-{report.day}.html"
    for path, text in ((json_path, json.dumps(report.as_json(), indent=2)), (html_path, html)):
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    return json_path, html_path


async def generate(
    session: AsyncSession, day: str, *, now_ms: int, report_dir: Path | None, accounts: Sequence[str]
) -> DailyReport:
    """Compute the day's report over `accounts` (settings.accounts), store it in daily_reports
    and (when given a directory) as files. The caller owns the transaction."""
    report = build_daily_report(await read_day(session, day, now_ms, accounts), generated_ms=now_ms)
    html = render_html(report)
    await store(session, report, html)
    if report_dir is not None:
        write_files(report_dir, report, html)
    return report


# --- for the console ----------------------------------------------------------------


def _row(row: DailyReportRow | None, *, with_html: bool) -> dict[str, Any] | None:
    if row is None:
        return None
    out: dict[str, Any] = {"day": row.day, "generated_ms": row.generated_ms, "figures": row.figures}
    if with_html:
        out["html"] = row.html
    return out


async def latest(session: AsyncSession, *, with_html: bool = False) -> dict[str, Any] | None:
    """The newest stored report: {"day", "generated_ms", "figures"[, "html"]}, or None."""
    row = await session.scalar(select(DailyReportRow).order_by(DailyReportRow.day.desc()).limit(1))
    return _row(row, with_html=with_html)


async def get(session: AsyncSession, day: str, *, with_html: bool = True) -> dict[str, Any] | None:
    """One day's stored report, or None."""
    return _row(await session.get(DailyReportRow, day), with_html=with_html)


async def list_days(session: AsyncSession, limit: int = 30) -> list[dict[str, Any]]:
    """The newest `limit` reports without their HTML, newest first."""
    rows = await session.scalars(select(DailyReportRow).order_by(DailyReportRow.day.desc()).limit(limit))
    return [r for r in (_row(row, with_html=False) for row in rows) if r is not None]
