"""Backups against real Postgres: pg_dump with a checksum, a restore into a scratch
database whose row counts must match (even with writes going on during the dump),
tampering caught, 7-daily/4-weekly pruning, and the runbook's backup scripts."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from titan_common.clock import now_ms
from titan_common.settings import normalise_database_url, plain_database_url
from titan_worker import backups
from titan_worker.pgtools import find_tools

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
DAY_MS = 86_400_000


async def connect(database_url: str) -> asyncpg.Connection:
    return await asyncpg.connect(plain_database_url(normalise_database_url(database_url)))


async def live_counts(database_url: str, tables: list[str]) -> dict[str, int]:
    conn = await connect(database_url)
    try:
        return {t: int(await conn.fetchval(f'SELECT count(*) FROM "{t}"')) for t in tables}  # noqa: S608
    finally:
        await conn.close()


async def scratch_databases(database_url: str) -> list[str]:
    conn = await connect(database_url)
    try:
        rows = await conn.fetch("SELECT datname FROM pg_database WHERE datname LIKE 'titan_verify_%'")
        return [r["datname"] for r in rows]
    finally:
        await conn.close()


@pytest.fixture
async def writer(database_url: str) -> AsyncIterator[asyncio.Event]:
    """Inserts audit rows every few milliseconds until the test sets the event."""
    stop = asyncio.Event()
    conn = await connect(database_url)

    async def write() -> None:
        while not stop.is_set():
            await conn.execute(
                "INSERT INTO audit_events (event_id, ts_ms, service, severity, event_type, payload) "
                "VALUES ($1, $2, 'backup-test', 'INFO', 'WRITE_DURING_DUMP', '{}')",
                uuid.uuid4().hex,
                now_ms(),
            )
            await asyncio.sleep(0.002)

    task = asyncio.create_task(write())
    yield stop
    stop.set()
    await task
    await conn.close()


async def test_backup_then_verified_restore_while_writes_go_on(
    database_url: str, tmp_path: Path, writer: asyncio.Event
) -> None:
    await asyncio.sleep(0.2)  # the writer is busy before the dump starts
    backup = await backups.take_backup(database_url, tmp_path, now_ms=now_ms())
    writer.set()

    # the files: the dump, a sha256sum-compatible checksum, the manifest
    assert backup.path.exists()
    assert backup.manifest["sha256"] == backups.sha256_file(backup.path)
    check = subprocess.run(["sha256sum", "-c", backups.checksum_path(backup.path).name], cwd=tmp_path, check=False)
    assert check.returncode == 0
    counts = backup.manifest["row_counts"]
    assert {"audit_events", "trades", "equity_snapshots", "alembic_version"} <= set(counts)
    assert counts["alembic_version"] == 1
    assert counts["audit_events"] > 0
    # rows written after the dump's snapshot are not in it
    assert (await live_counts(database_url, ["audit_events"]))["audit_events"] > counts["audit_events"]

    result = await backups.verify_backup(backup, database_url, now_ms=now_ms())
    assert result.ok, result.error
    assert result.checksum_ok
    assert result.mismatches == {}
    assert result.tables == len(counts)
    assert result.rows == sum(counts.values())
    assert await scratch_databases(database_url) == []  # the scratch database is dropped
    recorded = json.loads(backup.manifest_path.read_text())["verify"]
    assert recorded["ok"] is True
    assert recorded["rows"] == result.rows


async def test_tampering_and_wrong_counts_fail_verification(database_url: str, tmp_path: Path) -> None:
    backup = await backups.take_backup(database_url, tmp_path, now_ms=now_ms())

    # a manifest that promised one more trade than the dump holds: the restore tells
    manifest = json.loads(backup.manifest_path.read_text())
    manifest["row_counts"]["trades"] += 1
    backup.manifest_path.write_text(json.dumps(manifest))
    [reread] = backups.list_backups(tmp_path)
    miscounted = await backups.verify_backup(reread, database_url, now_ms=now_ms())
    assert not miscounted.ok
    assert set(miscounted.mismatches) == {"trades"}
    expected = manifest["row_counts"]["trades"]
    assert miscounted.mismatches["trades"] == {"expected": expected, "restored": expected - 1}
    assert await scratch_databases(database_url) == []

    # one flipped byte in the dump: caught before any restore
    data = bytearray(backup.path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    backup.path.write_bytes(bytes(data))
    [reread] = backups.list_backups(tmp_path)
    tampered = await backups.verify_backup(reread, database_url, now_ms=now_ms())
    assert not tampered.ok
    assert not tampered.checksum_ok
    assert "checksum" in (tampered.error or "")
    status = backups.status(tmp_path, now_ms=now_ms())
    assert not status["ok"]
    assert any("checksum" in p for p in status["problems"])


async def test_a_dump_that_fails_leaves_no_backup(database_url: str, tmp_path: Path) -> None:
    # The session's URL with another database name; a socket URL (embedded Postgres) keeps its ?host=.
    url = urlunsplit(urlsplit(database_url)._replace(path=f"/no_such_db_{uuid.uuid4().hex[:6]}"))
    with pytest.raises(backups.BackupError, match="cannot connect"):
        await backups.take_backup(url, tmp_path, now_ms=now_ms())
    assert list(tmp_path.iterdir()) == []


def test_the_tools_match_the_server() -> None:
    tools = find_tools(15)
    assert tools.major >= 15
    assert Path(tools.pg_dump).exists()
    assert Path(tools.pg_restore).exists()
    with pytest.raises(Exception, match="no pg_dump/pg_restore >= 99"):
        find_tools(99)


def copy_backup(source: backups.Backup, directory: Path, created_ms: int) -> None:
    """The same dump under another timestamp, with a consistent checksum file and manifest."""
    name = f"titan-{backups.stamp_of(created_ms)}.dump"
    shutil.copy(source.path, directory / name)
    (directory / f"{name}.sha256").write_text(f"{source.manifest['sha256']}  {name}\n")
    manifest = {**source.manifest, "file": name, "created_ms": created_ms}
    (directory / name).with_suffix(".json").write_text(json.dumps(manifest))


async def test_retention_keeps_seven_daily_and_four_weekly(database_url: str, tmp_path: Path) -> None:
    seed_dir = tmp_path / "seed"
    first = await backups.take_backup(database_url, seed_dir, now_ms=now_ms())
    store = tmp_path / "backups"
    store.mkdir()
    newest = (now_ms() - 60_000) // 1000 * 1000  # file names carry whole seconds
    # one backup a day for 40 days, and a second one on each of the last three days
    for day in range(40):
        copy_backup(first, store, newest - day * DAY_MS)
    for day in range(3):
        copy_backup(first, store, newest - day * DAY_MS - 6 * 3_600_000)
    assert len(backups.list_backups(store)) == 43

    dry = backups.cleanup(store, keep_daily=7, keep_weekly=4, dry_run=True)
    assert len(backups.list_backups(store)) == 43  # a dry run deletes nothing
    assert len(dry.kept) + len(dry.pruned) == 43
    assert 7 <= len(dry.kept) <= 11

    done = backups.cleanup(store, keep_daily=7, keep_weekly=4, dry_run=False)
    left = backups.list_backups(store)
    assert [b.name for b in left] == [b.name for b in dry.kept]
    assert {b.name for b in done.pruned} == {b.name for b in dry.pruned}
    # every file of a pruned backup is gone, and nothing else lingers
    names = {p.name for p in store.iterdir()}
    assert names == {n for b in left for n in (b.name, b.name + ".sha256", b.path.with_suffix(".json").name)}
    days = {b.created_ms // DAY_MS for b in left}
    assert len(days) == len(left)  # one per day at most
    assert left[0].created_ms == newest  # the newest is kept
    # seven consecutive days, then older weekly ones
    assert sorted(days, reverse=True)[:7] == [newest // DAY_MS - d for d in range(7)]
    assert backups.cleanup(store, keep_daily=7, keep_weekly=4, dry_run=True).pruned == []


def run_script(name: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ROOT / "scripts" / name), *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_the_runbook_backup_scripts(database_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": database_url, "TITAN_VAR_DIR": str(tmp_path / "var"), "COLUMNS": "200"}
    env.pop("REDIS_URL", None)

    empty = run_script("check-backup-status.sh", env=env)
    assert empty.returncode == 1
    assert "no backup" in empty.stdout

    taken = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "titan"), "backup", "run"], env=env, capture_output=True, text=True, timeout=300
    )
    assert taken.returncode == 0, taken.stdout + taken.stderr
    assert "restored into a scratch database" in taken.stdout

    status = run_script("check-backup-status.sh", "--verbose", env=env)
    assert status.returncode == 0, status.stdout
    assert "restore OK" in status.stdout
    assert "OK latest backup" in status.stdout

    verify = run_script("verify-backup-integrity.sh", "--latest", env=env)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "all counts match" in verify.stdout

    cleanup = run_script("cleanup-old-backups.sh", "--dry-run", env=env)
    assert cleanup.returncode == 0, cleanup.stdout
    assert "comply with the retention policy" in cleanup.stdout

    as_json = run_script("check-backup-status.sh", "--json", env=env)
    report = json.loads(as_json.stdout)
    assert report["ok"] is True
    assert report["count"] == 1
    assert report["latest_verified"]["file"] == report["latest"]["file"]

    # a corrupted latest backup turns the morning check red, with the reason on one line
    dump = next((tmp_path / "var" / "backups").glob("titan-*.dump"))
    dump.write_bytes(dump.read_bytes()[:-10])
    broken = run_script("verify-backup-integrity.sh", "--latest", env=env)
    assert broken.returncode == 1
    assert "checksum" in broken.stdout
    red = run_script("check-backup-status.sh", env=env)
    assert red.returncode == 1
    assert "checksum does not match" in red.stdout
