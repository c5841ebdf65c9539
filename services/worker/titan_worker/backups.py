"""Database backups that are verified, not just taken.

Layout in the backup directory (default var/backups), per backup:
  titan-YYYYMMDDTHHMMSSZ.dump         pg_dump custom format (compressed)
  titan-YYYYMMDDTHHMMSSZ.dump.sha256  `sha256sum -c` compatible
  titan-YYYYMMDDTHHMMSSZ.json         manifest: size, sha256, row counts, verification

The row counts are taken inside the very snapshot pg_dump dumps (an exported snapshot
of a REPEATABLE READ transaction), so a restore must reproduce them exactly even while
the stack keeps writing. Verification restores the dump into a scratch database, counts
again, compares, and drops the scratch database. The record lives beside the dumps, not
in Postgres, so it is readable when the database is the thing that is lost.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped,unused-ignore]

from titan_worker.core.retention import RetentionPlan, plan_retention
from titan_worker.pgtools import Connection, PgTools, asyncpg_dsn, connection_of, find_tools

log = logging.getLogger("titan.worker.backups")

PREFIX = "titan-"
STAMP = "%Y%m%dT%H%M%SZ"
NAME = re.compile(r"^titan-(?P<stamp>\d{8}T\d{6}Z)\.dump$")
RESTORE_TIMEOUT_S = 3600


class BackupError(Exception):
    """A backup or a verification could not be completed; the message says why."""


@dataclass
class Backup:
    path: Path
    created_ms: int
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def manifest_path(self) -> Path:
        return manifest_path(self.path)

    @property
    def verification(self) -> dict[str, Any] | None:
        verify = self.manifest.get("verify")
        return verify if isinstance(verify, dict) else None

    def summary(self, now_ms: int) -> dict[str, Any]:
        verify = self.verification
        return {
            "file": self.name,
            "created_ms": self.created_ms,
            "age_s": max(0, (now_ms - self.created_ms) // 1000),
            "size_bytes": self.manifest.get("size_bytes", self.path.stat().st_size if self.path.exists() else None),
            "sha256": self.manifest.get("sha256"),
            "tables": len(self.manifest.get("row_counts", {})),
            "rows": sum(int(v) for v in self.manifest.get("row_counts", {}).values()),
            "verified": None if verify is None else {"ok": verify.get("ok"), "ts_ms": verify.get("ts_ms")},
        }


def manifest_path(dump: Path) -> Path:
    return dump.with_suffix(".json")


def checksum_path(dump: Path) -> Path:
    return dump.with_name(dump.name + ".sha256")


def stamp_of(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).strftime(STAMP)


def ms_of_stamp(stamp: str) -> int:
    return int(datetime.strptime(stamp, STAMP).replace(tzinfo=UTC).timestamp() * 1000)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
    tmp.replace(path)


def list_backups(backup_dir: Path) -> list[Backup]:
    """Every finished backup in the directory, newest first (half-written ones are skipped)."""
    if not backup_dir.exists():
        return []
    found = []
    for path in backup_dir.iterdir():
        match = NAME.match(path.name)
        if match is None:
            continue
        manifest: dict[str, Any] = {}
        if manifest_path(path).exists():
            try:
                manifest = json.loads(manifest_path(path).read_text())
            except (OSError, ValueError):
                manifest = {"error": "unreadable manifest"}
        found.append(Backup(path, ms_of_stamp(match.group("stamp")), manifest))
    return sorted(found, key=lambda b: b.created_ms, reverse=True)


def checksum_ok(backup: Backup) -> bool:
    expected = backup.manifest.get("sha256")
    return bool(expected) and backup.path.exists() and sha256_file(backup.path) == expected


# --- taking a backup ----------------------------------------------------------------


async def _connect(conn: Connection) -> asyncpg.Connection:
    try:
        return await asyncpg.connect(**asyncpg_dsn(conn), timeout=10)
    except (OSError, asyncpg.PostgresError) as exc:
        raise BackupError(f"cannot connect to {conn.host}:{conn.port}/{conn.database}: {exc}") from exc


async def _server_major(db: asyncpg.Connection) -> int:
    return int(await db.fetchval("SHOW server_version_num")) // 10000


async def _public_tables(db: asyncpg.Connection) -> list[str]:
    rows = await db.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
    return [r["tablename"] for r in rows]


async def _row_counts(db: asyncpg.Connection, tables: list[str]) -> dict[str, int]:
    counts = {}
    for table in tables:
        quoted = '"' + table.replace('"', '""') + '"'
        counts[table] = int(await db.fetchval(f"SELECT count(*) FROM public.{quoted}"))  # noqa: S608 - catalogue names
    return counts


async def _run(argv: list[str], env: dict[str, str], timeout_s: float) -> None:
    process = await asyncio.create_subprocess_exec(
        *argv, env=env, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        _out, err = await asyncio.wait_for(process.communicate(), timeout_s)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise BackupError(f"{Path(argv[0]).name} did not finish within {timeout_s:.0f}s") from None
    if process.returncode != 0:
        message = err.decode(errors="replace").strip().splitlines()
        raise BackupError(f"{Path(argv[0]).name} exited {process.returncode}: {' | '.join(message[-3:])}")


async def take_backup(
    database_url: str, backup_dir: Path, *, now_ms: int, pg_bin_dir: Path | None = None, timeout_s: float = 3600
) -> Backup:
    """pg_dump the database into the backup directory, with its checksum and manifest."""
    source = connection_of(database_url)
    await asyncio.to_thread(backup_dir.mkdir, parents=True, exist_ok=True)
    dump = backup_dir / f"{PREFIX}{stamp_of(now_ms)}.dump"
    if await asyncio.to_thread(dump.exists):
        raise BackupError(f"{dump.name} already exists (one backup per second at most)")
    partial = dump.with_name(dump.name + ".partial")
    started = time.monotonic()
    db = await _connect(source)
    try:
        tools = find_tools(await _server_major(db), pg_bin_dir)
        # counts and dump share one snapshot, so the restore must reproduce the counts exactly
        async with db.transaction(isolation="repeatable_read", readonly=True):
            snapshot = await db.fetchval("SELECT pg_export_snapshot()")
            counts = await _row_counts(db, await _public_tables(db))
            argv = [tools.pg_dump, *source.args(), "--format=custom", "--compress=6", f"--snapshot={snapshot}"]
            await _run([*argv, "--file", str(partial)], source.env(), timeout_s)
        server_version = await db.fetchval("SHOW server_version")
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        await db.close()
    partial.replace(dump)
    digest = sha256_file(dump)
    checksum_path(dump).write_text(f"{digest}  {dump.name}\n")
    manifest = {
        "file": dump.name,
        "created_ms": now_ms,
        "database": source.database,
        "server_version": server_version,
        "pg_dump_major": tools.major,
        "size_bytes": dump.stat().st_size,
        "sha256": digest,
        "row_counts": counts,
        "duration_ms": int((time.monotonic() - started) * 1000),
        "verify": None,
    }
    _write_json(manifest_path(dump), manifest)
    log.info("backup %s: %d bytes, %d tables, %d rows", dump.name, manifest["size_bytes"], len(counts),
             sum(counts.values()))  # fmt: skip
    return Backup(dump, now_ms, manifest)


# --- verification -------------------------------------------------------------------


@dataclass(frozen=True)
class Verification:
    backup: str
    ok: bool
    ts_ms: int
    checksum_ok: bool
    tables: int
    rows: int
    mismatches: dict[str, dict[str, int | None]]  # table -> {"expected", "restored"}
    error: str | None
    duration_ms: int

    def as_json(self) -> dict[str, Any]:
        return {
            "backup": self.backup,
            "ok": self.ok,
            "ts_ms": self.ts_ms,
            "checksum_ok": self.checksum_ok,
            "tables": self.tables,
            "rows": self.rows,
            "mismatches": self.mismatches,
            "error": self.error,
            "duration_ms": self.duration_ms,
        }


def compare_counts(expected: dict[str, int], restored: dict[str, int]) -> dict[str, dict[str, int | None]]:
    """Tables whose restored row count differs from the manifest's (missing tables count as None)."""
    return {
        table: {"expected": expected.get(table), "restored": restored.get(table)}
        for table in sorted(set(expected) | set(restored))
        if expected.get(table) != restored.get(table)
    }


async def _restore_and_count(
    backup: Backup, server: Connection, tools_dir: Path | None, expected: dict[str, int]
) -> dict[str, int]:
    scratch = f"titan_verify_{secrets.token_hex(5)}"
    admin = await _connect(server)
    try:
        major = max(await _server_major(admin), int(backup.manifest.get("pg_dump_major", 0)))
        tools: PgTools = find_tools(major, tools_dir)
        await admin.execute(f'CREATE DATABASE "{scratch}"')
        try:
            target = server.named(scratch)
            argv = [tools.pg_restore, *target.args(), "--no-owner", "--no-privileges", "--exit-on-error"]
            await _run([*argv, str(backup.path)], target.env(), RESTORE_TIMEOUT_S)
            restored_db = await _connect(target)
            try:
                return await _row_counts(restored_db, sorted(set(expected) | set(await _public_tables(restored_db))))
            finally:
                await restored_db.close()
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
    finally:
        await admin.close()


async def verify_backup(
    backup: Backup,
    database_url: str,
    *,
    now_ms: int,
    verify_database_url: str | None = None,
    pg_bin_dir: Path | None = None,
) -> Verification:
    """Checksum, restore into a scratch database, compare row counts; record the result."""
    started = time.monotonic()
    expected = {k: int(v) for k, v in backup.manifest.get("row_counts", {}).items()}
    error: str | None = None
    mismatches: dict[str, dict[str, int | None]] = {}
    restored: dict[str, int] = {}
    checksum = checksum_ok(backup)
    if not backup.manifest or "sha256" not in backup.manifest:
        error = "no manifest: the backup did not finish or its record is lost"
    elif not checksum:
        error = "checksum mismatch: the dump file changed since it was written"
    else:
        server = connection_of(verify_database_url or database_url)
        try:
            restored = await _restore_and_count(backup, server, pg_bin_dir, expected)
            mismatches = compare_counts(expected, restored)
            if mismatches:
                error = f"row counts differ in {len(mismatches)} table(s): {', '.join(mismatches)}"
        except BackupError as exc:
            error = str(exc)
    result = Verification(
        backup=backup.name,
        ok=error is None,
        ts_ms=now_ms,
        checksum_ok=checksum,
        tables=len(restored),
        rows=sum(restored.values()),
        mismatches=mismatches,
        error=error,
        duration_ms=int((time.monotonic() - started) * 1000),
    )
    if backup.manifest and backup.manifest_path.exists():
        backup.manifest["verify"] = result.as_json()
        _write_json(backup.manifest_path, backup.manifest)
    log.log(logging.INFO if result.ok else logging.ERROR, "verify %s: %s", backup.name,
            "OK" if result.ok else result.error)  # fmt: skip
    return result


# --- retention ----------------------------------------------------------------------


@dataclass(frozen=True)
class Cleanup:
    plan: RetentionPlan
    kept: list[Backup]
    pruned: list[Backup]
    dry_run: bool


def cleanup(backup_dir: Path, *, keep_daily: int, keep_weekly: int, dry_run: bool) -> Cleanup:
    """Delete backups beyond 7 daily / 4 weekly (by default); with dry_run only say which."""
    backups = list_backups(backup_dir)
    plan = plan_retention([b.created_ms for b in backups], keep_daily=keep_daily, keep_weekly=keep_weekly)
    pruned = [b for b in backups if b.created_ms in plan.prune]
    kept = [b for b in backups if b.created_ms in plan.keep]
    if not dry_run:
        for backup in pruned:
            for path in (backup.path, checksum_path(backup.path), backup.manifest_path):
                path.unlink(missing_ok=True)
            log.info("pruned backup %s", backup.name)
    return Cleanup(plan=plan, kept=kept, pruned=pruned, dry_run=dry_run)


# --- status (for `titan backup status` and the console) ----------------------------


def status(backup_dir: Path, *, now_ms: int, max_age_h: float = 26.0, verify_checksums: bool = False) -> dict[str, Any]:
    """The backups' health: {"ok", "problems", "count", "total_bytes", "latest", "latest_verified", "backups"}.

    Problems: no backup; the newest older than max_age_h; the newest's checksum wrong; its
    verification failed; no verified backup within max_age_h."""
    backups = list_backups(backup_dir)
    problems: list[str] = []
    latest = backups[0] if backups else None
    verified = [b for b in backups if (b.verification or {}).get("ok") is True]
    latest_verified = verified[0] if verified else None
    limit_ms = int(max_age_h * 3_600_000)
    if latest is None:
        problems.append(f"no backup in {backup_dir}")
    else:
        age_h = (now_ms - latest.created_ms) / 3_600_000
        if age_h > max_age_h:
            problems.append(f"latest backup {latest.name} is {age_h:.1f} h old (limit {max_age_h:g} h)")
        if not checksum_ok(latest):
            problems.append(f"latest backup {latest.name}: checksum does not match its manifest")
        if (latest.verification or {}).get("ok") is False:
            problems.append(f"latest backup {latest.name} failed verification: {latest.verification.get('error')}")  # type: ignore[union-attr]
        if latest_verified is None or now_ms - latest_verified.created_ms > limit_ms:
            problems.append(f"no verified backup in the last {max_age_h:g} h")
    listed = []
    for backup in backups:
        summary = backup.summary(now_ms)
        if verify_checksums:
            summary["checksum_ok"] = checksum_ok(backup)
        listed.append(summary)
    return {
        "ok": not problems,
        "problems": problems,
        "directory": str(backup_dir),
        "count": len(backups),
        "total_bytes": sum(int(s["size_bytes"] or 0) for s in listed),
        "latest": listed[0] if listed else None,
        "latest_verified": latest_verified.summary(now_ms) if latest_verified else None,
        "backups": listed,
    }
