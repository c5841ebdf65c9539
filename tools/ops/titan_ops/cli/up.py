# GOVERNANCE PHASE 1 — LOCKED
# Changes need explicit approval and a security review, then `titan governance lock`.
"""`titan up`: migrate, then run the whole stack under the supervisor until Ctrl-C."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import os
import secrets
import signal
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from titan_common.auth.accounts import ensure_bootstrap_admin, users_with_default_password
from titan_common.auth.passwords import DEFAULT_ADMIN_PASSWORD, DEFAULT_ADMIN_USERNAME
from titan_common.db import migrate
from titan_common.db.engine import make_engine, make_sessionmaker
from titan_common.embedded import port_answers
from titan_common.live import LIVE_FLAG_ENV, live_problems, refuse_unless_live_ready
from titan_common.logging import KeyEvent, key_event
from titan_common.settings import VENUE_SERVICES, CommonSettings, SystemMode
from titan_ops.cli.stores import Stores
from titan_ops.cli.supervisor import Child, Supervisor
from titan_ops.registry import SERVICES, START_ORDER

log = logging.getLogger("titan.up")


def simulator_credentials(var_dir: Path) -> dict[str, Any]:
    """The simulator's API key pairs (Bybit's at the top level, the MEXC face's under "mexc"),
    generated once and kept in var/ (mode 600). A file from before the MEXC face gets one added."""
    path = var_dir / "sim-credentials.json"
    creds: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    if "api_key" in creds and isinstance(creds.get("mexc"), dict):
        return creds
    creds.setdefault("api_key", "SIM" + secrets.token_hex(9).upper())
    creds.setdefault("api_secret", secrets.token_hex(18))
    if not isinstance(creds.get("mexc"), dict):
        creds["mexc"] = {"api_key": "mx0" + secrets.token_hex(9), "api_secret": secrets.token_hex(16)}
    var_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(creds))
    path.chmod(0o600)
    return creds


async def _prepare_accounts(database_url: str, mode: SystemMode) -> tuple[bool, list[str]]:
    engine = make_engine(database_url, pool_size=1)
    try:
        sessions = make_sessionmaker(engine)
        created = await ensure_bootstrap_admin(sessions) if mode is SystemMode.PAPER else False
        defaults = await users_with_default_password(sessions)
        return created, defaults
    finally:
        await engine.dispose()


def check_live_preconditions(
    settings: CommonSettings, live_flag: bool, default_users: list[str], governance_problems: list[str] | None = None
) -> None:
    """The LIVE locks for the whole stack, plus the governance lock (titan_common.live)."""
    refuse_unless_live_ready(
        live_problems(
            settings, live_flag=live_flag, default_users=default_users, governance_problems=governance_problems
        )
    )


def child_env(settings: CommonSettings, stores: Stores, sim_creds: dict[str, Any]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": stores.database_url,
            "REDIS_URL": stores.redis_url or "",
            "SYSTEM_MODE": settings.system_mode.value,
            "TITAN_VAR_DIR": str(settings.var_dir.resolve()),
            "TITAN_RUN_ID": settings.run_id,
            "PYTHONUNBUFFERED": "1",
            "TITAN_SIM_API_KEY": sim_creds["api_key"],
            "TITAN_SIM_API_SECRET": sim_creds["api_secret"],
            "TITAN_SIM_MEXC_API_KEY": sim_creds["mexc"]["api_key"],
            "TITAN_SIM_MEXC_API_SECRET": sim_creds["mexc"]["api_secret"],
            "TITAN_SIM_MEXC_PORT": str(settings.simulator_mexc_port),
        }
    )
    if settings.system_mode is SystemMode.LIVE:
        env[LIVE_FLAG_ENV] = "1"  # `titan up` checked --live; each child checks its locks again
    if settings.system_mode is SystemMode.PAPER:
        # PAPER trades against the local simulator with the generated key pair.
        env.setdefault("TITAN_BYBIT_ENDPOINT", f"http://127.0.0.1:{settings.simulator_port}")
        env.setdefault("TITAN_BYBIT_API_KEY", sim_creds["api_key"])
        env.setdefault("TITAN_BYBIT_API_SECRET", sim_creds["api_secret"])
        env.setdefault("TITAN_MEXC_ENDPOINT", f"http://127.0.0.1:{settings.simulator_mexc_port}")
        env.setdefault("TITAN_MEXC_API_KEY", sim_creds["mexc"]["api_key"])
        env.setdefault("TITAN_MEXC_API_SECRET", sim_creds["mexc"]["api_secret"])
        # a paper-trading day: the simulator makes momentum bursts every 30-90 s for traps to catch
        env.setdefault("TITAN_SIM_DEMO_BURSTS", "true")
    return env


async def wait_healthy(
    settings: CommonSettings, services: list[str], timeout_s: float, stop: asyncio.Event | None = None
) -> dict[str, str]:
    """Poll every service's /health until all are ok, the timeout, or `stop`; returns the last statuses."""
    statuses = dict.fromkeys(services, "starting")
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(timeout=2.0) as client:
        while time.monotonic() < deadline and not (stop and stop.is_set()):
            for name in services:
                try:
                    response = await client.get(f"{settings.url_of(name)}/health")
                    statuses[name] = str(response.json().get("status", "unknown"))
                except (httpx.HTTPError, ValueError):
                    statuses[name] = "down"
            if all(s in ("ok", "healthy") for s in statuses.values()):
                break
            await asyncio.sleep(0.5)
    return statuses


async def keep_embedded_redis(stores: Stores, stopping: asyncio.Event, check_s: float = 0.5) -> None:
    """The embedded redis-server is supervised like a service: restarted on the same port
    (its append-only file keeps the streams) when it dies."""
    redis = stores.embedded_redis
    if redis is None:
        return
    backoff_s = 1.0
    while not stopping.is_set():
        await asyncio.sleep(check_s)
        if redis.process is None or redis.process.poll() is None:
            continue
        key_event(
            log, KeyEvent.CRASH, f"redis exited with code {redis.process.returncode}; restarting on port {redis.port}",
            level=logging.ERROR,
        )  # fmt: skip
        await asyncio.sleep(backoff_s)
        try:
            await asyncio.to_thread(redis.start, same_port=True)
            backoff_s = 1.0
        except RuntimeError as exc:
            log.error("embedded redis did not restart: %s", exc)
            backoff_s = min(backoff_s * 2, 30.0)


def run_up(settings: CommonSettings, stores: Stores, *, services: list[str], live: bool) -> int:
    migrate.upgrade(stores.database_url)
    created_admin, default_users = asyncio.run(_prepare_accounts(stores.database_url, settings.system_mode))
    lock_problems = governance_problems()
    if settings.system_mode is SystemMode.LIVE:
        check_live_preconditions(settings, live, default_users, lock_problems)
    elif lock_problems:
        log.warning("GOVERNANCE lock mismatch (PAPER goes on; LIVE would refuse): %s", "; ".join(lock_problems))
    env = child_env(settings, stores, simulator_credentials(settings.var_dir))
    children = service_children(settings, services, env)
    children += extra_children(settings, services, env)
    names = processes(settings, services)
    supervisor = Supervisor(children)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, supervisor.stop)

        async def announce() -> None:
            statuses = await wait_healthy(settings, names, timeout_s=90, stop=supervisor.stopping)
            if not supervisor.stopping.is_set():
                nginx_up = any(c.name == "nginx" for c in children)
                _print_banner(settings, names, statuses, created_admin or bool(default_users), nginx_up)

        # the banner waits beside the supervisor, never in front of a Ctrl-C
        banner = asyncio.create_task(announce())
        guards = [asyncio.create_task(keep_embedded_redis(stores, supervisor.stopping))]
        await supervisor.run()
        for task in (banner, *guards):
            task.cancel()
        await asyncio.gather(banner, *guards, return_exceptions=True)

    asyncio.run(main())
    return 0


def processes(settings: CommonSettings, services: list[str]) -> list[str]:
    """The service processes, in start order: execution and the scavenger run one process
    per venue (`execution`, then `execution-<venue>` for each other venue of TITAN_VENUES)."""
    names: list[str] = []
    for name in START_ORDER:
        if name in services:
            names += list(settings.venue_services(name).values()) if name in VENUE_SERVICES else [name]
    return names


def service_children(settings: CommonSettings, services: list[str], env: dict[str, str]) -> list[Child]:
    children = []
    for name in START_ORDER:
        if name not in services:
            continue
        argv = [sys.executable, "-m", SERVICES[name].package]
        if name not in VENUE_SERVICES:
            children.append(Child(name=name, argv=argv, env=env))
            continue
        for venue, service in settings.venue_services(name).items():
            own = {**env, f"TITAN_{name.upper()}_VENUE": venue}
            if service != name:
                own["TITAN_EXCHANGE"] = venue  # another venue's account is named after its venue
            children.append(Child(name=service, argv=argv, env=own))
    return children


def governance_problems() -> list[str]:
    """Differences between the `# GOVERNANCE PHASE 1 — LOCKED` files and governance.lock."""
    from titan_ops.cli.governance import check_lock, repo_root

    return check_lock(repo_root()).problems


def extra_children(settings: CommonSettings, services: list[str], env: dict[str, str]) -> list[Child]:
    """With the whole stack: the Celery worker and beat; with the console: nginx on
    TITAN_NGINX_PORT (8080) when nginx is installed and the port is free."""
    from titan_ops.cli import nginx

    extras = []
    if set(START_ORDER) <= set(services):
        if importlib.util.find_spec("titan_worker") is not None:
            for role in ("worker", "beat"):
                extras.append(Child(name=role, argv=[sys.executable, "-m", "titan_worker", role], env=env))
        else:
            log.warning("titan_worker is not installed: no scheduled jobs (make install)")
    binary = nginx.nginx_binary()
    if "console" not in services or binary is None:
        return extras
    if port_answers("127.0.0.1", settings.nginx_port):
        log.warning("nginx not started: port %d is already taken (TITAN_NGINX_PORT)", settings.nginx_port)
        return extras
    try:
        layout = nginx.prepare(
            settings.var_dir,
            port=settings.nginx_port,
            console_upstream=settings.url_of("console"),
            brain_upstream=settings.url_of("brain"),
        )
        nginx.check_config(layout)
    except (nginx.NginxUnavailable, OSError, ValueError) as exc:
        log.warning("nginx not started: %s", exc)
        return extras
    return [*extras, Child(name="nginx", argv=nginx.argv(layout, binary), env=env)]


def _print_banner(
    settings: CommonSettings, services: list[str], statuses: dict[str, str], show_default: bool, nginx_up: bool = False
) -> None:
    lines = ["", "=" * 72, f"Titan is up ({settings.system_mode.value})", ""]
    for name in services:
        lines.append(f"  {name:<15} {statuses.get(name, '?'):<9} {settings.url_of(name)}")
    lines.append("")
    if "console" in services:
        lines.append(f"  Console:  {settings.url_of('console')}/")
    if nginx_up:
        lines.append(f"  nginx:    https://127.0.0.1:{settings.nginx_port}/   (self-signed TLS, HTTP Basic)")
    if show_default:
        lines.append(f"  Login:    {DEFAULT_ADMIN_USERNAME} / {DEFAULT_ADMIN_PASSWORD}   (PAPER default; change it)")
    lines += ["  Stop:     Ctrl-C", "=" * 72, ""]
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()
