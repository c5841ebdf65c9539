"""The worker's one settings object (environment prefix TITAN_)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit, urlunsplit

from pydantic import AliasChoices, Field, ValidationInfo, field_validator

from titan_common.settings import CommonSettings, Port

Hour = Annotated[int, Field(ge=0, le=23)]
Minute = Annotated[int, Field(ge=0, le=59)]


def redis_db_of(url: str) -> int:
    path = urlsplit(url).path.strip("/")
    return int(path) if path.isdigit() else 0


def with_redis_db(url: str, db: int) -> str:
    """The same Redis server, another database number."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))


class JobSettings(CommonSettings):
    """The jobs' settings. The `titan` CLI runs the same jobs with these, embedded stores allowed."""

    # Celery keeps its broker queues and results in their own Redis database, apart from
    # the services' streams and heartbeats (ARCHITECTURE.md: "Celery uses its own database number").
    celery_redis_db: Annotated[int, Field(ge=0, le=15)] = 1
    worker_concurrency: Annotated[int, Field(ge=1, le=8)] = 2
    # beat schedules a heartbeat task this often; `python -m titan_worker health` reads it
    worker_heartbeat_s: Annotated[float, Field(ge=1, le=600)] = 60.0
    worker_metrics_port: Port = 3006

    # daily report: the previous UTC day, produced at 00:05 UTC
    report_hour_utc: Hour = 0
    report_minute: Minute = 5
    report_dir: Path | None = None  # default: <var>/reports

    # backups: pg_dump + checksum, verified by a restore, then pruned
    backup_dir: Path | None = None  # default: <var>/backups
    backup_hour_utc: Hour = 1
    backup_minute: Minute = 0
    backup_keep_daily: Annotated[int, Field(ge=1)] = 7
    backup_keep_weekly: Annotated[int, Field(ge=0)] = 4
    backup_max_age_h: Annotated[float, Field(gt=0)] = 26.0  # older than this, status says stale
    pg_bin_dir: Path | None = None  # where pg_dump/pg_restore live; default: the best match found
    # a server where a scratch database may be created for restore checks (default: DATABASE_URL's)
    verify_database_url: str | None = None

    # JSONL audit mirror: files older than this many days are deleted
    audit_retention_days: Annotated[int, Field(ge=1)] = 30
    audit_retention_hour_utc: Hour = 1
    audit_retention_minute: Minute = 30

    # breadth scanner trigger (the scavenger runs the cycle; the slot makes it idempotent).
    # Named apart from the scavenger's own TITAN_SCANNER_* settings: one env file serves both.
    scanner_trigger_enabled: bool = True
    scanner_trigger_interval_min: Annotated[int, Field(ge=1, le=60)] = 15
    scanner_trigger_operator: str = "scheduler"

    # AI Quant, nightly after the daily report: export the last days of the venue's klines,
    # then `titan quant propose` on them (it files PENDING proposals; it never applies one)
    quant_enabled: bool = True
    quant_hour_utc: Hour = 0
    quant_minute: Minute = 35
    quant_days: Annotated[float, Field(gt=0, le=60)] = 3.0
    quant_symbols: str = "BTCUSDT,ETHUSDT,SOLUSDT,XRPUSDT,DOGEUSDT"

    @field_validator("celery_redis_db")
    @classmethod
    def _own_redis_db(cls, value: int, info: ValidationInfo) -> int:
        redis_url = info.data.get("redis_url")
        if redis_url and redis_db_of(redis_url) == value:
            raise ValueError("is the database REDIS_URL uses; Celery needs its own database number")
        return value

    @property
    def backups_path(self) -> Path:
        return self.backup_dir or self.var_dir / "backups"

    @property
    def reports_path(self) -> Path:
        return self.report_dir or self.var_dir / "reports"

    @property
    def audit_path(self) -> Path:
        return self.var_dir / "audit"


class WorkerSettings(JobSettings):
    """The worker and beat processes need both stores (no embedded fallback inside a process)."""

    database_url: str = Field(validation_alias=AliasChoices("DATABASE_URL", "TITAN_DATABASE_URL"))
    redis_url: str = Field(validation_alias=AliasChoices("REDIS_URL", "TITAN_REDIS_URL"))

    @property
    def broker_url(self) -> str:
        return with_redis_db(self.redis_url, self.celery_redis_db)
