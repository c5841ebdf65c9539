"""The Celery worker and beat as real processes (`python -m titan_worker worker|beat`) on the
live test stack's private Redis (Celery in its own database), with real Postgres and the
real scavenger: every job is sent through the broker and its effect checked."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import redis
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.console.stack import INTERNAL_TOKEN, Stack, running_stack
from tests.processes import terminate
from titan_common.clock import ms_to_datetime, now_ms
from titan_common.embedded import free_port
from titan_worker import app as names
from titan_worker import reports
from titan_worker.app import create_app
from titan_worker.scanner import ScannerRefused, ServiceUnavailable, trigger_scanner
from titan_worker.settings import WorkerSettings

pytestmark = pytest.mark.integration


@dataclass
class Workers:
    stack: Stack
    env: dict[str, str]
    settings: WorkerSettings
    metrics_url: str
    var_dir: Path
    worker: subprocess.Popen[bytes]
    beat: subprocess.Popen[bytes]

    def send(self, task: str, *args: object, timeout: float = 180) -> object:
        app = create_app(self.settings)
        try:
            return app.send_task(task, args=list(args)).get(timeout=timeout)
        finally:
            app.close()

    def log(self, name: str) -> str:
        path = self.var_dir.parent / f"{name}.out"
        return path.read_text(errors="replace") if path.exists() else ""


def start(role: str, env: dict[str, str], out: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "titan_worker", role],
        env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
        stdout=out.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(process: subprocess.Popen[bytes], timeout: float = 30) -> int:
    terminate(process, timeout)
    return int(process.returncode)


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Iterator[Workers]:
    root = tmp_path_factory.mktemp("worker-stack")
    with running_stack(root, database_url) as stack:
        var_dir = root / "worker-var"
        metrics_port = free_port()
        env = {
            **stack.env,
            "TITAN_VAR_DIR": str(var_dir),
            "TITAN_CELERY_REDIS_DB": "1",
            "TITAN_WORKER_METRICS_PORT": str(metrics_port),
            "TITAN_WORKER_HEARTBEAT_S": "1",
        }
        worker = start("worker", env, root / "worker.out")
        beat = start("beat", env, root / "beat.out")
        settings = WorkerSettings(
            database_url=database_url,
            redis_url=stack.redis_url,
            var_dir=var_dir,
            scavenger_port=stack.ports["scavenger"],
            internal_token=SecretStr(INTERNAL_TOKEN),
        )
        running = Workers(stack, env, settings, f"http://127.0.0.1:{metrics_port}/metrics", var_dir, worker, beat)
        try:
            yield running
        finally:
            for process in (beat, worker):
                if process.poll() is None:
                    process.kill()
                    process.wait()


def test_a_task_goes_through_the_broker_to_the_worker(workers: Workers) -> None:
    assert workers.send(names.PING) == "pong"
    # Celery's queue lives in its own Redis database, not in the services' one
    services_db = redis.Redis.from_url(workers.stack.redis_url)
    celery_db = redis.Redis.from_url(workers.settings.broker_url)
    try:
        assert workers.settings.broker_url.endswith("/1")
        assert not any(k.startswith(b"celery") for k in services_db.keys("*"))
        assert any(k.startswith(b"celery") or k.startswith(b"_kombu") for k in celery_db.keys("*"))
    finally:
        services_db.close()
        celery_db.close()


def test_beat_drives_the_heartbeat_and_health_says_so(workers: Workers) -> None:
    deadline = time.monotonic() + 60
    result = None
    while time.monotonic() < deadline:
        result = subprocess.run(
            [sys.executable, "-m", "titan_worker", "health"],
            env={**os.environ, **workers.env},
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if result.returncode == 0:
            break
        time.sleep(1)
    assert result is not None
    assert result.returncode == 0, result.stdout + workers.log("beat")
    assert result.stdout.strip() == "OK worker and beat"


async def test_the_daily_report_job(workers: Workers, sessions: async_sessionmaker[AsyncSession]) -> None:
    yesterday = (ms_to_datetime(now_ms()) - timedelta(days=1)).strftime("%Y-%m-%d")
    answer = await asyncio.to_thread(workers.send, names.DAILY_REPORT)  # no day: the UTC day that just ended
    assert isinstance(answer, dict)
    assert answer["day"] == yesterday
    async with sessions() as session:
        row = await reports.get(session, yesterday)
    assert isinstance(row, dict)
    assert (workers.var_dir / "reports" / f"daily-{yesterday}.html").exists()


def test_the_backup_cycle_job_takes_verifies_and_prunes(workers: Workers) -> None:
    answer = workers.send(names.BACKUP_CYCLE, timeout=300)
    assert isinstance(answer, dict)
    assert answer["verified"] is True
    assert answer["pruned"] == []
    assert (workers.var_dir / "backups" / answer["backup"]).exists()


def test_the_audit_retention_job(workers: Workers) -> None:
    audit = workers.var_dir / "audit"
    audit.mkdir(parents=True, exist_ok=True)
    old = ms_to_datetime(now_ms()) - timedelta(days=45)
    (audit / f"brain-{old:%Y-%m-%d}.jsonl").write_text('{"old": true}\n')
    (audit / f"brain-{ms_to_datetime(now_ms()):%Y-%m-%d}.jsonl").write_text('{"today": true}\n')
    answer = workers.send(names.AUDIT_RETENTION)
    assert answer == {"deleted": [f"brain-{old:%Y-%m-%d}.jsonl"], "freed_bytes": 14, "kept": 1}
    assert sorted(p.name for p in audit.iterdir()) == [f"brain-{ms_to_datetime(now_ms()):%Y-%m-%d}.jsonl"]


def test_the_scanner_job_runs_the_scavengers_cycle_once_per_slot(workers: Workers) -> None:
    assert workers.stack.up.get("scavenger"), "the scavenger did not start in this stack"
    first = workers.send(names.SCANNER_CYCLE)
    again = workers.send(names.SCANNER_CYCLE)
    assert isinstance(first, dict)
    assert isinstance(again, dict)
    assert first["status"] == 200
    cycle = first["body"]["cycle_id"]
    assert again["body"]["cycle_id"] == cycle
    # the slot may already have run by the scavenger's own timer; either way, now it has run once
    assert again["body"]["status"] == "ALREADY_RAN"
    cycles = httpx.get(f"{workers.stack.url('scavenger')}/scanner/cycles", timeout=30).json()["cycles"]
    assert [c for c in cycles if c["cycle_id"] == cycle]


async def test_the_scanner_trigger_names_its_failures(workers: Workers) -> None:
    wrong_token = workers.settings.model_copy(update={"internal_token": SecretStr("not-the-token")})
    with pytest.raises(ScannerRefused, match="401"):
        await trigger_scanner(wrong_token, operator_id="scheduler")
    nowhere = workers.settings.model_copy(update={"scavenger_port": free_port()})
    with pytest.raises(ServiceUnavailable):
        await trigger_scanner(nowhere, operator_id="scheduler")


def test_the_worker_serves_its_metrics(workers: Workers) -> None:
    stats = workers.send(names.TRADING_STATS)
    assert isinstance(stats, dict)
    assert set(stats) == {"trades", "win_rate", "net_pnl"}
    text = httpx.get(workers.metrics_url, timeout=10).text
    assert f"titan_worker_trades_7d {float(stats['trades'])}" in text
    assert "titan_worker_win_rate_7d" in text
    assert 'titan_worker_tasks_total{result="success",task="titan.ping"}' in text
    assert "titan_worker_backups 1.0" in text
    assert "titan_worker_backup_last_verify_ok 1.0" in text
    assert "titan_worker_report_last_day_timestamp_seconds" in text


def test_worker_and_beat_stop_cleanly(workers: Workers) -> None:
    assert stop(workers.beat) == 0, workers.log("beat")[-2000:]
    assert stop(workers.worker) == 0, workers.log("worker")[-2000:]
