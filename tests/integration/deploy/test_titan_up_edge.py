"""`titan up` runs the Celery worker and beat with the whole stack, and nginx on
TITAN_NGINX_PORT when nginx is installed; Ctrl-C stops them with the rest."""

from __future__ import annotations

import asyncio
import os
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tests.integration.console.conftest import create_accounts
from tests.integration.deploy.edge import nginx_or_skip
from tests.processes import SERVICE_NAMES, free_ports, port_env, wait_for_health
from titan_common.auth.roles import Role
from titan_common.embedded import EmbeddedRedis, free_port, port_answers

pytestmark = pytest.mark.integration

TITAN = str(Path(sys.executable).parent / "titan")
OPERATOR = ("up-admin", "up-password")


def children_named(root_pid: int) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for child in psutil.Process(root_pid).children(recursive=True):
        try:
            line = " ".join(child.cmdline())
        except psutil.Error:
            continue
        for name in ("titan_worker worker", "titan_worker beat", "nginx: master"):
            if name in line:
                found.setdefault(name, []).append(child.pid)
    return found


def test_titan_up_runs_worker_beat_and_nginx(tmp_path: Path, database_url: str) -> None:
    nginx_or_skip()
    asyncio.run(create_accounts(database_url, {OPERATOR[0]: (OPERATOR[1], Role.ADMIN)}))
    redis_server = EmbeddedRedis(tmp_path / "redis")
    redis_url = redis_server.start()
    ports = free_ports()
    nginx_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TITAN_") and k not in ("REDIS_URL",)}
    env.update(port_env(ports))
    env.update(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "TITAN_VAR_DIR": str(tmp_path / "var"),
            "TITAN_NGINX_PORT": str(nginx_port),
            "TITAN_WORKER_METRICS_PORT": str(free_port()),
            "TITAN_WORKER_HEARTBEAT_S": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    out = (tmp_path / "up.log").open("wb")
    supervisor = subprocess.Popen([TITAN, "up"], cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT)
    tracked: set[int] = set()
    try:
        for name in SERVICE_NAMES:
            wait_for_health(f"http://127.0.0.1:{ports[name]}", timeout=120, want=("ok", "healthy", "degraded"))
        deadline = time.monotonic() + 60
        while not port_answers("127.0.0.1", nginx_port) and time.monotonic() < deadline:
            time.sleep(0.2)
        found = children_named(supervisor.pid)
        assert set(found) == {"titan_worker worker", "titan_worker beat", "nginx: master"}, found
        tracked = {p.pid for p in psutil.Process(supervisor.pid).children(recursive=True)}

        # nginx on TITAN_NGINX_PORT, TLS with the certificate titan up made, in front of the console
        cert = ssl.create_default_context(cafile=str(tmp_path / "var" / "nginx" / "tls" / "titan.crt"))
        with httpx.Client(base_url=f"https://127.0.0.1:{nginx_port}", verify=cert, timeout=30) as client:
            health = client.get("/health")
            assert health.json()["status"] in ("healthy", "degraded", "unhealthy")
            assert client.get("/api/status").status_code == 401
            status = client.get("/api/status", auth=OPERATOR)
            assert status.status_code == 200
            assert "masterArm" in status.json()
            assert client.get("/dashboard", auth=OPERATOR).status_code == 200

        # the worker answers through the broker, and beat drives its heartbeat
        deadline = time.monotonic() + 60
        health_check = None
        while time.monotonic() < deadline:
            health_check = subprocess.run(
                [sys.executable, "-m", "titan_worker", "health"], env=env, capture_output=True, text=True, timeout=30
            )
            if health_check.returncode == 0:
                break
            time.sleep(1)
        assert health_check is not None
        assert health_check.returncode == 0, health_check.stdout
        banner = (tmp_path / "up.log").read_text(errors="replace")
        assert f"nginx:    https://127.0.0.1:{nginx_port}/" in banner
    finally:
        supervisor.send_signal(signal.SIGINT)
        try:
            code = supervisor.wait(60)
        finally:
            if supervisor.poll() is None:
                supervisor.kill()
            redis_server.stop()
    assert code == 0
    assert not port_answers("127.0.0.1", nginx_port)
    alive = [pid for pid in tracked if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
    assert alive == [], [" ".join(psutil.Process(p).cmdline()) for p in alive]
