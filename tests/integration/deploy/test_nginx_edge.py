"""Real nginx (deploy/nginx/titan.conf) in front of a live stack: TLS, HTTP Basic through
the console's /api/auth/verify, /health open, /metrics internal only, rate limits, the
brain's paths, WebSocket upgrade, and the operator manual's curl commands through it.

The stack (simulator, brain, execution, scavenger, console) is the console's test stack:
real processes, the session's Postgres database, a private Redis server.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import shlex
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import websockets

from tests.integration.console.conftest import create_accounts
from tests.integration.console.runbook import CurlCase, curl_cases
from tests.integration.console.stack import INTERNAL_TOKEN, Stack, running_stack
from tests.integration.deploy.edge import CLIENT_HEADER, Edge, nginx_or_skip, running_edge
from titan_common.auth.roles import Role

pytestmark = pytest.mark.integration

MANUAL_HOST = "https://titan-core.yourdomain.com"
ADMIN = ("titan_admin", "your_password")  # the operator manual's account
VIEWER = ("edge-viewer", "viewer-password")
ACCOUNTS = {ADMIN[0]: (ADMIN[1], Role.ADMIN), VIEWER[0]: (VIEWER[1], Role.VIEWER)}
MANUAL_CASES = [c for c in curl_cases() if c.file == "operator-manual.md"]
OPEN_PATHS = {"/health", "/metrics"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Iterator[Stack]:
    nginx_or_skip()
    root = tmp_path_factory.mktemp("edge-stack")
    with running_stack(root, database_url) as live:
        asyncio.run(create_accounts(database_url, ACCOUNTS))
        yield live


@pytest.fixture(scope="module")
def edge(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    root = tmp_path_factory.mktemp("edge")
    with running_edge(
        root, console_port=stack.ports["console"], brain_port=stack.ports["brain"], trust_test_client=True
    ) as running:
        yield running


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# --- auth at the edge ---------------------------------------------------------------


def test_health_is_open_over_tls(edge: Edge, stack: Stack) -> None:
    with edge.client() as client:
        through = client.get("/health")
    direct = httpx.get(f"{stack.console}/health", timeout=30)
    assert through.status_code == direct.status_code
    assert through.json()["status"] in ("healthy", "degraded", "unhealthy")
    assert "WWW-Authenticate" not in through.headers


def test_unauthenticated_api_status_gets_401_from_nginx(edge: Edge) -> None:
    with edge.client() as client:
        anonymous = client.get("/api/status")
        wrong = client.get("/api/status", auth=(ADMIN[0], "not-the-password"))
        stolen_token = client.get("/api/status", headers={"X-Titan-Token": INTERNAL_TOKEN, "X-Titan-Operator": "x"})
    for response in (anonymous, wrong, stolen_token):
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Basic realm=")
        assert response.json()["error"]["code"] == "UNAUTHENTICATED"  # nginx's own answer, the one error shape
        assert response.json()["error"]["status"] == 401


def test_valid_credentials_pass_and_the_user_is_logged(edge: Edge) -> None:
    with edge.client(auth=ADMIN) as client:
        response = client.get("/api/status")
    assert response.status_code == 200
    assert {"masterArm", "circuitBreaker", "bybitConnected"} <= set(response.json())
    deadline = time.monotonic() + 5
    while f"- {ADMIN[0]} [" not in edge.access_log() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert f"- {ADMIN[0]} [" in edge.access_log()


def test_the_internal_token_from_outside_is_blanked(edge: Edge) -> None:
    """A viewer who learned the internal token still acts as a viewer: nginx clears the header."""
    with edge.client(auth=VIEWER) as client:
        response = client.post(
            "/api/console/cancel-all",
            headers={"X-Titan-Token": INTERNAL_TOKEN, "X-Titan-Operator": "mallory"},
            json={},
        )
    assert response.status_code == 403, response.text


# --- /metrics -----------------------------------------------------------------------


def test_metrics_only_from_internal_networks(edge: Edge) -> None:
    with edge.client() as client:
        local = client.get("/metrics")
        private = client.get("/metrics", headers={CLIENT_HEADER: "10.1.2.3"})
        public = client.get("/metrics", headers={CLIENT_HEADER: "203.0.113.7"})
    assert local.status_code == 200
    assert "titan_service_up" in local.text
    assert private.status_code == 200
    assert public.status_code == 403
    assert public.json()["error"]["code"] == "FORBIDDEN"


# --- rate limits ----------------------------------------------------------------------


def burst(edge: Edge, path: str, client_address: str, count: int, method: str = "GET") -> tuple[list[int], float]:
    """`count` requests as fast as 16 threads go, from one (test) client address."""
    with edge.client() as client:

        def one(_: int) -> int:
            return client.request(method, path, headers={CLIENT_HEADER: client_address}).status_code

        started = time.monotonic()
        with ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(one, range(count)))
        return statuses, time.monotonic() - started


def admitted_bound(burst_size: int, elapsed_s: float) -> int:
    """The most a 10 r/s bucket with this burst can admit within `elapsed_s` (nodelay)."""
    return burst_size + 1 + math.ceil(10 * elapsed_s) + 1


def test_api_rate_limit_is_10_per_second_with_burst_20(edge: Edge) -> None:
    statuses, elapsed = burst(edge, "/api/status", "198.51.100.10", 90)
    admitted = [s for s in statuses if s != 429]
    assert set(admitted) == {401}  # admitted requests went on to the auth check
    assert 21 <= len(admitted) <= admitted_bound(20, elapsed), (len(admitted), elapsed)
    if len(statuses) > admitted_bound(20, elapsed):
        assert 429 in statuses
    with edge.client() as client:
        limited = client.get("/api/status", headers={CLIENT_HEADER: "198.51.100.10"})
    if limited.status_code == 429:
        assert limited.json()["error"]["code"] == "RATE_LIMITED"
        assert limited.headers["Retry-After"] == "1"


def test_emergency_paths_have_their_own_burst_of_50(edge: Edge) -> None:
    # unauthenticated, so nothing is flattened: the limit applies before the auth check
    statuses, elapsed = burst(edge, "/api/emergency/flatten", "198.51.100.20", 120, method="POST")
    admitted = [s for s in statuses if s != 429]
    assert set(admitted) == {401}
    assert 51 <= len(admitted) <= admitted_bound(50, elapsed), (len(admitted), elapsed)
    if len(statuses) > admitted_bound(50, elapsed):
        assert 429 in statuses
    # a client throttled on the API still reaches the emergency bucket, and the reverse
    api, _ = burst(edge, "/api/status", "198.51.100.20", 5)
    assert api == [401] * 5


# --- one origin: console and brain paths, WebSockets --------------------------------


def test_brain_paths_reach_the_brain(edge: Edge, stack: Stack) -> None:
    assert stack.up.get("brain"), "the brain did not start in this stack"
    with edge.client(auth=ADMIN) as client:
        dashboard = client.get("/dashboard")
        breaker = client.get("/breaker")
        rates = client.get("/phases/approval-rates")
        unauthenticated = httpx.get(f"{edge.url}/dashboard", verify=edge.tls(), timeout=30)
    assert dashboard.status_code == 200
    assert {"nav", "phaseEquity"} <= set(dashboard.json())
    assert breaker.status_code == 200
    assert "active" in breaker.json()
    assert rates.status_code == httpx.get(f"{stack.url('brain')}/phases/approval-rates", timeout=30).status_code
    assert unauthenticated.status_code == 401


def test_the_brain_gets_only_reads_and_its_reset_goes_through_the_console(edge: Edge, stack: Stack) -> None:
    """nginx sends the brain GETs only. A breaker reset sent to the brain's path is the
    console's reset (its role rules, its audit row); any other mutation there is 405."""
    with edge.client(auth=ADMIN) as client:
        reset = client.post("/breaker/reset", json={"reason": "through the edge"})
        other = client.post("/dashboard", json={})
        deleted = client.delete("/breaker")
    assert reset.status_code == 200, reset.text
    assert reset.json().get("operator_id") == ADMIN[0]
    assert "breaker" in reset.json() or "was_active" in reset.json()
    for refused in (other, deleted):
        assert refused.status_code == 405
        assert refused.json()["error"]["code"] == "METHOD_NOT_ALLOWED"


async def test_websocket_upgrade_on_ws_console_and_ws(edge: Edge) -> None:
    for path in ("/ws/console", "/ws"):
        async with websockets.connect(
            f"wss://127.0.0.1:{edge.port}{path}",
            ssl=edge.tls(),
            additional_headers={"Authorization": basic(*ADMIN)},
            open_timeout=30,
        ) as socket:
            first = json.loads(await asyncio.wait_for(socket.recv(), 30))
            assert first["type"] == "CONNECTED", first
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(f"wss://127.0.0.1:{edge.port}/ws/console", ssl=edge.tls(), open_timeout=30):
            pass
    assert refused.value.response.status_code == 401


# --- the operator manual's curl commands, through nginx -------------------------------


def through_edge(case: CurlCase, edge: Edge) -> list[str]:
    """The manual's curl words with the host changed, the local CA trusted, and -u added when absent."""
    words = [w.replace(MANUAL_HOST, edge.url) for w in case.argv]
    extra = ["--cacert", str(edge.layout.tls_dir / "titan.crt"), "-sS"]
    if case.credentials is None and case.path not in OPEN_PATHS:
        extra += ["-u", f"{ADMIN[0]}:{ADMIN[1]}"]
    return [words[0], *extra, *words[1:]]


def direct(case: CurlCase, stack: Stack) -> list[str]:
    words = [w.replace(MANUAL_HOST, stack.console) for w in case.argv]
    if case.credentials is None and case.path not in OPEN_PATHS:
        words += ["-u", f"{ADMIN[0]}:{ADMIN[1]}"]
    return [words[0], "-sS", *words[1:]]


def status_of(argv: list[str], body: Path) -> int:
    done = subprocess.run([*argv, "-o", str(body), "-w", "%{http_code}"], capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr
    return int(done.stdout.strip()[-3:])


@pytest.mark.parametrize("case", MANUAL_CASES, ids=[c.id for c in MANUAL_CASES])
def test_operator_manual_curl_through_nginx(case: CurlCase, edge: Edge, stack: Stack, tmp_path: Path) -> None:
    assert case.origin == MANUAL_HOST
    via_edge = status_of(through_edge(case, edge), tmp_path / "edge.json")
    via_console = status_of(direct(case, stack), tmp_path / "direct.json")
    # nginx answers exactly what the console answers: auth passed, routed, not throttled
    assert via_edge == via_console, (via_edge, via_console, (tmp_path / "edge.json").read_text()[:300])
    assert 200 <= via_edge < 300, (tmp_path / "edge.json").read_text()[:300]
    filters = case.jq_filters
    if filters:
        # the operator's whole pipeline, as written but for host, CA and -u, succeeds
        pipeline = " ".join(shlex.quote(w) for w in through_edge(case, edge))
        rest = case.command[len(case.curl_part) :]
        done = subprocess.run(
            ["bash", "-o", "pipefail", "-c", pipeline + rest], capture_output=True, text=True, timeout=90
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() not in ("", "null"), f"{filters} read nothing"


# --- the runbook's check-ssl-status ---------------------------------------------------------


def test_check_ssl_status_reads_the_certificate_nginx_serves(edge: Edge, tmp_path: Path) -> None:
    script = str(Path(__file__).resolve().parents[3] / "scripts" / "check-ssl-status.sh")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([script, *args], capture_output=True, text=True, timeout=60, check=False)

    ok = run("--port", str(edge.port))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "self-signed" in ok.stdout
    assert "OK valid for" in ok.stdout
    soon = run("--port", str(edge.port), "--min-days", "100000")
    assert soon.returncode == 1
    assert "FAIL the certificate expires in" in soon.stdout
    nothing = run("--port", "1")
    assert nothing.returncode == 1
    assert "FAIL no certificate from 127.0.0.1:1" in nothing.stdout
