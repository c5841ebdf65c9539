"""LIVE: the console refuses to start with the default password or the default internal
token, and arming, raising limits and resetting the breaker need an admin."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.console.conftest import create_accounts
from tests.integration.execution.conftest import Sim, execution_env, sim  # noqa: F401 - fixtures
from tests.processes import free_ports, start_service, terminate, wait_for_health
from titan_common.auth.passwords import DEFAULT_ADMIN_PASSWORD
from titan_common.auth.roles import Role
from titan_common.embedded import EmbeddedRedis

pytestmark = pytest.mark.integration

LIVE_ACCOUNTS = {
    "live-operator": ("operator-password-1", Role.OPERATOR),
    "live-admin": ("admin-password-1", Role.ADMIN),
}


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[str]:
    server = EmbeddedRedis(tmp_path / "redis")
    yield server.start()
    server.stop()


def live_env(database_url: str, redis_url: str, tmp_path: Path, port: int, **extra: str) -> dict[str, str]:
    """Every LIVE lock met (TITAN_LIVE=1, LIVE.ok, a secret token) unless `extra` undoes one."""
    (tmp_path / "var").mkdir(exist_ok=True)
    (tmp_path / "var" / "LIVE.ok").write_text("ok")
    return {
        "TITAN_LIVE": "1",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SYSTEM_MODE": "LIVE",
        "TITAN_CONSOLE_PORT": str(port),
        "TITAN_VAR_DIR": str(tmp_path / "var"),
        "TITAN_INTERNAL_TOKEN": f"live-{uuid.uuid4().hex}",
        **extra,
    }


def exits(process: subprocess.Popen[bytes], timeout: float = 60) -> int:
    try:
        return process.wait(timeout)
    finally:
        if process.poll() is None:
            terminate(process)


def test_live_refuses_the_default_password(private_database: str, private_redis: str, tmp_path: Path) -> None:
    asyncio.run(create_accounts(private_database, {"admin": (DEFAULT_ADMIN_PASSWORD, Role.ADMIN)}))
    port = free_ports(["console"])["console"]
    log = tmp_path / "console.log"
    process = start_service("console", live_env(private_database, private_redis, tmp_path, port), log)
    assert exits(process) != 0
    assert "LIVE refused (console): account(s) admin still use the default password" in log.read_text()


def test_live_refuses_the_default_internal_token(private_database: str, private_redis: str, tmp_path: Path) -> None:
    asyncio.run(create_accounts(private_database, LIVE_ACCOUNTS))
    port = free_ports(["console"])["console"]
    log = tmp_path / "console.log"
    env = live_env(private_database, private_redis, tmp_path, port, TITAN_INTERNAL_TOKEN="titan-dev-internal-token")
    assert exits(start_service("console", env, log)) != 0
    assert "LIVE refused (console): TITAN_INTERNAL_TOKEN is the development default" in log.read_text()


def test_live_needs_an_admin_to_arm_raise_limits_and_reset_the_breaker(
    private_database: str,
    private_redis: str,
    tmp_path: Path,
    sim: Sim,  # noqa: F811
) -> None:
    asyncio.run(create_accounts(private_database, LIVE_ACCOUNTS))
    ports = free_ports(["console", "execution"])
    port = ports["console"]
    env = live_env(private_database, private_redis, tmp_path, port, TITAN_EXECUTION_PORT=str(ports["execution"]))
    # arming lands at execution, master arm's one writer: a LIVE one, against the simulator
    door = {**env, **execution_env(sim, private_database, private_redis, tmp_path / "var", ports["execution"])}
    execution = start_service("execution", door, tmp_path / "e.log")
    process = start_service("console", env, tmp_path / "c.log")
    base = f"http://127.0.0.1:{port}"
    operator = LIVE_ACCOUNTS["live-operator"][0]
    admin = LIVE_ACCOUNTS["live-admin"][0]
    try:
        wait_for_health(base, timeout=60, want=("healthy", "degraded", "unhealthy"))
        wait_for_health(f"http://127.0.0.1:{ports['execution']}", timeout=60, ready=True)
        with httpx.Client(base_url=base, timeout=30) as client:

            def as_operator(path: str, body: dict[str, object]) -> httpx.Response:
                return client.post(path, json=body, auth=("live-operator", operator))

            def as_admin(path: str, body: dict[str, object]) -> httpx.Response:
                return client.post(path, json=body, auth=("live-admin", admin))

            assert client.get("/api/status").json()["warnings"] == []
            refused = as_operator("/api/console/master-arm", {"enabled": True})
            assert refused.status_code == 403
            assert refused.json()["error"]["code"] == "ADMIN_REQUIRED"
            # the same rule at execution's own door
            direct = httpx.post(f"http://127.0.0.1:{ports['execution']}/api/safety/arm", json={},
                                auth=("live-operator", operator), timeout=30)  # fmt: skip
            assert direct.status_code == 403, direct.text
            assert as_admin("/api/console/master-arm", {"enabled": True}).json()["master_arm"] is True
            assert as_operator("/api/console/master-arm", {"enabled": False}).status_code == 200  # disarm: operator

            raise_limit = as_operator("/api/console/config/risk", {"maxLeverage": 30})
            assert raise_limit.status_code == 403
            assert "risk_tuner.maxLeverage" in raise_limit.json()["error"]["message"]
            add_symbol = as_operator("/api/console/config/whitelist", {"action": "add", "symbol": "ADAUSDT"})
            assert add_symbol.status_code == 403
            remove_symbol = as_operator("/api/console/config/whitelist", {"action": "remove", "symbol": "DOGEUSDT"})
            assert remove_symbol.json()["changed"] is True
            lowered = as_operator("/api/console/config/risk", {"maxLeverage": 10})
            assert lowered.status_code == 200
            raised = as_admin("/api/console/config/risk", {"maxLeverage": 25})
            assert raised.status_code == 200
            # rolling back to the lower leverage lowers limits (operator); back up again needs admin
            back_down = as_operator("/api/config/rollback", {"version_tag": lowered.json()["version_tag"]})
            assert back_down.status_code == 200
            back_up = as_operator("/api/config/rollback", {"version_tag": raised.json()["version_tag"]})
            assert back_up.status_code == 403
            # and a rollback that would put DOGEUSDT back on the whitelist is raising limits too
            assert as_operator("/api/config/rollback", {"version_tag": "default"}).status_code == 403

            breaker = as_operator("/api/circuit-breaker/reset", {"reason": "reviewed"})
            assert breaker.status_code == 403
            by_admin = as_admin("/api/circuit-breaker/reset", {"reason": "reviewed"})
            assert by_admin.status_code == 503  # past the role check: no brain runs in this test
            assert by_admin.json()["error"]["code"] == "BRAIN_UNAVAILABLE"
    finally:
        terminate(process, timeout=20)
        terminate(execution, timeout=20)
