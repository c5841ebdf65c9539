"""Every curl line of daily-operations-runbook.md and operator-manual.md, run as written
against a live stack (hosts changed to the local ones, nothing else), in document order.

For each line: the shell pipeline succeeds (pipefail), the HTTP status is 2xx, and every
jq filter the operator reads yields values of the documented types. The lines are
parsed out of the runbook files at collection time, so a runbook edit that adds a line
without a known contract fails here ("add its expected types"), and docs and tests cannot
drift apart.

Every line must pass: the console and the brain serve every endpoint the runbooks use.
"""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.console.runbook import CurlCase, curl_cases, expected_block_after, rewrite
from tests.integration.console.stack import Stack
from titan_common.clock import now_ms
from titan_common.db.models import SignalRow

pytestmark = pytest.mark.integration

CASES = curl_cases()
NUMBERISH = {"number", "string"}  # money may travel as a string (Decimal) or a number
NAV = {"number"}  # the brain's nav: the current equity, as the runbook reads it (detail: navDetail)

# Which service each documented origin means, once the host is local.
ORIGINS = {
    "http://localhost:3002": "console",
    "https://titan-core.yourdomain.com": "console",
    "http://localhost:3004": "console",  # the AI Quant's pending proposals: served by the console
    "http://localhost:3100": "brain",
    "https://api.bybit.com": "simulator",  # Bybit's public market data: the simulator in tests
}

# (service, path, jq filter) -> the types of the values it yields, in order; a one-element
# tuple whose set is marked with "*" applies to every value of a stream.
TYPES: dict[tuple[str, str, str], tuple[set[str], ...]] = {
    ("console", "/api/console/master-arm", "."): ({"object"},),
    ("console", "/api/console/config", ".risk_tuner, .asset_whitelist"): ({"object"}, {"array"}),
    ("console", "/positions", ".positions | length"): ({"number"},),
    ("console", "/positions", ".count"): ({"number"},),
    ("console", "/positions", "."): ({"object"},),
    ("console", "/health", ".status"): ({"string"},),
    ("console", "/api/console/system-status", ".websocket"): ({"object"},),
    ("console", "/api/console/signals", '.signals[] | select(.status == "PENDING")'): ({"*", "object"},),
    ("console", "/api/status", ".masterArm"): ({"boolean"},),
    ("console", "/api/status", ".circuitBreaker"): ({"object"},),
    ("console", "/api/status", ".bybitConnected"): ({"boolean"},),
    ("brain", "/breaker", "."): ({"object"},),
    ("brain", "/breaker", ".active"): ({"boolean"},),
    ("brain", "/health", ".status"): ({"string"},),
    ("brain", "/dashboard", ".nav, .phaseEquity"): (NAV, {"object", "array"}),
    ("brain", "/dashboard", ".nav, .riskMetrics.globalLeverage"): (NAV, NUMBERISH),
    ("brain", "/dashboard", ".recentDecisions[-10:]"): ({"array"},),
    ("brain", "/dashboard", ".nav, .treasury"): (NAV, {"object"}),
    ("simulator", "/v5/market/kline", ".result.list[] | [.[0], .[4]] | @csv"): ({"*", "string"},),
    ("simulator", "/v5/market/funding/history", ".result.list[] | [.fundingRateTimestamp, .fundingRate] | @csv"): (
        {"*", "string"},
    ),
}


def service_of(case: CurlCase) -> str:
    return ORIGINS[case.origin]


def _param(case: CurlCase) -> Any:
    return pytest.param(case, id=case.id)


def test_the_runbooks_have_the_lines_we_expect() -> None:
    """A sanity floor, so a broken parser cannot silently test nothing."""
    assert len(CASES) >= 40
    assert {service_of(c) for c in CASES} == {"console", "brain", "simulator"}
    for case in CASES:
        for jq_filter in case.jq_filters:
            key = (service_of(case), case.path, jq_filter)
            assert key in TYPES, f"{case.id}: add the expected types of jq {jq_filter!r} to TYPES"


def json_values(text: str) -> list[Any]:
    """Every JSON value jq printed (pretty-printed, one after another)."""
    decoder = json.JSONDecoder()
    values, index = [], 0
    while True:
        while index < len(text) and text[index].isspace():
            index += 1
        if index >= len(text):
            return values
        value, index = decoder.raw_decode(text, index)
        values.append(value)


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def run_as_written(command: str) -> tuple[int, str, int | None]:
    """(exit code, stdout, HTTP status) of the pipeline. The only addition to the command
    is curl's -w writing the status to stderr, which leaves stdout (and jq) untouched."""
    instrumented = re.sub(r"(^|\s)curl\s", r"\1curl -w '%{stderr}HTTP_STATUS=%{http_code}\\n' ", command, count=1)
    done = subprocess.run(
        ["bash", "-o", "pipefail", "-c", instrumented], capture_output=True, text=True, timeout=90, check=False
    )
    found = re.search(r"HTTP_STATUS=(\d{3})", done.stderr)
    return done.returncode, done.stdout, int(found.group(1)) if found else None


@pytest.fixture(scope="module")
def hosts(stack: Stack) -> dict[str, str]:
    return {
        "https://titan-core.yourdomain.com": stack.console,
        "http://localhost:3002": stack.console,
        "http://localhost:3004": stack.console,
        "http://localhost:3100": stack.url("brain"),
        "https://api.bybit.com": stack.sim,
    }


@pytest.fixture(scope="module")
async def seeded(stack: Stack, sessions: async_sessionmaker[AsyncSession]) -> str:
    """A PENDING signal, for the post-market check of pending orders."""
    signal_id = f"runbook-{uuid.uuid4().hex[:12]}"
    async with sessions() as session, session.begin():
        session.add(
            SignalRow(
                signal_id=signal_id,
                ts_ms=now_ms(),
                source="scavenger",
                symbol="BTCUSDT",
                side="Buy",
                trap_type="RUNBOOK_TEST",
                status="PENDING",
                payload={"entry_price": "65000", "stop_loss": "64000", "confidence": "0.7"},
            )
        )
    return signal_id


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_runbook_line(case: CurlCase, stack: Stack, hosts: dict[str, str], seeded: str) -> None:
    service = service_of(case)
    expected_flatten = None
    if case.path == "/api/emergency/flatten":
        expected_flatten = json.loads(expected_block_after("operator-manual.md", "**Expected Response**"))
        for result in expected_flatten["results"]:  # the manual's three positions, opened on the venue
            stack.sim_control("POST", "/positions", {"symbol": result["symbol"], "side": "Buy", "size": _size(result)})

    code, stdout, status = run_as_written(rewrite(case.command, hosts))

    assert code == 0, f"{case.id} failed ({code}): {stdout[:500]}"
    if "2>/dev/null" not in case.command:
        assert status is not None
        assert 200 <= status < 300, f"{case.id} answered HTTP {status}: {stdout[:500]}"
    if case.jq_filters:
        values = json_values(stdout)
        expected = TYPES[(service, case.path, case.jq_filters[0])]
        if "*" in expected[0]:
            assert all(json_type(v) in expected[0] for v in values), (case.id, values[:3])
        else:
            assert len(values) == len(expected), (case.id, values)
            for allowed, value in zip(expected, values, strict=True):
                assert json_type(value) in allowed, (case.id, value)
        check_values(case, service, values, seeded, stack)
    else:
        check_plain(case, service, stdout, stack, expected_flatten)


def _size(result: dict[str, Any]) -> str:
    return {"BTCUSDT": "0.01", "ETHUSDT": "0.1", "SOLUSDT": "1"}.get(result["symbol"], "1")


def check_values(case: CurlCase, service: str, values: list[Any], seeded: str, stack: Stack) -> None:
    """What the checklists say the operator should see."""
    if service == "console" and case.path == "/health":
        assert values[0] in ("healthy", "degraded", "unhealthy")
    if case.path == "/api/console/signals":
        assert seeded in {v["signal_id"] for v in values}
        assert all(v["status"] == "PENDING" for v in values)
    if case.path == "/api/console/config":
        assert set(values[0]) >= {"maxRiskPerTrade", "maxDailyDrawdown", "maxLeverage"}
    if case.path == "/api/console/system-status":
        assert {"clients", "messages_sent_total", "active"} <= set(values[0])
    if case.path == "/api/status" and case.jq_filters == [".circuitBreaker"]:
        assert "active" in values[0]


def check_plain(
    case: CurlCase, service: str, stdout: str, stack: Stack, expected_flatten: dict[str, Any] | None
) -> None:
    if case.path == "/metrics":
        assert "# HELP titan_service_up" in stdout
        return
    if case.path == "/ws":
        assert stdout.startswith("HTTP/1.1 200")
        return
    body = json.loads(stdout)
    assert isinstance(body, dict), (case.id, stdout[:300])
    if expected_flatten is not None:
        assert body["success"] is expected_flatten["success"]
        assert body["positions_closed"] == expected_flatten["positions_closed"]
        assert sorted(body["results"], key=lambda r: r["symbol"]) == sorted(
            expected_flatten["results"], key=lambda r: r["symbol"]
        )
    if case.path == "/api/console/master-arm" and case.method == "POST":
        assert body == {"master_arm": False, "status": "DISARMED", "previous_state": body["previous_state"],
                        "operator_id": "admin"}  # fmt: skip
    if case.path in ("/api/console/cancel-all", "/api/console/flatten-all"):
        assert body["success"] is True
    if case.path == "/api/console/config/risk":
        assert body["risk_tuner"] == {"maxRiskPerTrade": "0.02", "maxDailyDrawdown": "0.05", "maxLeverage": 20}
    if case.path == "/api/console/config/whitelist":
        symbol = json.loads(re.search(r"-d '(\{.*\})'", case.command).group(1))["symbol"]  # type: ignore[union-attr]
        assert (symbol in body["asset_whitelist"]) is ('"add"' in case.command)
    if case.path == "/api/config/versions":
        assert body["count"] >= 1
        assert {"version_tag", "changed_by", "change_summary", "diff"} <= set(body["versions"][0])
    if case.path == "/api/config/rollback":
        assert body["success"] is True
    if case.path == "/api/state/reconcile":
        assert body["status"] in ("OK", "WARN", "BAD")
    if case.path == "/health" and service == "console":
        if not all(stack.up.get(name) for name in ("brain", "scavenger")):
            pytest.skip("the manual expects healthy; brain or scavenger did not start in this stack")
        # a flatten of hand-opened positions leaves execution manage-only until its next clean
        # reconcile (seconds): the manual's "healthy" is the steady state, so wait for it
        stack.wait_for(lambda: httpx.get(f"{stack.console}/health", timeout=10).json()["status"] == "healthy", 60)
    if case.path == "/api/circuit-breaker/reset":
        assert body["success"] is True


def test_flatten_answer_matches_the_manual_over_http(stack: Stack, clean_state: Stack) -> None:
    """The manual's Expected Response, through the API route the manual names."""
    expected = json.loads(expected_block_after("operator-manual.md", "**Expected Response**"))
    for result in expected["results"]:
        stack.sim_control("POST", "/positions", {"symbol": result["symbol"], "side": "Sell", "size": _size(result)})
    body = httpx.post(
        f"{stack.console}/api/emergency/flatten", auth=("titan_admin", "your_password"), timeout=60
    ).json()
    assert {k: body[k] for k in ("success", "positions_closed")} == {"success": True, "positions_closed": 3}
    assert sorted(body["results"], key=lambda r: r["symbol"]) == sorted(expected["results"], key=lambda r: r["symbol"])
