"""`titan doctor` against real parts: the simulator (REST, WS, filters, clock), the session's
Postgres, and a redis-server this test starts and then stops."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.execution.conftest import Sim, sim
from titan_common.embedded import EmbeddedRedis, free_port

pytestmark = pytest.mark.integration
__all__ = ["sim"]

TITAN = str(Path(sys.executable).parent / "titan")


def doctor(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([TITAN, "doctor"], env=env, capture_output=True, text=True, timeout=120, check=False)


def lines_of(status: str, output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith(status)]


def test_doctor_says_in_one_line_that_redis_is_stopped(sim: Sim, database_url: str, tmp_path: Path) -> None:
    redis_server = EmbeddedRedis(tmp_path / "redis")
    redis_url = redis_server.start()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TITAN_")},
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "TITAN_BYBIT_ENDPOINT": sim.url,
        "TITAN_VAR_DIR": str(tmp_path / "var"),
        "COLUMNS": "200",
    }
    try:
        healthy = doctor(env)
        assert healthy.returncode == 0, healthy.stdout + healthy.stderr
        for name in ("rest", "ws", "filters", "clock", "db", "redis", "disk"):
            assert re.search(rf"^OK\s+{re.escape(name)}\s", healthy.stdout, re.M), (name, healthy.stdout)
        assert lines_of("FAIL", healthy.stdout) == []
        assert re.search(r"^OK\s+clock\s+offset [+-]\d+ ms", healthy.stdout, re.M)
    finally:
        redis_server.stop()

    stopped = doctor(env)
    assert stopped.returncode != 0
    failures = lines_of("FAIL", stopped.stdout)
    # one check line names Redis and why, and the verdict names only Redis
    assert len([line for line in failures if re.match(r"FAIL\s+redis\s", line)]) == 1, stopped.stdout
    assert "is not answering" in failures[0]
    assert "REDIS_UNAVAILABLE" in failures[0]
    assert failures[-1] == "FAIL: redis is not well (see above)"
    assert len(failures) == 2, stopped.stdout
    # still one screen: a header, nine checks, the verdict
    assert len(stopped.stdout.strip().splitlines()) <= 12


def test_doctor_fails_on_an_unreachable_database_and_exchange(tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TITAN_")},
        "DATABASE_URL": "postgresql://postgres@127.0.0.1:1/titan",
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "TITAN_BYBIT_ENDPOINT": "http://127.0.0.1:1",
        "TITAN_VAR_DIR": str(tmp_path),
        "COLUMNS": "200",
    }
    result = doctor(env)
    assert result.returncode == 1
    for name in ("rest", "ws", "db", "redis"):
        assert re.search(rf"^FAIL\s+{name}\s", result.stdout, re.M), (name, result.stdout)
    assert "DB_UNAVAILABLE" in result.stdout


def test_doctor_checks_every_venue(sim: Sim, database_url: str, tmp_path: Path) -> None:
    """With TITAN_VENUES=bybit,mexc, MEXC gets its own line, through its adapter; a MEXC
    endpoint that does not answer fails that line alone."""
    redis_server = EmbeddedRedis(tmp_path / "redis")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TITAN_")},
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_server.start(),
        "TITAN_VENUES": "bybit,mexc",
        "TITAN_BYBIT_ENDPOINT": sim.url,
        "TITAN_MEXC_ENDPOINT": sim.mexc_url,
        "TITAN_VAR_DIR": str(tmp_path / "var"),
        "COLUMNS": "200",
    }
    try:
        both = doctor(env)
        assert both.returncode == 0, both.stdout + both.stderr
        assert re.search(
            r"^OK\s+mexc\s+answered in \d+ ms, clock offset [+-]\d+ ms, \d+ symbols trading", both.stdout, re.M
        )
        gone = doctor({**env, "TITAN_MEXC_ENDPOINT": f"http://127.0.0.1:{free_port()}"})
        assert gone.returncode != 0
        assert [line.split()[1] for line in lines_of("FAIL ", gone.stdout)] == ["mexc"], gone.stdout
    finally:
        redis_server.stop()
