"""A paper-trading day in one command, as the README walks through it: the stack comes up
NORMAL and disarmed; the operator arms with the README's curl line; a momentum burst on
the simulator springs a trap; the brain approves; execution trades with Titan's
orderLinkId and a stop; the console shows the position with its stop; FLATTEN ALL takes
everything back to zero.

The burst is forced through a live trap (the demo bursts of `make run` are random)."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.e2e.stack import ADMIN, Stack, running_stack, wait_until
from titan_common.exchanges.bybit import BybitAdapter, BybitConfig

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


@pytest.fixture(scope="module")
def stack(postgres_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(
        postgres_server_url,
        tmp_path_factory.mktemp("paperday"),
        TITAN_SIM_DEMO_BURSTS="false",
    ) as running:
        yield running


def console(stack: Stack, path: str) -> Any:
    response = httpx.get(stack.url("console") + path, timeout=10)
    response.raise_for_status()
    return response.json()


def whitelisted_trap(stack: Stack, tried: set[str]) -> dict[str, Any] | None:
    whitelist = set(console(stack, "/api/console/config")["asset_whitelist"])
    traps = httpx.get(stack.url("scavenger") + "/traps", timeout=10).json()["traps"]
    candidates = [
        t
        for t in traps
        if t["symbol"] in whitelist
        and t["symbol"] not in tried
        and t["distance_pct"] is not None
        and 0.2 <= abs(float(t["distance_pct"])) <= 2.8
        and t["cooldown_until_ms"] is None
    ]
    return min(candidates, key=lambda t: abs(float(t["distance_pct"]))) if candidates else None


@pytest.mark.timeout(600)
def test_arm_burst_order_protected_position_flatten_zero(stack: Stack) -> None:
    # within 60 s of start: NORMAL and disarmed, as the console shows it
    status = wait_until(
        lambda: (s := console(stack, "/api/status"))["mode"] == "NORMAL" and s, 60, "the console to show NORMAL"
    )
    assert status["masterArm"] is False

    # the README's line, host and port changed
    armed = subprocess.run(
        [
            "curl", "-s", "-u", "admin:password", "-X", "POST",
            stack.url("console") + "/api/console/master-arm",
            "-H", "Content-Type: application/json", "-d", '{"enabled":true,"operator_id":"ops"}',
        ],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    assert '"master_arm":true' in armed.stdout.replace(" ", ""), armed.stdout
    assert console(stack, "/api/status")["masterArm"] is True

    # a burst through a live trap springs it; the brain approves; execution trades
    tried: set[str] = set()
    order = None
    for _attempt in range(4):
        trap = wait_until(lambda: whitelisted_trap(stack, tried), 90, "a whitelisted trap near price")
        tried.add(trap["symbol"])
        distance = float(trap["distance_pct"])
        stack.sim(
            "POST",
            f"/sim/market/{trap['symbol']}/burst",
            {"pct": distance + (0.3 if distance > 0 else -0.3), "trades": 60, "window_ms": 20},
        )
        try:
            order = wait_until(
                lambda: next(
                    (
                        row
                        for row in stack.sim("GET", "/sim/orders")["list"]
                        if row["retCode"] == 0 and row["orderLinkId"].startswith("t-")
                    ),
                    None,
                ),
                20,
                f"an order for the trap on {trap['symbol']}",
            )
            break
        except AssertionError:
            decisions = httpx.get(stack.url("brain") + "/decisions?limit=5", timeout=5).json()
            print(f"no order after the burst on {trap['symbol']}; brain decisions: {decisions}")
    assert order is not None, "no burst led to an order"

    # the position, with its stop, in the console
    positions = wait_until(
        lambda: (p := console(stack, "/positions"))["count"] >= 1 and p, 30, "the position in the console"
    )
    position = positions["positions"][0]
    assert position["symbol"] == order["symbol"]
    assert position["stopLoss"] is not None
    entry, stop = Decimal(position["entryPrice"]), Decimal(position["stopLoss"])
    assert stop < entry if position["side"] == "Buy" else stop > entry
    assert console(stack, "/api/state/positions")["count"] == positions["count"]
    # PnL moves: marked to market from the exchange
    wait_until(
        lambda: console(stack, "/positions")["positions"][0]["unrealizedPnl"] not in (None, "0"),
        30,
        "live unrealised PnL",
    )

    # FLATTEN ALL: everything closed, nothing left on the exchange
    flattened = httpx.post(stack.url("console") + "/api/emergency/flatten", auth=ADMIN, timeout=60).json()
    assert flattened["success"] is True
    assert flattened["positions_closed"] >= 1
    assert all(item["success"] for item in flattened["results"])
    wait_until(lambda: console(stack, "/positions")["count"] == 0, 30, "the console to show no positions")
    creds = stack.sim_credentials()

    async def open_on_exchange() -> int:
        adapter = BybitAdapter(BybitConfig(stack.url("simulator"), creds["api_key"], creds["api_secret"]))
        try:
            return sum(1 for p in await adapter.positions() if p.size > 0)
        finally:
            await adapter.close()

    deadline = time.monotonic() + 30
    while asyncio.run(open_on_exchange()) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert asyncio.run(open_on_exchange()) == 0
    assert console(stack, "/api/status")["masterArm"] is False  # flatten all disarms
