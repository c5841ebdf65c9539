"""JSONL audit mirror retention: delete `var/audit/<service>-YYYY-MM-DD.jsonl` past N days.

Postgres's audit_events is the record and is kept; the JSONL mirror exists so the trail
survives a database outage, and needs only cover the recent past.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from titan_worker.core.retention import expired_audit_files

log = logging.getLogger("titan.worker.audit")


@dataclass(frozen=True)
class AuditRetention:
    directory: str
    deleted: list[str]
    freed_bytes: int
    kept: int


def apply_audit_retention(audit_dir: Path, *, today: date, keep_days: int, dry_run: bool = False) -> AuditRetention:
    names = sorted(p.name for p in audit_dir.iterdir() if p.is_file()) if audit_dir.exists() else []
    expired = expired_audit_files(names, today=today, keep_days=keep_days)
    freed = 0
    for name in expired:
        path = audit_dir / name
        freed += path.stat().st_size
        if not dry_run:
            path.unlink(missing_ok=True)
    if expired and not dry_run:
        log.info("audit retention: deleted %d JSONL file(s), %d bytes, older than %d days", len(expired), freed,
                 keep_days)  # fmt: skip
    return AuditRetention(str(audit_dir), expired, freed, len(names) - len(expired))
