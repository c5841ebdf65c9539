"""The auth matrix: every route of the console app (enumerated from the app itself, so a
new route cannot slip past) x method x identity, against a real console process.

Identities: nobody from loopback, nobody from another machine (the console listens on
0.0.0.0 here and is called on this machine's own non-loopback address), nobody through a
proxy (X-Forwarded-For), wrong password, viewer, operator, admin.

Rules checked:
- no mutation succeeds without operator rights (401 without credentials, 403 for a viewer);
- reads need credentials except from loopback without a proxy;
- the handful of public routes and admin-only routes are exactly the declared ones;
- the audit rows of an operator's mutations name the authenticated user, never the body's
  `operator_id` label.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websockets
from fastapi.routing import APIRoute, APIWebSocketRoute, iter_route_contexts
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.routing import Mount

from tests.integration.console.conftest import auth_of
from tests.integration.console.stack import Stack, external_address
from tests.processes import free_ports, start_service, terminate, wait_for_health
from titan_common.auth.accounts import add_user
from titan_common.auth.roles import Role
from titan_common.clock import now_ms
from titan_common.db.models import AuditEvent, OperatorAction
from titan_console.api.app import create_app
from titan_console.api.deps import ACCESS_KEY, authorize
from titan_console.settings import ConsoleSettings

pytestmark = pytest.mark.integration

SAFE = {"GET", "HEAD", "OPTIONS"}
LABEL = "spoofed-label"  # what a body claims; the audit must name the real user instead

# Declared on purpose; a new public or admin-only route must be added here consciously.
PUBLIC_ROUTES = {
    ("GET", "/health"),
    ("GET", "/"),
    ("GET", "/login"),
    ("POST", "/api/auth/login"),
    ("GET", "/api/auth/verify"),
    ("POST", "/api/auth/logout"),
}
ADMIN_ROUTES = {("POST", "/api/console/kill-switch/recover"), ("POST", "/api/console/protection-failed/clear")}
# Where credentials are checked by design (their own tests are below); they change no
# trading state: logging in and out only open and close the caller's own session.
CREDENTIAL_ROUTES = {("POST", "/api/auth/login"), ("GET", "/api/auth/verify"), ("POST", "/api/auth/logout")}

# A valid body for every mutating route (a mutating route without one fails the matrix).
BODIES: dict[tuple[str, str], dict[str, Any] | None] = {
    ("POST", "/api/console/master-arm"): {"enabled": False, "operator_id": LABEL},
    ("POST", "/api/console/flatten-all"): {"operator_id": LABEL},
    ("POST", "/api/emergency/flatten"): {"operator_id": LABEL},
    ("POST", "/api/console/cancel-all"): {"operator_id": LABEL},
    ("POST", "/api/console/positions/{symbol}/close"): {"operator_id": LABEL},
    ("POST", "/api/console/kill-switch"): {"operator_id": LABEL},  # no code: only asks for one
    ("POST", "/api/console/kill-switch/recover"): {"reason": "matrix", "operator_id": LABEL},
    ("POST", "/api/console/protection-failed/clear"): {"reason": "matrix", "operator_id": LABEL},
    ("POST", "/api/circuit-breaker/reset"): {"reason": "matrix", "operator_id": LABEL},
    ("POST", "/api/state/reconcile"): {"operator_id": LABEL},
    ("POST", "/api/console/alerts/{alert_id}/ack"): None,
    ("POST", "/api/console/config/risk"): {"maxRiskPerTrade": 0.02, "operator_id": LABEL},
    ("POST", "/api/console/config/phase-risk"): {"phase": 1, "risk_pct": 0.02},
    ("POST", "/api/console/config/whitelist"): {"action": "add", "symbol": "LINKUSDT"},
    ("POST", "/api/config/rollback"): {"version_tag": "2100-01-01T00:00:00Z"},
    ("POST", "/api/proposals/{proposal_id}/approve"): {"operator_id": LABEL},  # no such proposal: 404
    ("POST", "/api/proposals/{proposal_id}/reject"): {"reason": "matrix", "operator_id": LABEL},
    ("POST", "/api/auth/login"): {"username": "nobody", "password": "nothing-at-all"},
    ("POST", "/api/auth/logout"): None,
}
PATH_VALUES = {"symbol": "BTCUSDT", "alert_id": "999999999", "proposal_id": "999999999"}


def console_app(stack: Stack) -> Any:
    return create_app(ConsoleSettings(database_url=stack.database_url, redis_url=stack.redis_url))


def app_routes(stack: Stack) -> list[tuple[str, str, str | None]]:
    """(method, path template, declared access) for every HTTP route of the real app."""
    routes = []
    for context in iter_route_contexts(console_app(stack).routes):
        if isinstance(context.original_route, APIRoute):
            for method in sorted(set(context.methods or ()) - {"HEAD"}):
                routes.append((method, str(context.path), (context.openapi_extra or {}).get(ACCESS_KEY)))
    return routes


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES[m.group(1)], path)


@pytest.fixture(scope="module")
def open_console(stack: Stack) -> Iterator[dict[str, str]]:
    """A second console process of the same stack, listening on every interface."""
    port = free_ports(["console"])["console"]
    env = {**stack.env, "TITAN_HOST": "0.0.0.0", "TITAN_CONSOLE_PORT": str(port)}
    process = start_service("console", env, stack.root / "console-matrix.log")
    try:
        wait_for_health(f"http://127.0.0.1:{port}", timeout=60, want=("healthy", "degraded", "unhealthy"))
        address = external_address()
        yield {
            "local": f"http://127.0.0.1:{port}",
            "remote": f"http://{address}:{port}" if address else "",
        }
    finally:
        terminate(process, timeout=20)


def test_every_route_passes_through_authorize(stack: Stack) -> None:
    def calls(dependant: Any) -> set[Any]:
        found = {dependant.call}
        for sub in dependant.dependencies:
            found |= calls(sub)
        return found

    contexts = list(iter_route_contexts(console_app(stack).routes))
    assert len(contexts) > 40
    for context in contexts:
        route = context.original_route
        if isinstance(route, APIRoute):
            assert authorize in calls(context.dependant), f"{context.path} does not pass through authorize"
        elif isinstance(route, Mount):
            assert route.path == "/static", f"unexpected mount {route.path}"
        elif isinstance(route, APIWebSocketRoute):
            assert route.path in ("/ws/console", "/ws"), route.path  # they apply the same rule themselves
        else:
            raise AssertionError(f"{type(route).__name__} {context.path} bypasses the console's access rules")
    declared_public = {(m, p) for m, p, a in app_routes(stack) if a == "public"}
    assert declared_public == PUBLIC_ROUTES
    declared_admin = {(m, p) for m, p, a in app_routes(stack) if a == "admin"}
    assert declared_admin == ADMIN_ROUTES


def _request(base: str, method: str, path: str, *, auth: tuple[str, str] | None = None,
             headers: dict[str, str] | None = None) -> httpx.Response:  # fmt: skip
    body = BODIES.get((method, path)) if method not in SAFE else None
    content = None if body is None else json.dumps(body)
    with httpx.Client(base_url=base, timeout=90, follow_redirects=False) as client:
        return client.request(
            method,
            concrete(path),
            content=content,
            auth=auth,
            headers={"Content-Type": "application/json", **(headers or {})},
        )


def test_the_matrix(stack: Stack, open_console: dict[str, str]) -> None:
    local, remote = open_console["local"], open_console["remote"]
    problems: list[str] = []
    routes = app_routes(stack)
    assert len(routes) > 35, routes  # the enumeration itself must not come back empty
    mutating = [(m, p) for m, p, _ in routes if m not in SAFE]
    missing = [r for r in mutating if r not in BODIES]
    assert not missing, f"give these mutating routes a body in BODIES: {missing}"

    for index, (method, path, _declared) in enumerate(routes):
        key = (method, path)
        if key in CREDENTIAL_ROUTES:
            continue
        public = key in PUBLIC_ROUTES
        admin_only = key in ADMIN_ROUTES
        safe = method in SAFE

        def expect(
            label: str, response: httpx.Response, ok: bool, *, refused: tuple[int, ...] = (401, 403), route: Any = key
        ) -> None:
            status = response.status_code
            passed = status not in (401, 403, 429) if ok else status in refused
            if not passed:
                problems.append(f"{route[0]} {route[1]} as {label}: {status} {response.text[:160]}")
            if not ok and status in (401, 403):
                error = response.json()["error"]
                assert set(error) >= {"status", "code", "message"}

        # nobody, from loopback
        expect("nobody@loopback", _request(local, method, path), public or (safe and not admin_only),
               refused=(401,))  # fmt: skip
        # nobody, through a proxy (nginx sets X-Forwarded-For)
        expect("nobody@proxy", _request(local, method, path, headers={"X-Forwarded-For": "203.0.113.5"}), public,
               refused=(401,))  # fmt: skip
        # nobody, from another machine
        if remote:
            expect("nobody@remote", _request(remote, method, path), public, refused=(401,))
        # a wrong password (each route from its own address, so the throttle stays out of it)
        wrong = _request(local, method, path, auth=("operator-1", "wrong-password"),
                         headers={"X-Real-IP": f"198.51.100.{index % 250 + 1}"})  # fmt: skip
        expect("wrong-password", wrong, public, refused=(401, 429))
        # viewer, operator, admin
        expect("viewer", _request(local, method, path, auth=auth_of("viewer-1")), public or safe, refused=(403,))
        if remote:
            expect("viewer@remote", _request(remote, method, path, auth=auth_of("viewer-1")), public or safe,
                   refused=(403,))  # fmt: skip
        expect("operator", _request(local, method, path, auth=auth_of("operator-1")), not admin_only,
               refused=(403,))  # fmt: skip
        expect("admin", _request(local, method, path, auth=auth_of("admin-1")), True)

    assert not problems, "\n".join(problems)


async def test_audit_names_the_authenticated_user(
    stack: Stack, open_console: dict[str, str], sessions: async_sessionmaker[AsyncSession]
) -> None:
    started = now_ms()
    current = httpx.get(f"{stack.console}/api/console/config", timeout=30).json()["risk_tuner"]["maxLeverage"]
    BODIES[("POST", "/api/console/config/risk")] = {"maxLeverage": 5 if current != 5 else 6, "operator_id": LABEL}
    for (method, path), _body in BODIES.items():
        if (method, path) in PUBLIC_ROUTES | ADMIN_ROUTES:
            continue
        response = await asyncio.to_thread(_request, open_console["local"], method, path, auth=auth_of("operator-1"))
        assert response.status_code not in (401, 403), (path, response.text)
    async with sessions() as session:
        since = select(OperatorAction).where(OperatorAction.ts_ms >= started)
        actions = (await session.scalars(since.order_by(OperatorAction.id))).all()
        events = (
            await session.scalars(
                select(AuditEvent).where(AuditEvent.ts_ms >= started, AuditEvent.operator_id.is_not(None))
            )
        ).all()
    assert {a.operator_id for a in actions if a.operator_id == LABEL} == set()
    assert {e.operator_id for e in events if e.operator_id == LABEL} == set()
    by_user = {a.action for a in actions if a.operator_id == "operator-1"}
    assert {"MASTER_ARM", "CONSOLE_FLATTEN_ALL", "CONSOLE_CANCEL_ALL", "CONFIG_RISK", "RECONCILE"} <= by_user
    # execution's own record of the forwarded flatten names the same person
    assert any(a.action == "FLATTEN_ALL" and a.operator_id == "operator-1" for a in actions)
    # the body's label is kept, as a label
    # the console's own disarm record: a flatten's disarm (in execution) has one too, with no label
    arm = next(a for a in actions if a.action == "MASTER_ARM" and a.operator_id == "operator-1" and "via" in a.request)
    assert arm.request["label"] == LABEL


def test_sessions_need_csrf_and_a_matching_origin(stack: Stack) -> None:
    with httpx.Client(base_url=stack.console, timeout=60) as browser:
        login = browser.post("/api/auth/login", json={"username": "operator-1", "password": "operator-password"})
        assert login.status_code == 200, login.text
        cookie = login.headers["set-cookie"].lower()
        assert "httponly" in cookie
        assert "samesite=strict" in cookie
        csrf = browser.get("/api/auth/me").json()["csrf_token"]
        assert csrf == login.json()["csrf_token"]
        arm = {"enabled": False}
        assert browser.post("/api/console/master-arm", json=arm).status_code == 403
        assert browser.post("/api/console/master-arm", json=arm, headers={"X-CSRF-Token": "x" * 20}).status_code == 403
        evil = {"X-CSRF-Token": csrf, "Origin": "https://evil.example"}
        assert browser.post("/api/console/master-arm", json=arm, headers=evil).status_code == 403
        good = browser.post(
            "/api/console/master-arm", json=arm, headers={"X-CSRF-Token": csrf, "Origin": stack.console}
        )
        assert good.status_code == 200
        assert good.json()["operator_id"] == "operator-1"
        assert browser.post("/api/auth/logout").json()["user"] == "operator-1"
        browser.cookies.set("titan_session", login.cookies["titan_session"])
        assert browser.post("/api/console/master-arm", json=arm, headers={"X-CSRF-Token": csrf}).status_code == 401


def test_a_viewer_session_is_read_only(stack: Stack) -> None:
    with httpx.Client(base_url=stack.console, timeout=60) as browser:
        csrf = browser.post("/api/auth/login", json={"username": "viewer-1", "password": "viewer-password"}).json()[
            "csrf_token"
        ]
        assert browser.get("/api/console/config").status_code == 200
        refused = browser.post("/api/console/flatten-all", json={}, headers={"X-CSRF-Token": csrf})
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "FORBIDDEN"


async def test_failed_logins_are_throttled(stack: Stack, sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session, session.begin():
        await add_user(session, "throttle-victim", "right-password", Role.OPERATOR)

    def attempt(password: str) -> int:
        return httpx.post(
            f"{stack.console}/api/auth/login", json={"username": "throttle-victim", "password": password}, timeout=30
        ).status_code

    statuses = [await asyncio.to_thread(attempt, "wrong") for _ in range(5)]
    assert statuses == [401] * 5
    locked = await asyncio.to_thread(
        httpx.post,
        f"{stack.console}/api/auth/login",
        json={"username": "throttle-victim", "password": "right-password"},
        timeout=30,
    )
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 0
    # Basic auth on any route counts against the same throttle
    basic = await asyncio.to_thread(
        httpx.get, f"{stack.console}/api/console/config", auth=("throttle-victim", "right-password"), timeout=30
    )
    assert basic.status_code == 429
    # another user from the same address is not affected
    other = await asyncio.to_thread(httpx.get, f"{stack.console}/api/console/config", auth=auth_of("viewer-1"))
    assert other.status_code == 200


def test_nginx_verify(stack: Stack) -> None:
    ok = httpx.get(f"{stack.console}/api/auth/verify", auth=auth_of("viewer-1"), timeout=30)
    assert ok.status_code == 200
    assert ok.headers["X-Titan-User"] == "viewer-1"
    assert httpx.get(f"{stack.console}/api/auth/verify", timeout=30).status_code == 401
    wrong = httpx.get(f"{stack.console}/api/auth/verify", auth=("viewer-1", "nope"), timeout=30,
                      headers={"X-Real-IP": "198.51.100.250"})  # fmt: skip
    assert wrong.status_code == 401
    assert "X-Titan-User" not in wrong.headers


async def test_websocket_follows_the_same_rule(stack: Stack, open_console: dict[str, str]) -> None:
    local = open_console["local"].replace("http://", "ws://") + "/ws/console"

    async def first_type(url: str, **kwargs: Any) -> str:
        async with websockets.connect(url, open_timeout=10, **kwargs) as socket:
            return str(json.loads(await asyncio.wait_for(socket.recv(), 10))["type"])

    assert await first_type(local) == "CONNECTED"  # loopback, as viewer
    with pytest.raises(websockets.exceptions.InvalidStatus):
        await first_type(local, additional_headers={"X-Forwarded-For": "203.0.113.5"})
    with pytest.raises(websockets.exceptions.InvalidStatus):
        await first_type(local, origin="https://evil.example")  # type: ignore[arg-type]
    if open_console["remote"]:
        remote = open_console["remote"].replace("http://", "ws://") + "/ws/console"
        with pytest.raises(websockets.exceptions.InvalidStatus):
            await first_type(remote)
        token = base64.b64encode(":".join(auth_of("viewer-1")).encode()).decode()
        assert await first_type(remote, additional_headers={"Authorization": f"Basic {token}"}) == "CONNECTED"
