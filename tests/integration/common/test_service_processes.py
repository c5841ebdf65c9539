"""Every service as a real uvicorn process: /health ok, /metrics served, SIGTERM under 10 s."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.processes import SERVICE_NAMES, free_ports, port_env, start_service, terminate, wait_for_health

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def running_services(database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    var_dir = tmp_path_factory.mktemp("var")
    ports = free_ports()
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "TITAN_VAR_DIR": str(var_dir),
        "TITAN_RUN_ID": "process-test",
        # execution trades against this test's own simulator, as `titan up` wires it
        "TITAN_SIM_API_KEY": "process-test-key",
        "TITAN_SIM_API_SECRET": "process-test-secret",
        "TITAN_BYBIT_API_KEY": "process-test-key",
        "TITAN_BYBIT_API_SECRET": "process-test-secret",
        "TITAN_BYBIT_ENDPOINT": f"http://127.0.0.1:{ports['simulator']}",
        "TITAN_SIM_BACKFILL_MINUTES": "60",
        **port_env(ports),
    }
    processes = {name: start_service(name, env, var_dir / f"{name}.out") for name in SERVICE_NAMES}
    yield ports, processes, var_dir
    for process in processes.values():
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_health_and_metrics(name: str, running_services) -> None:  # type: ignore[no-untyped-def]
    ports, _processes, _var = running_services
    url = f"http://127.0.0.1:{ports[name]}"
    body = wait_for_health(url, timeout=40)
    assert body["service"] == name
    assert body["mode"] == "NORMAL"
    assert isinstance(body["uptime"], float | int)
    if name == "console":
        # the console's /health is the system's aggregate: services, Postgres, Redis, exchange
        assert body["status"] == "healthy"
        assert body["database"]["postgres"]["ok"] is True
        assert body["redis"]["ok"] is True
        assert set(body["services"]) >= {"brain", "execution", "scavenger"}
    else:
        checks = body["checks"]
        assert isinstance(checks, dict)
        if name != "simulator":
            for dependency in ("db", "redis"):
                assert checks[dependency]["ok"] is True
                assert checks[dependency]["latency_ms"] >= 0
    metrics = httpx.get(f"{url}/metrics", timeout=5)
    assert metrics.status_code == 200
    assert "text/plain" in metrics.headers["content-type"]
    up = [line for line in metrics.text.splitlines() if line.startswith("titan_service_up{")]
    assert len(up) == 1
    assert f'service="{name}"' in up[0]
    assert up[0].endswith(" 1.0")
    if name in ("execution", "scavenger"):  # one process per venue: every sample names its venue
        assert 'venue="bybit"' in up[0]
    assert "process_resident_memory_bytes" in metrics.text


def test_heartbeats_are_in_redis_with_a_ttl(running_services, redis_url: str) -> None:  # type: ignore[no-untyped-def]
    import redis as sync_redis

    ports, _processes, _var = running_services
    for name in SERVICE_NAMES:
        wait_for_health(f"http://127.0.0.1:{ports[name]}", timeout=40)
    client = sync_redis.Redis.from_url(redis_url)
    for name in ("brain", "execution", "scavenger", "console"):
        assert client.exists(f"titan:hb:{name}")
        assert 0 < client.ttl(f"titan:hb:{name}") <= 10


def test_errors_have_one_json_shape(running_services) -> None:  # type: ignore[no-untyped-def]
    ports, _processes, _var = running_services
    response = httpx.get(f"http://127.0.0.1:{ports['brain']}/no-such-path", timeout=5)
    assert response.status_code == 404
    assert response.json() == {"error": {"status": 404, "code": "NOT_FOUND", "message": "Not Found"}}


def test_logs_go_to_var_log(running_services) -> None:  # type: ignore[no-untyped-def]
    ports, _processes, var_dir = running_services
    wait_for_health(f"http://127.0.0.1:{ports['brain']}", timeout=40)
    text = (Path(var_dir) / "log" / "brain.log").read_text()
    assert "[INFO] brain started" in text


def test_execution_reports_exchange_reconcile_and_intents(running_services) -> None:  # type: ignore[no-untyped-def]
    ports, _processes, _var = running_services
    url = f"http://127.0.0.1:{ports['execution']}"
    body = wait_for_health(url, timeout=40)
    checks = body["checks"]
    assert isinstance(checks, dict)
    assert checks["exchange"]["connected"] is True
    assert checks["last_reconcile"]["status"] == "OK"  # the startup reconcile ran before entries opened
    assert isinstance(checks["intents_by_state"], dict)
    text = httpx.get(f"{url}/metrics", timeout=5).text
    for name in ("titan_execution_orders_total", "titan_execution_reconcile_runs_total", "titan_execution_intents"):
        assert name in text


def test_mutations_need_an_operator_and_record_who(running_services, database_url: str) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from sqlalchemy import select

    from titan_common.auth.accounts import add_user
    from titan_common.auth.roles import Role
    from titan_common.db.engine import make_engine, make_sessionmaker
    from titan_common.db.models import OperatorAction
    from titan_common.settings import DEFAULT_INTERNAL_TOKEN

    ports, _processes, _var = running_services
    url = f"http://127.0.0.1:{ports['execution']}"
    wait_for_health(url, timeout=40)

    async def users() -> None:
        engine = make_engine(database_url, pool_size=1)
        async with make_sessionmaker(engine)() as session, session.begin():
            await add_user(session, "watcher", "watcher-pass-1", Role.VIEWER)
            await add_user(session, "trader", "trader-pass-1", Role.OPERATOR)
        await engine.dispose()

    asyncio.run(users())
    for path in ("/positions/flatten", "/orders/cancel-all", "/positions/BTCUSDT/close", "/api/state/reconcile"):
        anonymous = httpx.post(f"{url}{path}", timeout=10)
        assert anonymous.status_code == 401
        assert anonymous.json()["error"]["code"] == "UNAUTHORIZED"
        assert httpx.post(f"{url}{path}", headers={"X-Titan-Token": "wrong"}, timeout=10).status_code == 401
        assert httpx.post(f"{url}{path}", auth=("trader", "wrong-password"), timeout=10).status_code == 401
        assert httpx.post(f"{url}{path}", auth=("watcher", "watcher-pass-1"), timeout=10).status_code == 403
    by_operator = httpx.post(f"{url}/orders/cancel-all", auth=("trader", "trader-pass-1"), timeout=10)
    assert by_operator.status_code == 200
    assert by_operator.json()["success"] is True
    by_console = httpx.post(
        f"{url}/orders/cancel-all",
        headers={"X-Titan-Token": DEFAULT_INTERNAL_TOKEN, "X-Titan-Operator": "console-ops"},
        timeout=10,
    )
    assert by_console.status_code == 200

    async def recorded() -> list[str]:
        engine = make_engine(database_url, pool_size=1)
        async with make_sessionmaker(engine)() as session:
            rows = await session.scalars(
                select(OperatorAction.operator_id)
                .where(OperatorAction.action == "CANCEL_ALL")
                .order_by(OperatorAction.id)
            )
            found = list(rows)
        await engine.dispose()
        return found

    assert asyncio.run(recorded())[-2:] == ["trader", "console-ops"]
    # reads stay open on loopback, so the runbook's plain curl lines work
    assert httpx.get(f"{url}/positions", timeout=10).status_code == 200


def test_sigterm_stops_every_service_within_10_seconds(running_services) -> None:  # type: ignore[no-untyped-def]
    ports, processes, _var = running_services
    for name in SERVICE_NAMES:
        wait_for_health(f"http://127.0.0.1:{ports[name]}", timeout=40)
    for name, process in processes.items():
        took = terminate(process, timeout=10)
        assert process.returncode == 0, f"{name} exited {process.returncode}"
        assert took < 10


def test_bad_settings_exit_2_naming_the_variable(tmp_path: Path) -> None:
    for env, name in (
        (
            {"TITAN_BRAIN_PORT": "99999", "DATABASE_URL": "postgresql://u@h/db", "REDIS_URL": "redis://h"},
            "TITAN_BRAIN_PORT",
        ),
        ({"DATABASE_URL": "postgresql://u@h:notaport/db", "REDIS_URL": "redis://h"}, "DATABASE_URL"),
        ({"DATABASE_URL": "postgresql://u@h/db", "REDIS_URL": "redis//h"}, "REDIS_URL"),
    ):
        result = subprocess.run(
            [sys.executable, "-m", "titan_brain"],
            env={"PATH": "/usr/bin:/bin", "TITAN_VAR_DIR": str(tmp_path), **env},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 2, result.stderr
        assert name in result.stderr
