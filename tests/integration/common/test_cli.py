"""The `titan` CLI as an operator runs it: real processes, real database."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from tests.conftest import create_database, drop_database
from titan_common.auth.passwords import DEFAULT_ADMIN_PASSWORD, verify_password
from titan_common.db import migrate
from titan_common.db.engine import make_engine, make_sessionmaker
from titan_common.db.models import User
from titan_common.embedded import free_port
from titan_common.live import LiveRefused
from titan_common.settings import CommonSettings
from titan_ops.cli.up import check_live_preconditions

pytestmark = pytest.mark.integration
TITAN = str(Path(sys.executable).parent / "titan")


def titan(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TITAN, *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def fresh_database(postgres_server_url: str):  # type: ignore[no-untyped-def]
    name = f"titan_cli_{uuid.uuid4().hex[:8]}"
    yield create_database(postgres_server_url, name)
    drop_database(postgres_server_url, name)


def test_migrate_twice(fresh_database: str, tmp_path: Path) -> None:
    env = {"DATABASE_URL": fresh_database, "TITAN_VAR_DIR": str(tmp_path)}
    first = titan("migrate", env=env)
    assert first.returncode == 0, first.stderr
    assert "was empty" in first.stdout
    second = titan("migrate", env=env)
    assert second.returncode == 0, second.stderr
    assert f"(was {migrate.head_revision()})" in second.stdout


async def _user(database_url: str, username: str) -> User | None:
    engine = make_engine(database_url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session:
            return await session.scalar(select(User).where(User.username == username))
    finally:
        await engine.dispose()


def test_user_add_hashes_with_argon2_and_refuses_duplicates(fresh_database: str, tmp_path: Path) -> None:
    env = {"DATABASE_URL": fresh_database, "TITAN_VAR_DIR": str(tmp_path), "TITAN_NEW_USER_PASSWORD": "s3cure-pass!"}
    created = titan("user", "add", "alice", "--role", "operator", env=env)
    assert created.returncode == 0, created.stderr
    assert "s3cure-pass!" not in created.stdout + created.stderr
    user = asyncio.run(_user(fresh_database, "alice"))
    assert user is not None
    assert user.role == "operator"
    assert user.password_hash.startswith("$argon2")
    assert verify_password(user.password_hash, "s3cure-pass!")
    assert not verify_password(user.password_hash, "wrong")
    again = titan("user", "add", "alice", "--role", "operator", env=env)
    assert again.returncode == 1
    assert "already exists" in again.stdout
    short = titan("user", "add", "bob", env={**env, "TITAN_NEW_USER_PASSWORD": "short"})
    assert short.returncode == 2
    bad_role = titan("user", "add", "carol", "--role", "god", env=env)
    assert bad_role.returncode == 2


def test_health_exits_nonzero_when_services_are_down(tmp_path: Path) -> None:
    ports = {f"TITAN_{s.upper()}_PORT": str(free_port()) for s in ("brain", "execution", "console", "scavenger")}
    result = titan("health", "--timeout", "0.5", env={**ports, "TITAN_SIMULATOR_PORT": str(free_port())})
    assert result.returncode == 1
    assert "unhealthy" in result.stdout


def test_bad_setting_exits_2_naming_it() -> None:
    result = titan("health", env={"TITAN_CONSOLE_PORT": "http"})
    assert result.returncode == 2
    assert "TITAN_CONSOLE_PORT" in result.stderr


def test_live_refuses_defaults(tmp_path: Path) -> None:
    settings = CommonSettings(var_dir=tmp_path, system_mode="LIVE")  # type: ignore[arg-type]
    with pytest.raises(LiveRefused) as refused:
        check_live_preconditions(settings, live_flag=False, default_users=["admin"])
    message = str(refused.value)
    for fragment in ("--live", "LIVE.ok", "TITAN_INTERNAL_TOKEN", "admin"):
        assert fragment in message
    (tmp_path / "LIVE.ok").write_text("ok")
    ready = CommonSettings(var_dir=tmp_path, system_mode="LIVE", internal_token="a-real-secret-token")  # type: ignore[arg-type]
    check_live_preconditions(ready, live_flag=True, default_users=[])  # all met: no refusal


def test_titan_up_in_live_with_defaults_exits_2(fresh_database: str, redis_url: str, tmp_path: Path) -> None:
    (tmp_path / "LIVE.ok").write_text("ok")
    env = {
        "DATABASE_URL": fresh_database,
        "REDIS_URL": redis_url,
        "SYSTEM_MODE": "LIVE",
        "TITAN_VAR_DIR": str(tmp_path),
        "TITAN_NEW_USER_PASSWORD": DEFAULT_ADMIN_PASSWORD,
    }
    assert titan("user", "add", "admin", "--role", "admin", env=env).returncode == 0
    result = titan("up", "--live", env=env)
    assert result.returncode == 2
    assert "LIVE refused" in result.stdout
    assert "account(s) admin still use the default password" in " ".join(result.stdout.split())


def test_titan_sim_runs_standalone_and_pybit_signs_against_it(tmp_path: Path) -> None:
    from pybit.unified_trading import HTTP

    from tests.processes import wait_for_health

    port, mexc_port = free_port(), free_port()
    process = subprocess.Popen(
        [
            TITAN,
            "sim",
            "--port",
            str(port),
            "--mexc-port",
            str(mexc_port),
            "--seed",
            "7",
            "--symbols",
            "BTCUSDT,ETHUSDT",
            "--balance",
            "2500",
            "--api-key",
            "CLIKEY",
            "--api-secret",
            "CLISECRET",
        ],
        env={**os.environ, "TITAN_VAR_DIR": str(tmp_path), "TITAN_SIM_BACKFILL_MINUTES": "30"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_health(f"http://127.0.0.1:{port}", timeout=60)
        session = HTTP(testnet=False, api_key="CLIKEY", api_secret="CLISECRET")
        session.endpoint = f"http://127.0.0.1:{port}"
        wallet = session.get_wallet_balance(accountType="UNIFIED")["result"]["list"][0]
        assert wallet["totalWalletBalance"] == "2500"
        symbols = [i["symbol"] for i in session.get_instruments_info(category="linear")["result"]["list"]]
        assert symbols == ["BTCUSDT", "ETHUSDT"]
        mexc = httpx.get(f"http://127.0.0.1:{mexc_port}/api/v3/exchangeInfo", timeout=10).json()
        assert [s["symbol"] for s in mexc["symbols"]] == ["BTCUSDT", "ETHUSDT"]
    finally:
        process.terminate()
        process.wait(15)
    assert titan("sim", "--balance", "lots", env={}).returncode == 2
