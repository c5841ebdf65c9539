"""Beat's schedule and the worker's settings: what runs when, and on which Redis database."""

from __future__ import annotations

import pytest
from celery.schedules import crontab

from titan_common.settings import SettingsError, load_settings
from titan_worker.app import (
    AUDIT_RETENTION,
    BACKUP_CYCLE,
    DAILY_REPORT,
    HEARTBEAT,
    QUANT_NIGHTLY,
    SCANNER_CYCLE,
    TRADING_STATS,
    beat_schedule,
)
from titan_worker.settings import WorkerSettings, with_redis_db

DB = "postgresql://titan@127.0.0.1:5432/titan"


def settings(**overrides: object) -> WorkerSettings:
    return WorkerSettings(database_url=DB, redis_url="redis://127.0.0.1:6379/0", **overrides)  # type: ignore[arg-type]


def test_the_jobs_run_at_their_documented_times() -> None:
    schedule = beat_schedule(settings())
    assert schedule["daily-report"]["task"] == DAILY_REPORT
    assert schedule["daily-report"]["schedule"] == crontab(minute=5, hour=0)
    assert schedule["backup-cycle"]["task"] == BACKUP_CYCLE
    assert schedule["backup-cycle"]["schedule"] == crontab(minute=0, hour=1)
    assert schedule["audit-retention"]["task"] == AUDIT_RETENTION
    assert schedule["breadth-scanner"]["task"] == SCANNER_CYCLE
    scanner = schedule["breadth-scanner"]["schedule"]
    assert scanner == crontab(minute="*/15")
    assert sorted(scanner.minute) == [0, 15, 30, 45]
    assert schedule["breadth-scanner"]["options"]["expires"] < 15 * 60
    assert schedule["heartbeat"]["task"] == HEARTBEAT
    assert schedule["trading-stats"]["task"] == TRADING_STATS
    assert schedule["trading-stats"]["schedule"] == 60.0
    # AI Quant half an hour after the daily report (00:05): it reads the day just reported
    assert schedule["ai-quant"]["task"] == QUANT_NIGHTLY
    assert schedule["ai-quant"]["schedule"] == crontab(minute=35, hour=0)
    assert "ai-quant" not in beat_schedule(settings(quant_enabled=False))


def test_the_scanner_trigger_can_be_switched_off_and_re_timed() -> None:
    assert "breadth-scanner" not in beat_schedule(settings(scanner_trigger_enabled=False))
    every_five = beat_schedule(settings(scanner_trigger_interval_min=5))["breadth-scanner"]["schedule"]
    assert sorted(every_five.minute) == list(range(0, 60, 5))


def test_celery_gets_its_own_redis_database() -> None:
    assert settings().broker_url == "redis://127.0.0.1:6379/1"
    assert settings(celery_redis_db=4).broker_url == "redis://127.0.0.1:6379/4"
    assert with_redis_db("redis://:pw@host:6380/2?x=1", 7) == "redis://:pw@host:6380/7?x=1"


def test_sharing_the_services_redis_database_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://titan:hunter2@127.0.0.1:5432/titan")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/3")
    monkeypatch.setenv("TITAN_CELERY_REDIS_DB", "3")
    with pytest.raises(SettingsError) as refused:
        load_settings(WorkerSettings, exit_on_error=False)
    assert "TITAN_CELERY_REDIS_DB='3'" in str(refused.value)
    assert "hunter2" not in str(refused.value)
