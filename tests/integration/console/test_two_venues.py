"""Both venues at once, through the console: a stack that trades the simulator's Bybit face and
its MEXC spot face, one execution process each (real processes, real Postgres and Redis).

- /health lists both exchanges (connected, ready, last reconcile), /api/status says
  bybitConnected and mexcConnected, /positions names each position's venue;
- FLATTEN ALL closes the positions on both venues and reports per venue;
- with the MEXC face stopped, MEXC shows connected: false while Bybit keeps trading;
- a scavenger's signal for MEXC becomes, through the brain, Titan's order on the MEXC face
  (leverage 1, Titan's client id, a fill, a position), and a short there is vetoed
  (VENUE_NO_SHORT).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from decimal import ROUND_DOWN
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.integration.console.conftest import ACCOUNTS, auth_of, create_accounts
from tests.integration.console.stack import ADMIN, SYMBOL, Stack, entry, last_price, publish, running_stack
from titan_common.auth.roles import Role
from titan_common.bus import SIGNALS, make_redis
from titan_common.clock import now_ms
from titan_common.db.engine import make_engine, make_sessionmaker
from titan_common.db.models import DecisionRow
from titan_common.heartbeats import read_beats
from titan_common.messages import Correlation, Side, Signal, new_id

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def two_venues(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("two-venues")
    with running_stack(root, database_url, venues=("bybit", "mexc")) as live:
        asyncio.run(create_accounts(database_url, {ADMIN[0]: (ADMIN[1], Role.ADMIN), **ACCOUNTS}))
        yield live


def call(stack: Stack, method: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
    return httpx.request(method, f"{stack.console}{path}", json=body, auth=auth_of("operator-1"), timeout=90)


def wait_for(probe: Any, *, timeout: float = 45.0, what: str) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.3)
    raise AssertionError(f"{what} not met within {timeout}s (last: {last!r})")


def positions_by_venue(stack: Stack) -> dict[str, str]:
    body = call(stack, "GET", "/positions").json()
    return {p["venue"]: p["size"] for p in body["positions"] if p["symbol"] == SYMBOL}


def test_both_venues_trade_flatten_together_and_one_down_never_stops_the_other(two_venues: Stack) -> None:
    stack = two_venues
    health = httpx.get(f"{stack.console}/health", timeout=30).json()
    assert set(health["exchanges"]) == {"bybit", "mexc"}
    for venue in ("bybit", "mexc"):
        assert {"connected", "ready", "last_reconcile"} <= set(health["exchanges"][venue])
    assert health["exchanges"]["mexc"]["feed"] == "rest-poll"
    assert {"execution", "execution-mexc"} <= set(health["services"])
    status = call(stack, "GET", "/api/status").json()
    assert (status["bybitConnected"], status["mexcConnected"]) == (True, True)

    armed = call(stack, "POST", "/api/console/master-arm", {"enabled": True, "operator_id": "operator-1"})
    assert armed.status_code == 200, armed.text
    try:
        publish(stack, entry("bybit", last_price(stack, "bybit")))
        publish(stack, entry("mexc", last_price(stack, "mexc")))

        def on_both() -> dict[str, str] | None:
            held = positions_by_venue(stack)
            return held if len(held) == 2 else None

        held = wait_for(on_both, what="a position on each venue")
        assert D(held["bybit"]) == D("0.010")
        assert D(held["mexc"]) == D("0.010") * (1 - D("0.0005"))  # MEXC's fee is taken in BTC

        flattened = call(stack, "POST", "/api/console/flatten-all", {"operator_id": "operator-1"})
        assert flattened.status_code == 200, flattened.text
        answer = flattened.json()
        assert answer["success"] is True
        assert answer["positions_closed"] == 2
        assert {v: r["positions_closed"] for v, r in answer["venues"].items()} == {"bybit": 1, "mexc": 1}
        assert [r["symbol"] for r in answer["venues"]["mexc"]["results"]] == [SYMBOL]
        assert answer["results"] == [{"symbol": SYMBOL, "success": True}] * 2  # the manual's shape
        wait_for(lambda: positions_by_venue(stack) == {}, what="both venues flat")

        # the MEXC face goes away: MEXC shows disconnected, Bybit trades on
        stack.sim_control("POST", "/faces/mexc", {"serving": False})

        def mexc_down() -> dict[str, Any] | None:
            body = httpx.get(f"{stack.console}/health", timeout=30).json()
            return body if body["exchanges"]["mexc"]["connected"] is False else None

        down = wait_for(mexc_down, what="MEXC disconnected")
        assert down["exchanges"]["bybit"]["connected"] is True
        status = call(stack, "GET", "/api/status").json()
        assert (status["bybitConnected"], status["mexcConnected"]) == (True, False)
        rearmed = call(stack, "POST", "/api/console/master-arm", {"enabled": True, "operator_id": "operator-1"})
        assert rearmed.status_code == 200, rearmed.text
        publish(stack, entry("bybit", last_price(stack, "bybit")))
        wait_for(lambda: "bybit" in positions_by_venue(stack), what="a Bybit entry while MEXC is down")
    finally:
        stack.sim_control("POST", "/faces/mexc", {"serving": True})
        call(stack, "POST", "/api/console/flatten-all", {"operator_id": "operator-1"})
        call(stack, "POST", "/api/console/master-arm", {"enabled": False, "operator_id": "operator-1"})


def test_closing_a_symbol_on_one_venue_leaves_the_other_venues_position(two_venues: Stack) -> None:
    """The positions table's Close button names its row's venue: BTCUSDT held on both venues,
    closed on MEXC alone, is still held on Bybit. Without a venue the close covers every venue."""
    stack = two_venues
    # the test before closed three round trips, each a loss of its fees: the breaker may have tripped
    reset = call(stack, "POST", "/api/circuit-breaker/reset", {"reason": "two-venue test: a fresh start"})
    assert reset.status_code == 200, reset.text
    wait_for(lambda: call(stack, "GET", "/api/status").json()["mexcConnected"] is True, what="MEXC connected")
    armed = call(stack, "POST", "/api/console/master-arm", {"enabled": True, "operator_id": "operator-1"})
    assert armed.status_code == 200, armed.text
    try:
        publish(stack, entry("bybit", last_price(stack, "bybit")))
        publish(stack, entry("mexc", last_price(stack, "mexc")))
        wait_for(lambda: len(positions_by_venue(stack)) == 2, what="a position on each venue")
        closed = call(stack, "POST", f"/api/console/positions/{SYMBOL}/close?venue=mexc", {"operator_id": "operator-1"})
        assert closed.status_code == 200, closed.text
        assert set(closed.json()["venues"]) == {"mexc"}
        wait_for(lambda: set(positions_by_venue(stack)) == {"bybit"}, what="MEXC flat, Bybit still held")
        unknown = call(
            stack, "POST", f"/api/console/positions/{SYMBOL}/close?venue=kraken", {"operator_id": "operator-1"}
        )
        assert unknown.status_code == 422
        assert unknown.json()["error"]["code"] == "UNKNOWN_VENUE"
        assert set(positions_by_venue(stack)) == {"bybit"}
    finally:
        call(stack, "POST", "/api/console/flatten-all", {"operator_id": "operator-1"})
        call(stack, "POST", "/api/console/master-arm", {"enabled": False, "operator_id": "operator-1"})


def test_a_console_flatten_with_one_venue_down_says_which(two_venues: Stack, tmp_path: Path) -> None:
    stack = two_venues
    stack.stop("execution-mexc")
    try:
        flattened = call(stack, "POST", "/api/console/flatten-all", {"operator_id": "operator-1"})
        assert flattened.status_code == 200, flattened.text
        answer = flattened.json()
        assert answer["success"] is False  # one venue could not be asked
        assert answer["venues"]["bybit"]["success"] is True
        assert answer["venues"]["mexc"]["success"] is False
        assert "EXECUTION-MEXC_UNAVAILABLE" in answer["venues"]["mexc"]["error"]
    finally:
        stack.start("execution-mexc")


def signal_for(venue: str, side: Side, price: D) -> Signal:
    """A scavenger's signal on `venue`: a 2% stop, a 6% target."""
    signal_id = new_id()
    away = D("0.98") if side is Side.BUY else D("1.02")
    target = D("1.06") if side is Side.BUY else D("0.94")
    return Signal(
        signal_id=signal_id,
        ts_ms=now_ms(),
        correlation=Correlation(run_id="two-venues", signal_id=signal_id),
        source="scavenger",
        exchange=venue,
        symbol=SYMBOL,
        side=side,
        trap_type="LIQUIDATION",
        entry_price=price,
        entry_low=price,
        entry_high=price,
        stop_loss=(price * away).quantize(D("0.1")),
        take_profits=((price * target).quantize(D("0.1")),),
        confidence=D("0.8"),
        ttl_ms=30_000,
    )


def decision_of(stack: Stack, signal_id: str) -> DecisionRow | None:
    async def read() -> DecisionRow | None:
        engine = make_engine(stack.database_url, pool_size=1)
        try:
            async with make_sessionmaker(engine)() as session:
                return await session.scalar(select(DecisionRow).where(DecisionRow.signal_id == signal_id))
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_a_signal_for_mexc_becomes_titans_order_there_and_a_short_is_vetoed(two_venues: Stack) -> None:
    stack = two_venues
    if not stack.up.get("brain"):
        pytest.fail(f"the brain did not start; see {stack.root / 'brain.log'}")
    # the round trips of the tests before (each a loss of its fees) may have tripped the breaker
    reset = call(stack, "POST", "/api/circuit-breaker/reset", {"reason": "two-venue test: a fresh start"})
    assert reset.status_code == 200, reset.text
    # what gates a MEXC entry, as the brain reads it: the heartbeats of MEXC's own scavenger,
    # the console and MEXC's own execution (just restarted by the test before)
    gates = ("scavenger-mexc", "console", "execution-mexc")

    def gates_normal() -> dict[str, Any] | None:
        async def read() -> dict[str, Any]:
            redis = make_redis(stack.redis_url)
            try:
                return await read_beats(redis, gates)
            finally:
                await redis.aclose()

        beats = asyncio.run(read())
        return beats if all(beat and beat["mode"] == "NORMAL" for beat in beats.values()) else None

    wait_for(gates_normal, timeout=60, what="the heartbeats that gate MEXC entries NORMAL")
    armed = call(stack, "POST", "/api/console/master-arm", {"enabled": True, "operator_id": "operator-1"})
    assert armed.status_code == 200, armed.text
    try:
        short = signal_for("mexc", Side.SELL, last_price(stack, "mexc"))
        publish(stack, short, SIGNALS)
        vetoed = wait_for(lambda: decision_of(stack, short.signal_id), what="the short's decision")
        assert (vetoed.verdict, vetoed.reasons) == ("VETO", ["VENUE_NO_SHORT"]), vetoed.payload

        buy = signal_for("mexc", Side.BUY, last_price(stack, "mexc"))
        publish(stack, buy, SIGNALS)
        approved = wait_for(lambda: decision_of(stack, buy.signal_id), what="the buy's decision")
        assert approved.verdict == "APPROVE", approved.reasons
        assert approved.leverage == 1  # spot
        intent = approved.payload["intent"]
        assert intent["exchange"] == "mexc"
        assert intent["client_order_id"].startswith("t-")
        held = wait_for(lambda: positions_by_venue(stack).get("mexc"), what="Titan's MEXC position")
        # fitted to the face's 0.000001 BTC step; the fee is taken in BTC: Titan holds the rest
        bought = D(approved.qty).quantize(D("0.000001"), rounding=ROUND_DOWN)
        assert D(held) == bought * (1 - D("0.0005"))
        orders = httpx.get(
            f"http://127.0.0.1:{stack.ports['simulator']}/sim/orders",
            params={"venue": "mexc", "clientOrderId": intent["client_order_id"]},
            timeout=10,
        ).json()
        assert orders["count"] == 1
    finally:
        call(stack, "POST", "/api/console/flatten-all", {"operator_id": "operator-1"})
        call(stack, "POST", "/api/console/master-arm", {"enabled": False, "operator_id": "operator-1"})
        wait_for(lambda: positions_by_venue(stack) == {}, what="both venues flat")
