"""One admin rule wherever a mutation lands: every mutating route of every service
(enumerated from each app itself, so a new route cannot slip past), tried as viewer,
operator and admin, in PAPER and in LIVE, with and without a foreign Origin, against real
processes on a database of their own.

Rules (titan_common.auth.roles and titan_common.request_guard, the same in every service):
- a viewer changes nothing (403); an operator may act, except on admin routes;
- in LIVE, what raises risk needs admin: the brain's breaker and AI-gate resets and
  execution's arm here (the console's body-dependent cases, arming and raising limits, are in
  tests/integration/console/test_live_mode.py);
- a foreign Origin is refused (403 CSRF_FAILED) for everyone, admin included;
- a body that is not JSON is refused (415) before any route runs.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from tests.conftest import create_database, drop_database
from tests.integration.console.conftest import create_accounts
from tests.processes import free_ports, port_env, start_service, terminate_all, wait_for_health
from titan_common.auth.roles import Role
from titan_common.db import migrate
from titan_common.embedded import EmbeddedRedis
from titan_common.settings import load_settings
from titan_ops.registry import SERVICES, import_string

pytestmark = pytest.mark.integration

NAMES = ("brain", "execution", "scavenger", "console")
ACCOUNTS = {
    "access-viewer": ("viewer-password-1", Role.VIEWER),
    "access-operator": ("operator-password-1", Role.OPERATOR),
    "access-admin": ("admin-password-1", Role.ADMIN),
}
ROLE_OF = {role: name for name, (_pw, role) in ACCOUNTS.items()}
ADMIN_ALWAYS = {
    ("execution", "/api/safety/protection-failed/clear"),
    ("console", "/api/console/kill-switch/recover"),
    ("console", "/api/console/protection-failed/clear"),
}
ADMIN_IN_LIVE = {
    ("brain", "/breaker/reset"),
    ("brain", "/aigate/reset"),
    ("console", "/api/proposals/1/approve"),
    ("execution", "/api/safety/arm"),  # master arm's one writer: the console's arm lands here
}
# logging in and out check credentials themselves (the console's own matrix covers them)
CREDENTIAL_ROUTES = {("console", "/api/auth/login"), ("console", "/api/auth/logout")}
PATH_VALUES = {"{symbol}": "BTCUSDT", "{alert_id}": "1", "{proposal_id}": "1"}
FOREIGN = "http://evil.example"


def mutating_routes(name: str, env: dict[str, str]) -> list[tuple[str, str]]:
    spec = SERVICES[name]
    previous = dict(os.environ)
    os.environ.update(env)
    try:
        app = import_string(spec.app_factory)(load_settings(import_string(spec.settings), exit_on_error=False))
    finally:
        os.environ.clear()
        os.environ.update(previous)
    found = []
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute):
            for method in sorted(set(context.methods or ()) - {"GET", "HEAD", "OPTIONS"}):
                path = str(context.path)
                for key, value in PATH_VALUES.items():
                    path = path.replace(key, value)
                found.append((method, path))
    return found


@dataclass
class Running:
    mode: str
    urls: dict[str, str]
    routes: dict[str, list[tuple[str, str]]]


def start_mode(mode: str, root: Path, database_url: str, redis_url: str) -> tuple[Running, list[object]]:
    ports = free_ports()
    var = root / mode / "var"
    var.mkdir(parents=True)
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SYSTEM_MODE": mode,
        "TITAN_VAR_DIR": str(var),
        "TITAN_INTERNAL_TOKEN": f"access-{uuid.uuid4().hex}",
        "TITAN_BYBIT_ENDPOINT": "http://127.0.0.1:9",  # no venue: only the door is tested
        "TITAN_BYBIT_API_KEY": "access-key",
        "TITAN_BYBIT_API_SECRET": "access-secret",
        "AI_DEC": "0",
        # nothing can trade here: let the allowed actions fail fast instead of waiting
        "TITAN_EMERGENCY_READY_WAIT_S": "0.1",
        "TITAN_ACTION_TIMEOUT_S": "2",
        "TITAN_UPSTREAM_TIMEOUT_S": "1",
        **port_env(ports),
    }
    if mode == "LIVE":
        (var / "LIVE.ok").write_text("ok")
        env["TITAN_LIVE"] = "1"
    processes = [start_service(name, env, root / mode / f"{name}.log") for name in NAMES]
    urls = {name: f"http://127.0.0.1:{ports[name]}" for name in NAMES}
    for name in NAMES:
        wait_for_health(urls[name], timeout=90, want=("ok", "degraded", "healthy", "unhealthy"))
    routes = {name: mutating_routes(name, env) for name in NAMES}
    return Running(mode, urls, routes), processes


@pytest.fixture(scope="module")
def database(postgres_server_url: str) -> Iterator[str]:
    name = f"titan_access_{uuid.uuid4().hex[:8]}"
    url = create_database(postgres_server_url, name)
    migrate.upgrade(url)
    asyncio.run(create_accounts(url, ACCOUNTS))
    yield url
    drop_database(postgres_server_url, name)


@pytest.fixture(scope="module", params=["PAPER", "LIVE"])
def running(
    request: pytest.FixtureRequest, database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    root = tmp_path_factory.mktemp(f"access-{request.param}")
    redis = EmbeddedRedis(root / "redis")
    redis_url = redis.start()
    processes: list[object] = []
    try:
        stack, processes = start_mode(request.param, root, database, redis_url)
        yield stack
    finally:
        terminate_all(processes)  # type: ignore[arg-type]
        redis.stop()


def required_role(service: str, path: str, mode: str) -> Role:
    if (service, path) in ADMIN_ALWAYS or (mode == "LIVE" and (service, path) in ADMIN_IN_LIVE):
        return Role.ADMIN
    return Role.OPERATOR


@pytest.mark.timeout(600)
def test_every_mutation_follows_the_one_rule(running: Running) -> None:
    problems = []
    tried = 0
    with httpx.Client(timeout=30) as client:
        for service, routes in running.routes.items():
            assert routes, f"{service} has no mutating route?"
            for method, path in routes:
                if (service, path) in CREDENTIAL_ROUTES:
                    continue
                needed = required_role(service, path, running.mode)
                for role, user in ROLE_OF.items():
                    auth = (user, ACCOUNTS[user][0])
                    url = running.urls[service] + path
                    answer = client.request(method, url, json={}, auth=auth)
                    allowed = role.at_least(needed)
                    tried += 1
                    if allowed and answer.status_code in (401, 403):
                        problems.append(f"{running.mode} {service} {method} {path} as {role}: {answer.status_code}")
                    if not allowed and answer.status_code != 403:
                        problems.append(f"{running.mode} {service} {method} {path} as {role}: {answer.status_code}")
                    foreign = client.request(method, url, json={}, auth=auth, headers={"Origin": FOREIGN})
                    tried += 1
                    if foreign.status_code != 403 or foreign.json()["error"]["code"] != "CSRF_FAILED":
                        problems.append(f"{running.mode} {service} {method} {path} as {role} from {FOREIGN}: "
                                        f"{foreign.status_code}")  # fmt: skip
    assert not problems, "\n".join(problems)
    print(f"{running.mode}: {tried} calls across {sum(len(r) for r in running.routes.values())} mutating routes")


def test_a_body_that_is_not_json_is_refused_everywhere(running: Running) -> None:
    admin = ("access-admin", ACCOUNTS["access-admin"][0])
    with httpx.Client(timeout=30) as client:
        for service, routes in running.routes.items():
            for method, path in routes:
                url = running.urls[service] + path
                form = client.request(method, url, data={"reason": "x"}, auth=admin)
                text = client.request(
                    method, url, content=b'{"reason": "x"}', headers={"Content-Type": "text/plain"}, auth=admin
                )
                for answer in (form, text):
                    assert answer.status_code == 415, (service, method, path, answer.status_code, answer.text)
                    assert answer.json()["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"


def test_nul_bytes_and_overflowing_integers_get_a_422_not_a_500(running: Running) -> None:
    """The fuzzer's two finds, as they were: a NUL in the brain's reset label, and a
    `since_ms` past what Postgres stores."""
    admin = ("access-admin", ACCOUNTS["access-admin"][0])
    with httpx.Client(timeout=30) as client:
        for service, routes in running.routes.items():
            for method, path in routes:
                body = client.request(
                    method, running.urls[service] + path, json={"reason": "x\u0000", "operator_id": "a\u0000"},
                    auth=admin,
                )  # fmt: skip
                assert body.status_code == 422, (service, path, body.status_code)
                assert body.json()["error"]["code"] == "INVALID_REQUEST"
        for service, url in running.urls.items():
            assert client.get(f"{url}/health?x=%00").status_code == 422, service
        huge = client.get(f"{running.urls['execution']}/trades", params={"since_ms": "86227271866005202141184"})
        assert huge.status_code == 422
        assert huge.json()["error"]["code"] == "INVALID_REQUEST"
