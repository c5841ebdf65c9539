"""The runbook's scripts, run as an operator runs them, against a real execution process
trading on the simulator (other services deliberately absent where a test says so).

Each prints a readable result and exits non-zero with a one-line reason on failure."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.execution.conftest import ExecutionProcess, Sim, arm, entry, running_execution
from tests.processes import free_ports
from titan_common.bus import INTENTS, StreamProducer
from titan_common.clock import now_ms, utc_day
from titan_common.settings import DEFAULT_INTERNAL_TOKEN

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]


def script(name: str, *args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ROOT / "scripts" / name), *args],
        env={**os.environ, "COLUMNS": "200", **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def script_env(execution: ExecutionProcess, tmp_path: Path) -> dict[str, str]:
    """Execution where it runs; every other service on a port where nothing listens."""
    down = free_ports(["brain", "console", "scavenger", "simulator"])
    return {
        "TITAN_EXECUTION_PORT": execution.url.rsplit(":", 1)[1],
        **{f"TITAN_{name.upper()}_PORT": str(port) for name, port in down.items()},
        "TITAN_VAR_DIR": str(tmp_path / "var"),
    }


async def test_position_and_reconciliation_scripts(
    clean_sim: Sim, sessions: async_sessionmaker[AsyncSession], database_url: str, redis_url: str, tmp_path: Path
) -> None:
    async with running_execution(clean_sim, database_url, redis_url, tmp_path, redis_db_index=14) as execution:
        env = script_env(execution, tmp_path)
        clean = script("verify-positions.sh", env=env)
        assert clean.returncode == 0, clean.stdout + clean.stderr
        assert "shadow state matches the exchange" in clean.stdout

        # a position opened on the exchange behind Titan's back is adopted and protected;
        # the script then reports the shadow state equal to the exchange again
        clean_sim.control("POST", "/positions", {"symbol": "XRPUSDT", "side": "Buy", "size": "100"})
        deadline = time.monotonic() + 30
        final = script("verify-positions.sh", env=env)
        while "shadow positions: 1" not in final.stdout or final.returncode != 0:
            assert time.monotonic() < deadline, final.stdout
            await asyncio.sleep(1)
            final = script("verify-positions.sh", env=env)
        nobody = script("verify-positions.sh", env={**env, "TITAN_EXECUTION_PORT": str(free_ports(["x"])["x"])})
        assert nobody.returncode == 1
        assert nobody.stdout.strip().splitlines()[-1].startswith("FAIL execution did not answer")

        report = script("daily-reconciliation.sh", "--date", utc_day(now_ms()), env=env)
        assert report.returncode == 0, report.stdout + report.stderr
        assert "STARTUP 1" in report.stdout
        bad_date = script("daily-reconciliation.sh", "--date", "2024-13-45", env=env)
        assert bad_date.returncode == 1
        assert bad_date.stdout.strip().splitlines()[-1].startswith("FAIL")
        empty_day = script("daily-reconciliation.sh", "--date", "2001-01-01", env=env)
        assert empty_day.returncode == 1
        assert "no reconcile ran on 2001-01-01" in empty_day.stdout


async def test_performance_status_and_key_scripts(
    clean_sim: Sim, sessions: async_sessionmaker[AsyncSession], database_url: str, redis_url: str, tmp_path: Path
) -> None:
    async with running_execution(clean_sim, database_url, redis_url, tmp_path, redis_db_index=14) as execution:
        env = script_env(execution, tmp_path)
        # one round trip, so the summary has a trade
        await arm(sessions, True)
        producer = StreamProducer(execution.redis, INTENTS)
        await producer.publish(entry("ETHUSDT", "0.10", "1"))
        await asyncio.sleep(2)
        await arm(sessions, False)
        flat = httpx.post(
            execution.url + "/positions/flatten",
            headers={"X-Titan-Token": DEFAULT_INTERNAL_TOKEN, "X-Titan-Operator": "script-test"},
            timeout=30,
        )
        assert flat.json()["success"] is True

        summary = script("performance-summary.sh", "--timeframe", "1d", env=env)
        assert summary.returncode == 0, summary.stdout + summary.stderr
        assert "trades" in summary.stdout
        assert "win rate" in summary.stdout
        assert script("performance-summary.sh", "--timeframe", "2y", env=env).returncode == 2

        monitor = script("performance-monitor.sh", "--duration", "2", "--interval", "1", env=env)
        assert monitor.returncode == 1  # brain, console and scavenger are not running here
        assert "execution" in monitor.stdout
        assert monitor.stdout.strip().splitlines()[-1].startswith("FAIL service(s) did not answer /metrics")

        status = script("send-daily-status.sh", "--type", "premarket", env=env)
        assert status.returncode == 1
        assert "NOT healthy: brain, scavenger, console" in status.stdout
        written = list((tmp_path / "var" / "status").glob("premarket-*.json"))
        assert len(written) == 1

        keys = script("rotate-api-keys.sh", "--dry-run", env=env)
        assert keys.returncode == 0, keys.stdout
        assert "nothing was changed" in keys.stdout
        assert clean_sim.api_key not in keys.stdout  # a key is never printed
        assert script("rotate-api-keys.sh", env=env).returncode == 2

        health = script("health-check.sh", env=env)
        assert health.returncode == 1
        assert "execution" in health.stdout
        assert "healthy" in health.stdout
        assert "unhealthy" in health.stdout  # the absent services
        assert "PostgreSQL connected" in health.stdout
        assert health.stdout.strip().splitlines()[-1].startswith("FAIL")
