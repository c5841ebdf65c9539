"""/ws/console against the live stack (CONNECTED, STATE_UPDATE every second with what the
issue lists, every event type forwarded from titan:events, PING/PONG), and the 24/7
operations panel in its fixed reading order."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest
import websockets
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.console.conftest import auth_of
from tests.integration.console.stack import Stack
from titan_common.bus import EVENTS, Publisher, make_redis
from titan_common.clock import now_ms
from titan_common.db.models import Alert
from titan_common.messages import Event, Severity

pytestmark = pytest.mark.integration

FORWARDED = [
    "POSITION_UPDATE",
    "ORDER_FILLED",
    "MASTER_ARM_CHANGE",
    "CIRCUIT_BREAKER_UPDATE",
    "EMERGENCY_FLATTEN",
    "CONFIG_CHANGE",
    "ALERT",
    "TRAP_SPRUNG",
    "PHASE_CHANGE",
]
STATE_FIELDS = {"equity", "dailyPnl", "phase", "masterArm", "mode", "reasonCodes", "since_ms", "positions"}


def ws_url(stack: Stack) -> str:
    return stack.console.replace("http://", "ws://") + "/ws/console"


async def collect(socket: Any, until: Any, timeout: float) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not until(messages):
        try:
            raw = await asyncio.wait_for(socket.recv(), timeout=max(0.1, deadline - time.monotonic()))
        except TimeoutError:
            break
        messages.append(json.loads(raw))
    return messages


async def test_connected_then_state_updates_every_second(stack: Stack) -> None:
    async with websockets.connect(ws_url(stack)) as socket:
        first = json.loads(await asyncio.wait_for(socket.recv(), 10))
        assert first["type"] == "CONNECTED"
        assert first["data"]["interval_ms"] == 1000
        started = time.monotonic()
        messages = await collect(socket, lambda m: sum(x["type"] == "STATE_UPDATE" for x in m) >= 4, timeout=15)
        elapsed = time.monotonic() - started
        updates = [m for m in messages if m["type"] == "STATE_UPDATE"]
        assert len(updates) >= 4
        assert elapsed < 10  # four updates arrive in seconds, not in the tens of seconds
        data = updates[-1]["data"]
        assert set(data) >= STATE_FIELDS
        assert data["mode"] in ("NORMAL", "DEGRADE", "PAUSE", "EXIT")
        assert data["equity"] is not None  # execution's wallet
        stamps = [u["ts_ms"] for u in updates]
        assert stamps == sorted(stamps)


async def test_every_event_type_is_forwarded_and_ping_answers_pong(stack: Stack) -> None:
    redis = make_redis(stack.redis_url)
    publisher = Publisher(redis)
    marker = f"ws-test-{now_ms()}"
    try:
        async with websockets.connect(ws_url(stack)) as socket:
            await collect(socket, lambda m: any(x["type"] == "CONNECTED" for x in m), timeout=5)
            for event_type in FORWARDED:
                await publisher.publish(
                    EVENTS,
                    Event(
                        ts_ms=now_ms(),
                        service="test",
                        event_type=event_type,
                        severity=Severity.WARNING,
                        payload={"marker": marker},
                    ),
                )
            await socket.send(json.dumps({"type": "PING"}))
            wanted = set(FORWARDED) | {"PONG"}

            def seen(messages: list[dict[str, Any]]) -> set[str]:
                return {m["type"] for m in messages if (m.get("data") or {}).get("marker") == marker} | {
                    m["type"] for m in messages if m["type"] == "PONG"
                }

            messages = await collect(socket, lambda m: wanted <= seen(m), timeout=15)
            assert wanted <= seen(messages), wanted - seen(messages)
            forwarded = next(m for m in messages if m["type"] == "TRAP_SPRUNG")
            assert forwarded["service"] == "test"
            assert forwarded["severity"] == "WARNING"
            await socket.send("ping")
            pong = await collect(socket, lambda m: any(x["type"] == "PONG" for x in m), timeout=5)
            assert any(m["type"] == "PONG" for m in pong)
    finally:
        await redis.aclose()


async def test_the_consoles_own_actions_reach_the_socket(stack: Stack) -> None:
    async with websockets.connect(ws_url(stack)) as socket:
        await collect(socket, lambda m: any(x["type"] == "CONNECTED" for x in m), timeout=5)
        response = await asyncio.to_thread(
            httpx.post,
            f"{stack.console}/api/console/master-arm",
            json={"enabled": False, "operator_id": "ws-test"},
            auth=auth_of("operator-1"),
            timeout=30,
        )
        assert response.status_code == 200
        messages = await collect(socket, lambda m: any(x["type"] == "MASTER_ARM_CHANGE" for x in m), timeout=10)
        change = next(m for m in messages if m["type"] == "MASTER_ARM_CHANGE")
        assert change["operator_id"] == "operator-1"
        assert change["data"]["master_arm"] is False


def test_operations_panel_reads_in_the_fixed_order(stack: Stack) -> None:
    body = httpx.get(f"{stack.console}/api/console/operations", auth=auth_of("viewer-1"), timeout=30).json()
    assert body["order"] == ["mode", "alerts", "stage_changes", "storage", "intents", "reconcile", "churn"]
    assert list(body)[1:] == body["order"]
    assert {"mode", "reason_codes", "since_ms"} <= set(body["mode"])
    assert isinstance(body["alerts"], list)
    assert len(body["stage_changes"]) <= 20
    assert {"database", "wal", "disk", "writers"} <= set(body["storage"])
    assert body["storage"]["disk"]["free_bytes"] > 0
    assert body["intents"]["by_state"][0]["state"] == "SENT_UNKNOWN"
    assert [r["state"] for r in body["intents"]["by_state"]][:5] == [
        "SENT_UNKNOWN",
        "CREATED",
        "CONFIRMED",
        "NOT_FOUND",
        "FAILED_TERMINAL",
    ]
    assert "status" in body["reconcile"]
    assert {"window_10s", "window_60s", "near_limit", "top_symbol"} <= set(body["churn"])


async def test_alert_ack_is_recorded_and_does_not_delete(
    stack: Stack, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as session, session.begin():
        alert = Alert(ts_ms=now_ms(), severity="CRITICAL", source="test", alert_type="TEST", message="ack me")
        session.add(alert)
    url = f"{stack.console}/api/console/alerts/{alert.id}/ack"
    viewer = await asyncio.to_thread(httpx.post, url, auth=auth_of("viewer-1"), timeout=30)
    assert viewer.status_code == 403
    acked = (await asyncio.to_thread(httpx.post, url, auth=auth_of("operator-1"), timeout=30)).json()
    assert acked["acknowledged_by"] == "operator-1"
    after = (await asyncio.to_thread(httpx.get, f"{stack.console}/api/console/alerts", timeout=30)).json()["alerts"]
    assert any(a["id"] == alert.id and a["acknowledged_by"] == "operator-1" for a in after)
