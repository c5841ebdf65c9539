"""The LIVE locks hold in every process, however it is started: compose, systemd and PM2
run `titan serve` and `python -m titan_worker`, `titan up` runs `python -m <package>`.
Each command, taken from the deployment file itself, refuses LIVE without its locks,
exits 2 and says why in one line; with every lock met, the process starts."""

from __future__ import annotations

import asyncio
import configparser
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml
from sqlalchemy import update

from tests.integration.console.conftest import create_accounts
from tests.integration.deploy.test_process_managers import PAPER_ENV, pm2_apps
from tests.processes import free_ports, terminate, wait_for_health
from titan_common.auth.passwords import DEFAULT_ADMIN_PASSWORD, hash_password
from titan_common.auth.roles import Role
from titan_common.db.engine import make_engine, make_sessionmaker
from titan_common.db.models import User
from titan_ops.registry import SERVICES

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
UNREACHABLE_DB = "postgresql://postgres@127.0.0.1:1/none"  # refused at once: accounts unverifiable


def local_argv(argv: list[str]) -> list[str]:
    """A deployment's command with its programs resolved to this checkout's virtualenv."""
    program = Path(argv[0]).name
    resolved = sys.executable if program in ("python", "python3") else str(BIN / program)
    return [resolved, *argv[1:]]


def compose_commands() -> dict[str, list[str]]:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    return {name: services[name]["command"] for name in ("brain", "execution", "console", "worker")}


def systemd_commands() -> dict[str, list[str]]:
    commands = {}
    for name in ("brain", "execution", "console", "worker"):
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        parser.read(ROOT / "deploy" / "systemd" / f"titan-{name}.service")
        commands[name] = parser["Service"]["ExecStart"].split()
    return commands


def pm2_commands(tmp_path: Path) -> dict[str, list[str]]:
    apps = pm2_apps(tmp_path, PAPER_ENV.replace("PAPER", "LIVE"))
    return {name: [apps[f"titan-{name}"]["script"], *apps[f"titan-{name}"]["args"]] for name in ("brain", "worker")}


def titan_up_commands() -> dict[str, list[str]]:
    return {name: ["python", "-m", SERVICES[name].package] for name in ("brain", "execution", "scavenger", "simulator")}


def live_env(var_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TITAN_", "SYSTEM_MODE"))}
    env.update(
        {
            "SYSTEM_MODE": "LIVE",
            "DATABASE_URL": UNREACHABLE_DB,
            "REDIS_URL": "redis://127.0.0.1:1/0",
            "TITAN_VAR_DIR": str(var_dir),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def refusal(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(local_argv(argv), env=env, capture_output=True, text=True, timeout=60, cwd=ROOT)


def assert_refused(result: subprocess.CompletedProcess[str], service: str, *fragments: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stdout[-500:], result.stderr[-500:])
    lines = [line for line in result.stderr.splitlines() if "LIVE refused" in line]
    assert len(lines) == 1, result.stderr  # one line says why
    assert f"LIVE refused ({service}):" in lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.mark.parametrize("shape", ["compose", "systemd", "pm2", "titan up"])
def test_every_deployment_shape_refuses_live_without_its_locks(shape: str, tmp_path: Path) -> None:
    commands = {
        "compose": compose_commands,
        "systemd": systemd_commands,
        "pm2": lambda: pm2_commands(tmp_path),
        "titan up": titan_up_commands,
    }[shape]()
    for service, argv in commands.items():
        result = refusal(argv, live_env(tmp_path / "var"))
        assert_refused(
            result,
            service,
            "--live flag (or TITAN_LIVE=1)",
            "LIVE.ok",
            "TITAN_INTERNAL_TOKEN is the development default",
        )


def test_each_lock_alone_refuses(tmp_path: Path) -> None:
    var = tmp_path / "var"
    var.mkdir()
    met = {"TITAN_LIVE": "1", "TITAN_INTERNAL_TOKEN": f"live-{uuid.uuid4().hex}"}
    argv = ["titan", "serve", "execution"]
    # no LIVE.ok
    assert_refused(refusal(argv, live_env(var, **met)), "execution", "needs the file")
    (var / "LIVE.ok").write_text("ok")
    # no --live / TITAN_LIVE
    no_flag = {k: v for k, v in met.items() if k != "TITAN_LIVE"}
    assert_refused(refusal(argv, live_env(var, **no_flag)), "execution", "--live flag")
    # the default internal token
    token = {**met, "TITAN_INTERNAL_TOKEN": "titan-dev-internal-token"}
    assert_refused(refusal(argv, live_env(var, **token)), "execution", "TITAN_INTERNAL_TOKEN")
    # accounts that cannot be verified (the database is unreachable): refused, fail closed
    assert_refused(refusal(argv, live_env(var, **met)), "execution", "cannot verify the accounts")


async def set_password(database_url: str, username: str, password: str) -> None:
    engine = make_engine(database_url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            await session.execute(
                update(User).where(User.username == username).values(password_hash=hash_password(password))
            )
    finally:
        await engine.dispose()


def test_the_default_password_refuses_and_every_lock_met_starts(
    private_database: str, redis_url: str, tmp_path: Path
) -> None:
    var = tmp_path / "var"
    var.mkdir()
    (var / "LIVE.ok").write_text("ok")
    port = free_ports(["brain"])["brain"]
    env = live_env(
        var, DATABASE_URL=private_database, REDIS_URL=redis_url, TITAN_INTERNAL_TOKEN=f"live-{uuid.uuid4().hex}",
        TITAN_BRAIN_PORT=str(port), AI_DEC="1",
    )  # fmt: skip
    asyncio.run(create_accounts(private_database, {"admin": (DEFAULT_ADMIN_PASSWORD, Role.ADMIN)}))
    assert_refused(refusal(["titan", "serve", "brain", "--live"], env), "brain", "account(s) admin")
    asyncio.run(set_password(private_database, "admin", "a-long-live-password"))
    log = (tmp_path / "brain.log").open("ab")
    process = subprocess.Popen(
        local_argv(["titan", "serve", "brain", "--live"]), env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT
    )
    try:
        wait_for_health(f"http://127.0.0.1:{port}", timeout=60, want=("ok", "degraded", "unhealthy"))
    finally:
        terminate(process)
