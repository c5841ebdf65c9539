"""Emergency actions through the console against the live stack: per-item answers,
idempotence, the audit record (operator, request, result, duration), the kill switch in
its fixed order with its confirmation code, PAUSE that survives a console restart, manual
recovery by an admin, and a clear 503 when execution is down."""

from __future__ import annotations

import asyncio
from decimal import Decimal as D
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.console.conftest import auth_of
from tests.integration.console.stack import Stack
from tests.processes import until
from titan_common.bus import CONTROL, Subscriber, make_redis
from titan_common.clock import now_ms
from titan_common.db.models import OperatorAction, SystemFlag
from titan_common.exchanges import PlaceOrder
from titan_common.exchanges.bybit import BybitAdapter, BybitConfig
from titan_common.flags import read_master_arm
from titan_common.messages import Control, ControlCommand, OrderType, Side, client_order_id_for, new_id

pytestmark = pytest.mark.integration


def call(stack: Stack, method: str, path: str, body: dict[str, Any] | None = None, who: str = "operator-1") -> Any:
    return httpx.request(method, f"{stack.console}{path}", json=body, auth=auth_of(who), timeout=90)


async def venue(stack: Stack) -> BybitAdapter:
    return BybitAdapter(BybitConfig(stack.sim, stack.sim_key, stack.sim_secret, timeout_s=10))


async def open_book(stack: Stack, adapter: BybitAdapter) -> None:
    """Two positions and one resting order on the venue."""
    stack.sim_control("POST", "/positions", {"symbol": "BTCUSDT", "side": "Buy", "size": "0.01"})
    stack.sim_control("POST", "/positions", {"symbol": "ETHUSDT", "side": "Sell", "size": "0.1"})
    mark = next(p for p in await adapter.positions() if p.symbol == "BTCUSDT").mark_price
    assert mark is not None
    await adapter.place_order(
        PlaceOrder(
            symbol="BTCUSDT",
            side=Side.BUY,
            qty=D("0.01"),
            client_order_id=client_order_id_for(new_id()),
            order_type=OrderType.LIMIT,
            price=(mark * D("0.8")).quantize(D("0.1")),
        )
    )


async def test_flatten_answers_per_item_is_idempotent_and_audited(
    clean_state: Stack, sessions: async_sessionmaker[AsyncSession]
) -> None:
    stack = clean_state
    adapter = await venue(stack)
    try:
        await open_book(stack, adapter)
        started = now_ms()
        first = await asyncio.to_thread(call, stack, "POST", "/api/console/flatten-all", {"operator_id": "label-x"})
        body = first.json()
        assert first.status_code == 200, body
        assert body["success"] is True
        assert body["positions_closed"] == 2
        assert sorted(r["symbol"] for r in body["results"]) == ["BTCUSDT", "ETHUSDT"]
        assert body["orders_cancelled"] == 1
        assert body["master_arm"] is False
        assert [p for p in await adapter.positions() if p.size > 0] == []
        assert await adapter.open_orders() == []
        again = (await asyncio.to_thread(call, stack, "POST", "/api/emergency/flatten")).json()
        assert again == {**again, "success": True, "positions_closed": 0, "results": []}
        cancel = (await asyncio.to_thread(call, stack, "POST", "/api/console/cancel-all")).json()
        assert cancel == {**cancel, "success": True, "orders_cancelled": 0}
    finally:
        await adapter.close()
    async with sessions() as session:
        rows = (
            await session.scalars(
                select(OperatorAction).where(OperatorAction.ts_ms >= started).order_by(OperatorAction.id)
            )
        ).all()
    console_rows = [r for r in rows if r.action == "CONSOLE_FLATTEN_ALL"]
    assert len(console_rows) == 2
    assert console_rows[0].operator_id == "operator-1"
    assert console_rows[0].request["label"] == "label-x"
    assert console_rows[0].result["positions_closed"] == 2
    assert isinstance(console_rows[0].result["duration_ms"], int)
    assert console_rows[0].success is True
    assert {r.operator_id for r in rows if r.action == "FLATTEN_ALL"} == {"operator-1"}  # execution's own row


async def test_kill_switch_in_order_survives_restart_and_needs_an_admin_to_clear(
    clean_state: Stack, sessions: async_sessionmaker[AsyncSession]
) -> None:
    stack = clean_state
    adapter = await venue(stack)
    redis = make_redis(stack.redis_url)
    stop = asyncio.Event()
    controls: list[Control] = []

    async def listen() -> None:
        async for message in Subscriber(redis, CONTROL).messages(stop):
            controls.append(message)

    listener = asyncio.create_task(listen())
    try:
        await asyncio.sleep(0.5)
        await open_book(stack, adapter)
        armed = await asyncio.to_thread(call, stack, "POST", "/api/console/master-arm", {"enabled": True})
        assert armed.status_code == 200, armed.text

        challenge = await asyncio.to_thread(call, stack, "POST", "/api/console/kill-switch", {})
        assert challenge.status_code == 202
        code = challenge.json()["confirmation_code"]
        assert challenge.json()["steps"] == ["flatten", "cancel_all", "disarm", "pause_scavenger", "pause_system"]
        wrong = await asyncio.to_thread(call, stack, "POST", "/api/console/kill-switch", {"confirmation_code": "XXXX"})
        assert wrong.status_code == 403
        assert wrong.json()["error"]["code"] == "CONFIRMATION_CODE_INVALID"
        stolen = await asyncio.to_thread(
            call, stack, "POST", "/api/console/kill-switch", {"confirmation_code": code}, "admin-1"
        )
        assert stolen.status_code == 403  # a code belongs to the user it was issued to
        # the wrong attempts did not use the code up
        fired = await asyncio.to_thread(call, stack, "POST", "/api/console/kill-switch", {"confirmation_code": code})
        body = fired.json()
        assert fired.status_code == 200, body
        assert [s["step"] for s in body["steps"]] == ["flatten", "cancel_all", "disarm", "pause_scavenger",
                                                      "pause_system"]  # fmt: skip
        assert all(s["success"] for s in body["steps"]), body["steps"]
        assert body["success"] is True
        assert body["mode"] == "PAUSE"
        assert body["positions_closed"] == 2
        assert body["orders_cancelled"] == 1
        assert body["operator_id"] == "operator-1"
        replay = await asyncio.to_thread(call, stack, "POST", "/api/console/kill-switch", {"confirmation_code": code})
        assert replay.status_code == 403  # used once

        assert [p for p in await adapter.positions() if p.size > 0] == []
        assert await adapter.open_orders() == []
        status = httpx.get(f"{stack.console}/api/status", timeout=30).json()
        assert status["mode"] == "PAUSE"
        assert "KILL_SWITCH" in status["reasonCodes"]
        assert status["masterArm"] is False
        assert status["killSwitch"] is True
        await _until(lambda: any(c.command is ControlCommand.KILL_SWITCH for c in controls))
        pause = next(c for c in controls if c.command is ControlCommand.PAUSE)
        kill = next(c for c in controls if c.command is ControlCommand.KILL_SWITCH)
        assert (pause.target, kill.target) == ("scavenger", "all")
        assert controls.index(pause) < controls.index(kill)
        refused = await asyncio.to_thread(call, stack, "POST", "/api/console/master-arm", {"enabled": True}, "admin-1")
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "KILL_SWITCH_ENGAGED"

        async with sessions() as session:
            flag = await session.get(SystemFlag, "kill_switch")
            record = await session.scalar(
                select(OperatorAction).where(OperatorAction.action == "KILL_SWITCH").order_by(OperatorAction.id.desc())
            )
        assert flag is not None
        assert flag.value["engaged"] is True
        assert flag.value["engaged_by"] == "operator-1"
        assert record is not None
        assert record.operator_id == "operator-1"
        assert record.result["duration_ms"] >= 0
        assert record.result["steps"][0]["step"] == "flatten"

        # the scavenger took its PAUSE (if it runs in this stack)
        if stack.up.get("scavenger"):
            await _until(lambda: _reasons(stack, "scavenger") & {"KILL_SWITCH", "OPERATOR_PAUSE"}, timeout=10)

        # a console restart keeps PAUSE / KILL_SWITCH
        await asyncio.to_thread(stack.restart, "console")
        await _until(
            lambda: "KILL_SWITCH" in httpx.get(f"{stack.console}/api/status", timeout=30).json()["reasonCodes"]
        )

        # recovery is manual and needs an admin
        by_operator = await asyncio.to_thread(
            call, stack, "POST", "/api/console/kill-switch/recover", {"reason": "reviewed"}
        )
        assert by_operator.status_code == 403
        no_reason = await asyncio.to_thread(call, stack, "POST", "/api/console/kill-switch/recover", {}, "admin-1")
        assert no_reason.status_code == 422
        cleared = await asyncio.to_thread(
            call, stack, "POST", "/api/console/kill-switch/recover", {"reason": "root cause fixed"}, "admin-1"
        )
        assert cleared.status_code == 200, cleared.text
        assert cleared.json()["kill_switch"] is False
        assert cleared.json()["master_arm"] is False  # re-arming is a separate, deliberate step
        await _until(lambda: any(c.command is ControlCommand.RESUME for c in controls))
        # the console's own reason goes at once; the scavenger's with its next heartbeat
        await _until(lambda: "KILL_SWITCH" not in _status(stack)["reasonCodes"], timeout=15)
        if stack.up.get("scavenger"):
            await _until(lambda: not _reasons(stack, "scavenger") & {"KILL_SWITCH", "OPERATOR_PAUSE"}, timeout=10)
        if _status(stack)["circuitBreaker"].get("active"):
            # closing hand-opened positions at a loss can trip the brain's breaker; resetting it
            # takes a reason, through the console
            reset = await asyncio.to_thread(
                call, stack, "POST", "/api/circuit-breaker/reset", {"reason": "kill switch drill"}
            )
            assert reset.status_code == 200, reset.text
        rearmed = await asyncio.to_thread(call, stack, "POST", "/api/console/master-arm", {"enabled": True})
        assert rearmed.status_code == 200, rearmed.text
    finally:
        stop.set()
        await asyncio.gather(listener, return_exceptions=True)
        await redis.aclose()
        await adapter.close()


async def test_execution_down_is_a_clear_503_and_the_kill_switch_still_pauses(clean_state: Stack) -> None:
    stack = clean_state
    await asyncio.to_thread(stack.stop, "execution")
    try:
        down = await asyncio.to_thread(call, stack, "POST", "/api/console/flatten-all")
        assert down.status_code == 503
        assert down.json() == {
            "error": {"status": 503, "code": "EXECUTION_UNAVAILABLE", "message": down.json()["error"]["message"]}
        }
        # /positions answers from the console's snapshot (at most a second old, and saying how
        # old): once the state loop has found execution gone, it is the same clear 503
        positions = httpx.get(f"{stack.console}/positions", timeout=30)
        for _ in range(50):
            if positions.status_code == 503:
                break
            assert positions.json()["age_ms"] <= 5_000
            await asyncio.sleep(0.1)
            positions = httpx.get(f"{stack.console}/positions", timeout=30)
        assert positions.status_code == 503
        assert positions.json()["error"]["code"] == "EXECUTION_UNAVAILABLE"
        code = (await asyncio.to_thread(call, stack, "POST", "/api/console/kill-switch", {})).json()[
            "confirmation_code"
        ]
        fired = (
            await asyncio.to_thread(call, stack, "POST", "/api/console/kill-switch", {"confirmation_code": code})
        ).json()
        outcome = {s["step"]: s["success"] for s in fired["steps"]}
        assert outcome == {"flatten": False, "cancel_all": False, "disarm": True, "pause_scavenger": True,
                           "pause_system": True}  # fmt: skip
        assert fired["success"] is False
        assert fired["mode"] == "PAUSE"
        health = httpx.get(f"{stack.console}/health", timeout=30)
        assert health.json()["status"] == "unhealthy"
        assert health.json()["services"]["execution"]["status"] == "down"
    finally:
        await asyncio.to_thread(stack.start, "execution")


def _status(stack: Stack) -> dict[str, Any]:
    return dict(httpx.get(f"{stack.console}/api/status", timeout=30).json())


def _reasons(stack: Stack, service: str) -> set[str]:
    try:
        return set(httpx.get(f"{stack.url(service)}/health", timeout=5).json().get("reasons", []))
    except httpx.HTTPError:
        return set()


async def _until(probe: Any, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if await asyncio.to_thread(probe):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"condition not met within {timeout}s")


async def test_a_disarm_execution_did_not_take_lands_there_when_it_returns(
    clean_state: Stack, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Execution is master arm's one writer. With it down, the console's disarm still answers
    and shows master arm off, arming is refused (there is nothing to arm), and the disarm
    is handed to execution as soon as it is back."""
    stack = clean_state
    armed = await asyncio.to_thread(call, stack, "POST", "/api/console/master-arm", {"enabled": True})
    assert armed.status_code == 200, armed.text
    since = now_ms()
    await asyncio.to_thread(stack.stop, "execution")
    try:
        disarmed = await asyncio.to_thread(call, stack, "POST", "/api/console/master-arm", {"enabled": False})
        assert disarmed.status_code == 200, disarmed.text
        assert (disarmed.json()["master_arm"], disarmed.json()["status"]) == (False, "DISARMED")
        shown = await asyncio.to_thread(call, stack, "GET", "/api/console/master-arm")
        assert shown.json()["master_arm"] is False
        async with sessions() as session:
            assert await read_master_arm(session) is True  # its writer is down: not written yet
        refused = await asyncio.to_thread(call, stack, "POST", "/api/console/master-arm", {"enabled": True})
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == "EXECUTION_UNAVAILABLE"
    finally:
        await asyncio.to_thread(stack.start, "execution")

    async def handed_over() -> OperatorAction | None:
        async with sessions() as session:
            if await read_master_arm(session):
                return None
            return await session.scalar(
                select(OperatorAction)
                .where(OperatorAction.action == "MASTER_ARM", OperatorAction.ts_ms >= since)
                .order_by(OperatorAction.id.desc())
            )

    record = await until(handed_over, timeout=30, what="the disarm written by execution")
    assert record.operator_id == "operator-1"
    assert record.result["master_arm"] is False
