"""Config over HTTP: bounds (422 naming the field and the range), one version per change
with its author, summary and diff, rollback by exact tag and by point in time, and the
new version reaching the brain live over titan:control (no restart)."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.integration.console.conftest import auth_of
from tests.integration.console.stack import Stack
from titan_common.bus import CONTROL, EVENTS, Subscriber, make_redis
from titan_common.messages import Control, ControlCommand, Event

pytestmark = pytest.mark.integration

TAG = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$")


def post(stack: Stack, path: str, body: dict[str, Any], who: str = "operator-1") -> httpx.Response:
    return httpx.post(f"{stack.console}{path}", json=body, auth=auth_of(who), timeout=30)


def config(stack: Stack) -> dict[str, Any]:
    return dict(httpx.get(f"{stack.console}/api/console/config", timeout=30).json())


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"maxRiskPerTrade": 0.051}, "maxRiskPerTrade", "maxRiskPerTrade must be between 0.01 and 0.05 (1%-5%)"),
        ({"maxRiskPerTrade": 0.009}, "maxRiskPerTrade", "maxRiskPerTrade must be between 0.01 and 0.05 (1%-5%)"),
        ({"maxDailyDrawdown": 0.11}, "maxDailyDrawdown", "maxDailyDrawdown must be between 0.03 and 0.1 (3%-10%)"),
        ({"maxDailyDrawdown": 0.02}, "maxDailyDrawdown", "maxDailyDrawdown must be between 0.03 and 0.1 (3%-10%)"),
        ({"maxLeverage": 51}, "maxLeverage", "maxLeverage must be between 5 and 50"),
        ({"maxLeverage": 4}, "maxLeverage", "maxLeverage must be between 5 and 50"),
    ],
)
def test_bounds_violations_are_422_naming_field_and_range(
    stack: Stack, body: dict[str, Any], field: str, message: str
) -> None:
    before = httpx.get(f"{stack.console}/api/config/versions", timeout=30).json()["count"]
    response = post(stack, "/api/console/config/risk", body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "CONFIG_OUT_OF_BOUNDS"
    assert message in error["message"]
    assert error["details"][0]["field"] == field
    assert httpx.get(f"{stack.console}/api/config/versions", timeout=30).json()["count"] == before  # nothing written


def test_phase_risk_range_is_enforced(stack: Stack) -> None:
    response = post(stack, "/api/console/config/phase-risk", {"phase": 2, "risk_pct": 0.03})
    assert response.status_code == 422
    assert "phases[2].risk_pct must be between 0.01 and 0.025 (1%-2.5%)" in response.json()["error"]["message"]
    ok = post(stack, "/api/console/config/phase-risk", {"phase": 2, "risk_pct": 0.02})
    assert ok.status_code == 200
    assert ok.json()["phases"][1]["risk_pct"] == "0.02"


def test_every_change_is_a_version_and_rollback_by_tag_and_by_time(stack: Stack) -> None:
    first = post(stack, "/api/console/config/risk", {"maxRiskPerTrade": 0.011, "maxLeverage": 11}).json()
    time.sleep(1.1)  # distinct seconds, so the point in time falls strictly between versions
    second = post(stack, "/api/console/config/risk", {"maxRiskPerTrade": 0.033, "maxLeverage": 33}, "admin-1").json()
    time.sleep(1.1)
    third = post(stack, "/api/console/config/whitelist", {"action": "add", "symbol": "AVAXUSDT"}).json()
    for answer in (first, second, third):
        assert answer["changed"] is True
        assert TAG.match(answer["version_tag"]), answer["version_tag"]
    assert len({first["version_tag"], second["version_tag"], third["version_tag"]}) == 3

    versions = httpx.get(f"{stack.console}/api/config/versions", auth=auth_of("viewer-1"), timeout=30).json()
    newest = versions["versions"][:3]
    assert [v["version_tag"] for v in newest] == [third["version_tag"], second["version_tag"], first["version_tag"]]
    assert [v["changed_by"] for v in newest] == ["operator-1", "admin-1", "operator-1"]
    assert newest[0]["change_summary"] == "asset_whitelist +AVAXUSDT"
    assert newest[1]["diff"] == [
        {"path": "risk_tuner.maxLeverage", "before": 11, "after": 33},
        {"path": "risk_tuner.maxRiskPerTrade", "before": "0.011", "after": "0.033"},
    ]
    assert versions["active"] == third["version_tag"]

    # exact tag
    back = post(stack, "/api/config/rollback", {"version_tag": first["version_tag"]}).json()
    assert back["changed"] is True
    assert back["rolled_back_from"] == first["version_tag"]
    assert back["risk_tuner"] == first["risk_tuner"]
    assert back["asset_whitelist"] == first["asset_whitelist"]
    assert back["version_tag"] not in (first["version_tag"], second["version_tag"], third["version_tag"])
    assert config(stack)["version_tag"] == back["version_tag"]

    # a point in time: half a second after the second version was made, it was the active one
    instant = second["created_ms"] + 500
    assert instant < third["created_ms"]
    when = datetime.fromtimestamp(instant / 1000, tz=UTC).isoformat().replace("+00:00", "Z")
    at_time = post(stack, "/api/config/rollback", {"version_tag": when}).json()
    assert at_time["rolled_back_from"] == second["version_tag"]
    assert at_time["risk_tuner"] == {"maxRiskPerTrade": "0.033", "maxDailyDrawdown": "0.07", "maxLeverage": 33}
    assert "AVAXUSDT" not in at_time["asset_whitelist"]
    latest = httpx.get(f"{stack.console}/api/config/versions", timeout=30).json()["versions"][0]
    assert latest["rolled_back_from"] == second["version_tag"]
    assert latest["change_summary"].startswith(f"rollback to {second['version_tag']}")

    # rolling back onto what is already active changes nothing and writes nothing
    again = post(stack, "/api/config/rollback", {"version_tag": second["version_tag"]}).json()
    assert again["changed"] is False
    assert again["version_tag"] == at_time["version_tag"]
    bad = post(stack, "/api/config/rollback", {"version_tag": "last tuesday"})
    assert bad.status_code == 422
    assert "version_tag" in bad.json()["error"]["message"]


def test_whitelist_add_remove_and_repeat(stack: Stack) -> None:
    added = post(stack, "/api/console/config/whitelist", {"action": "add", "symbol": "DOTUSDT"}).json()
    assert "DOTUSDT" in added["asset_whitelist"]
    repeat = post(stack, "/api/console/config/whitelist", {"action": "add", "symbol": "DOTUSDT"}).json()
    assert repeat["changed"] is False
    removed = post(stack, "/api/console/config/whitelist", {"action": "remove", "symbol": "DOTUSDT"}).json()
    assert "DOTUSDT" not in removed["asset_whitelist"]
    bad = post(stack, "/api/console/config/whitelist", {"action": "add", "symbol": "BTC-EUR"})
    assert bad.status_code == 422
    assert bad.json()["error"]["details"][0]["field"] == "symbol"


async def test_a_new_version_is_announced_and_the_brain_reloads_it_live(stack: Stack) -> None:
    redis = make_redis(stack.redis_url)
    stop = asyncio.Event()
    controls: list[Control] = []
    events: list[Event] = []

    async def listen(spec: Any, into: list[Any]) -> None:
        async for message in Subscriber(redis, spec).messages(stop):
            into.append(message)

    listeners = [asyncio.create_task(listen(CONTROL, controls)), asyncio.create_task(listen(EVENTS, events))]
    try:
        await asyncio.sleep(0.5)  # subscribed before the change
        brain_pid = (await asyncio.to_thread(httpx.get, f"{stack.url('brain')}/health", timeout=10)).json().get("pid")
        current = config(stack)["risk_tuner"]["maxDailyDrawdown"]
        target = 0.04 if current != "0.04" else 0.05
        answer = (await asyncio.to_thread(post, stack, "/api/console/config/risk", {"maxDailyDrawdown": target})).json()
        tag = answer["version_tag"]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not (
            any(c.command is ControlCommand.CONFIG_CHANGED and c.reason == tag for c in controls)
            and any(e.event_type == "CONFIG_CHANGE" and e.payload.get("version_tag") == tag for e in events)
        ):
            await asyncio.sleep(0.1)
        control = next(c for c in controls if c.command is ControlCommand.CONFIG_CHANGED)
        assert control.operator_id == "operator-1"
        assert control.target == "all"
        event = next(e for e in events if e.event_type == "CONFIG_CHANGE")
        assert event.operator_id == "operator-1"
        assert event.service == "console"
    finally:
        stop.set()
        await asyncio.gather(*listeners, return_exceptions=True)
        await redis.aclose()

    assert stack.up.get("brain"), "the brain did not start in this stack; its live reload cannot be observed"

    def brain_version() -> str | None:
        body = httpx.get(f"{stack.url('brain')}/health", timeout=10).json()
        return (body.get("checks", {}).get("brain") or {}).get("config_version")

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and await asyncio.to_thread(brain_version) != tag:
        await asyncio.sleep(0.2)
    assert await asyncio.to_thread(brain_version) == tag
    after = (await asyncio.to_thread(httpx.get, f"{stack.url('brain')}/health", timeout=10)).json()
    assert after.get("pid") == brain_pid  # the same process: reloaded live, not restarted
