"""The Celery application: broker and results in Redis (the worker's own database number),
and beat's schedule of the jobs in titan_worker.jobs."""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.schedules import crontab

from titan_worker.settings import WorkerSettings

QUEUE = "titan"
HEARTBEAT_KEY = "titan:worker:beat_seen_ms"  # set by the heartbeat task that beat schedules

# task names are stable strings: beat and `send_task` refer to them, not to Python paths
DAILY_REPORT = "titan.report.daily"
BACKUP_CYCLE = "titan.backup.cycle"
AUDIT_RETENTION = "titan.audit.retention"
SCANNER_CYCLE = "titan.scanner.cycle"
HEARTBEAT = "titan.heartbeat"
TRADING_STATS = "titan.metrics.trading"
TRADING_STATS_EVERY_S = 60.0
PING = "titan.ping"
QUANT_NIGHTLY = "titan.quant.nightly"


def beat_schedule(settings: WorkerSettings) -> dict[str, dict[str, Any]]:
    """What beat sends, and when (all times UTC)."""
    schedule: dict[str, dict[str, Any]] = {
        "daily-report": {
            "task": DAILY_REPORT,
            "schedule": crontab(minute=settings.report_minute, hour=settings.report_hour_utc),
        },
        "backup-cycle": {
            "task": BACKUP_CYCLE,
            "schedule": crontab(minute=settings.backup_minute, hour=settings.backup_hour_utc),
        },
        "audit-retention": {
            "task": AUDIT_RETENTION,
            "schedule": crontab(minute=settings.audit_retention_minute, hour=settings.audit_retention_hour_utc),
        },
        "heartbeat": {
            "task": HEARTBEAT,
            "schedule": settings.worker_heartbeat_s,
            "options": {"expires": settings.worker_heartbeat_s},
        },
    }
    schedule["trading-stats"] = {
        "task": TRADING_STATS,
        "schedule": TRADING_STATS_EVERY_S,
        "options": {"expires": TRADING_STATS_EVERY_S},
    }
    if settings.quant_enabled:
        schedule["ai-quant"] = {
            "task": QUANT_NIGHTLY,
            "schedule": crontab(minute=settings.quant_minute, hour=settings.quant_hour_utc),
        }
    if settings.scanner_trigger_enabled:
        interval_s = settings.scanner_trigger_interval_min * 60
        schedule["breadth-scanner"] = {
            "task": SCANNER_CYCLE,
            "schedule": crontab(minute=f"*/{settings.scanner_trigger_interval_min}"),
            # a trigger still queued when its slot is over is pointless: let it expire
            "options": {"expires": max(30, interval_s - 30)},
        }
    return schedule


def create_app(settings: WorkerSettings) -> Celery:
    app = Celery(
        "titan_worker", broker=settings.broker_url, backend=settings.broker_url, include=["titan_worker.tasks"]
    )
    app.conf.update(
        task_default_queue=QUEUE,
        timezone="UTC",
        enable_utc=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        # a backup may run long; it must not be redelivered to another worker meanwhile
        broker_transport_options={"visibility_timeout": 4 * 3600},
        result_expires=86_400,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        beat_schedule=beat_schedule(settings),
        beat_schedule_filename=str(settings.var_dir / "celerybeat-schedule"),
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
    )
    return app
