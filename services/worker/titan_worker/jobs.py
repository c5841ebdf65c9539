"""Each scheduled job as one async function of the settings: what the Celery tasks run.

They open and close their own connections, so a task never leaks a pool between runs,
and they return plain JSON-able summaries (the task result, and the log line).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal
from typing import Any

from titan_common.clock import ms_to_datetime, now_ms
from titan_common.db import reads
from titan_common.db.engine import make_engine, make_sessionmaker
from titan_common.performance import summarise_trades
from titan_worker import backups, reports
from titan_worker.audit_retention import apply_audit_retention
from titan_worker.scanner import trigger_scanner
from titan_worker.settings import WorkerSettings

log = logging.getLogger("titan.worker.jobs")


def previous_utc_day(at_ms: int) -> str:
    return (ms_to_datetime(at_ms) - timedelta(days=1)).strftime("%Y-%m-%d")


async def daily_report(settings: WorkerSettings, day: str | None = None) -> dict[str, Any]:
    """The report of `day` (default: the UTC day that just ended), stored and written to files."""
    now = now_ms()
    chosen = day or previous_utc_day(now)
    engine = make_engine(settings.database_url, pool_size=1, application_name="titan-worker")
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            report = await reports.generate(
                session, chosen, now_ms=now, report_dir=settings.reports_path, accounts=settings.accounts
            )
    finally:
        await engine.dispose()
    figures = report.figures
    log.info("daily report %s: pnl %s (%s%%), trades %s, win rate %s%%", chosen, figures["daily_pnl_usd"],
             figures["daily_pnl_pct"], figures["trades_executed"], figures["win_rate_pct"])  # fmt: skip
    return {"day": chosen, **{k: figures[k] for k in ("daily_pnl_usd", "daily_pnl_pct", "trades_executed")}}


async def backup_cycle(settings: WorkerSettings) -> dict[str, Any]:
    """Take a backup, verify it by restoring it, then prune beyond the retention policy."""
    backup = await backups.take_backup(
        settings.database_url, settings.backups_path, now_ms=now_ms(), pg_bin_dir=settings.pg_bin_dir
    )
    verification = await backups.verify_backup(
        backup,
        settings.database_url,
        now_ms=now_ms(),
        verify_database_url=settings.verify_database_url,
        pg_bin_dir=settings.pg_bin_dir,
    )
    pruned = backups.cleanup(
        settings.backups_path,
        keep_daily=settings.backup_keep_daily,
        keep_weekly=settings.backup_keep_weekly,
        dry_run=False,
    )
    if not verification.ok:
        raise backups.BackupError(f"backup {backup.name} failed verification: {verification.error}")
    return {
        "backup": backup.name,
        "size_bytes": backup.manifest["size_bytes"],
        "verified": verification.ok,
        "pruned": [b.name for b in pruned.pruned],
    }


async def audit_retention(settings: WorkerSettings) -> dict[str, Any]:
    today = ms_to_datetime(now_ms()).date()
    result = apply_audit_retention(settings.audit_path, today=today, keep_days=settings.audit_retention_days)
    return {"deleted": result.deleted, "freed_bytes": result.freed_bytes, "kept": result.kept}


async def scanner_cycle(settings: WorkerSettings) -> dict[str, Any]:
    answer = await trigger_scanner(settings, operator_id=settings.scanner_trigger_operator)
    body = answer["body"] if isinstance(answer["body"], dict) else {}
    log.info("breadth scanner cycle %s: %s", body.get("cycle_id"), body.get("status"))
    return answer


async def trading_stats(settings: WorkerSettings, window_days: int = 7) -> dict[str, Any]:
    """Round trips closed in the window: count, win rate, net P&L (for the worker's gauges)."""
    since = now_ms() - window_days * 86_400_000
    engine = make_engine(settings.database_url, pool_size=1, application_name="titan-worker")
    try:
        async with make_sessionmaker(engine)() as session:
            rows = [(r.pnl, r.fees) for r in await reads.closed_trades(session, settings.accounts, since_ms=since)]
    finally:
        await engine.dispose()
    summary = summarise_trades([pnl - fees for pnl, fees in rows], [fees for _, fees in rows])
    return {
        "trades": summary.trades,
        "win_rate": None if summary.win_rate is None else str(summary.win_rate),
        "net_pnl": str(summary.net_pnl if summary.trades else Decimal(0)),
    }


async def _titan(*args: str, timeout_s: float) -> tuple[int, str]:
    """Run a `titan` command (the tools above the services run in their own process)."""
    import asyncio
    import shutil
    import sys
    from pathlib import Path

    binary = shutil.which("titan") or str(Path(sys.executable).with_name("titan"))
    process = await asyncio.create_subprocess_exec(
        binary, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), timeout_s)
    except TimeoutError:
        process.kill()
        await process.wait()
        return 124, f"titan {args[0]} timed out after {timeout_s:.0f}s"
    return int(process.returncode or 0), out.decode(errors="replace")


async def quant_nightly(settings: WorkerSettings) -> dict[str, Any]:
    """Export the last `quant_days` of klines, then let AI Quant propose on them."""
    data = settings.var_dir / "data" / "recorded.csv.gz"
    code, out = await _titan(
        "data", "export", "--out", str(data), "--symbols", settings.quant_symbols, "--days", str(settings.quant_days),
        timeout_s=600,
    )  # fmt: skip
    if code != 0:
        log.error("AI Quant: the export failed (%s): %s", code, out.strip()[-500:])
        return {"ok": False, "step": "export", "output": out[-2000:]}
    code, out = await _titan("quant", "propose", "--data", str(data), timeout_s=3000)
    if code != 0:
        log.error("AI Quant: propose failed (%s): %s", code, out.strip()[-500:])
        return {"ok": False, "step": "propose", "output": out[-2000:]}
    log.info("AI Quant: %s", out.strip()[-500:])
    return {"ok": True, "output": out[-2000:]}
