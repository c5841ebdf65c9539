"""The Celery tasks: thin wrappers that run one job of titan_worker.jobs each.

Tasks are synchronous (the worker runs them on threads); each runs its async job in a
fresh event loop, so no connection outlives its task.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any

import redis
from celery import shared_task

from titan_common.clock import now_ms
from titan_common.settings import load_settings
from titan_worker import app as names
from titan_worker import jobs
from titan_worker.scanner import ScannerCycleFailed, ServiceUnavailable
from titan_worker.settings import WorkerSettings

log = logging.getLogger("titan.worker.tasks")


@functools.cache
def current_settings() -> WorkerSettings:
    return load_settings(WorkerSettings)


@shared_task(name=names.DAILY_REPORT)
def daily_report(day: str | None = None) -> dict[str, Any]:
    return asyncio.run(jobs.daily_report(current_settings(), day))


@shared_task(name=names.BACKUP_CYCLE, soft_time_limit=2 * 3600, time_limit=2 * 3600 + 300)
def backup_cycle() -> dict[str, Any]:
    return asyncio.run(jobs.backup_cycle(current_settings()))


@shared_task(name=names.QUANT_NIGHTLY, soft_time_limit=3600, time_limit=3600 + 60)
def quant_nightly() -> dict[str, Any]:
    return asyncio.run(jobs.quant_nightly(current_settings()))


@shared_task(name=names.AUDIT_RETENTION)
def audit_retention() -> dict[str, Any]:
    return asyncio.run(jobs.audit_retention(current_settings()))


@shared_task(
    name=names.SCANNER_CYCLE,
    autoretry_for=(ServiceUnavailable, ScannerCycleFailed),
    retry_backoff=15,
    retry_kwargs={"max_retries": 3},
)
def scanner_cycle() -> dict[str, Any]:
    return asyncio.run(jobs.scanner_cycle(current_settings()))


@shared_task(name=names.HEARTBEAT)
def heartbeat() -> int:
    """Beat -> broker -> worker works: record when, for `python -m titan_worker health --beat`."""
    stamp = now_ms()
    client = redis.Redis.from_url(current_settings().broker_url, socket_connect_timeout=3, socket_timeout=5)
    try:
        client.set(names.HEARTBEAT_KEY, stamp, ex=int(current_settings().worker_heartbeat_s * 5))
    finally:
        client.close()
    return stamp


@shared_task(name=names.TRADING_STATS)
def trading_stats() -> dict[str, Any]:
    """Refresh the 7-day trading gauges the win-rate alert reads."""
    from titan_worker import metrics

    stats = asyncio.run(jobs.trading_stats(current_settings()))
    metrics.TRADES_7D.set(stats["trades"])
    metrics.WIN_RATE_7D.set(float("nan") if stats["win_rate"] is None else float(stats["win_rate"]))
    metrics.NET_PNL_7D.set(float(stats["net_pnl"]))
    return stats


@shared_task(name=names.PING)
def ping() -> str:
    return "pong"
