"""One door: every order Titan sends, of every kind, goes through the engine's intent path.

A real execution process trades against the simulator. Each kind of order is driven the
way it arises in production: an entry and an AI-gate exit on `titan:intents` (the exit built
as the brain builds it), an operator's close of one symbol and a flatten over HTTP, and the
protective close after a stop that cannot be set. Afterwards every order the simulator
received from Titan carries a unique Titan orderLinkId, and each one has its write-ahead
intent row and its ORDER_SEND audit row.
"""

from __future__ import annotations

import asyncio
import re
import time
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.execution.conftest import Sim, arm, entry, running_execution
from titan_common.auth.tokens import OPERATOR_HEADER, TOKEN_HEADER
from titan_common.bus import INTENTS, StreamProducer
from titan_common.db.models import AuditEvent, OrderIntentRow
from titan_common.exchanges import OrderStatus
from titan_common.messages import Correlation, Side, exit_intent
from titan_common.settings import DEFAULT_INTERNAL_TOKEN

pytestmark = pytest.mark.integration
TITAN_LINK = re.compile(r"^t-[A-Za-z0-9_-]{1,34}$")
HEADERS = {TOKEN_HEADER: DEFAULT_INTERNAL_TOKEN, OPERATOR_HEADER: "ops-door"}


async def wait_until(probe: Any, timeout: float = 20.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await probe()
        if value:
            return value
        await asyncio.sleep(0.2)
    raise AssertionError(f"never: {what}")


async def test_every_kind_of_order_goes_through_the_one_door(
    clean_sim: Sim, sessions: async_sessionmaker[AsyncSession], database_url: str, redis_url: str, tmp_path: Path
) -> None:
    async with running_execution(clean_sim, database_url, redis_url, tmp_path, redis_db_index=13) as execution:
        await arm(sessions, True)
        try:
            producer = StreamProducer(execution.redis, INTENTS)
            positions = lambda: httpx.get(f"{execution.url}/positions", timeout=5).json()  # noqa: E731

            async def open_on(symbol: str) -> dict[str, Any]:
                async def found() -> dict[str, Any] | None:
                    return next((p for p in positions()["positions"] if p["symbol"] == symbol), None)

                return await wait_until(found, what=f"{symbol} open")

            async def flat(symbol: str) -> bool:
                return all(p["symbol"] != symbol for p in positions()["positions"])

            # 1. entries, as the brain sends them
            for symbol, qty in (("BTCUSDT", "0.010"), ("ETHUSDT", "0.10"), ("SOLUSDT", "1"), ("XRPUSDT", "10")):
                await producer.publish(entry(symbol, qty, "0.01", run_id="door-test"))
            for symbol in ("BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"):
                await open_on(symbol)
            # 2. the AI gate's exit, built and sent as the brain does
            btc = await open_on("BTCUSDT")
            await producer.publish(
                exit_intent("BTCUSDT", Side(btc["side"]), D(btc["size"]), correlation=Correlation(run_id="door-test"),
                            origin="AIGATE_EXIT", operator_id="brain-aigate", ts_ms=int(time.time() * 1000))
            )  # fmt: skip
            await wait_until(lambda: flat("BTCUSDT"), what="the AI-gate exit filled")
            # 3. an operator closes one symbol
            closed = httpx.post(f"{execution.url}/positions/ETHUSDT/close", headers=HEADERS, timeout=30)
            assert closed.status_code == 200, closed.text
            assert closed.json()["success"] is True
            await wait_until(lambda: flat("ETHUSDT"), what="the operator close filled")
            # 4. a position whose stop cannot be set is closed for protection
            clean_sim.control("POST", "/faults", {"fail_paths": ["/v5/position/trading-stop"]})
            clean_sim.control("POST", "/positions", {"symbol": "BNBUSDT", "side": "Buy", "size": "0.10"})

            async def protective_close_sent() -> bool:
                received = clean_sim.control("GET", "/orders")["list"]
                return any(o["symbol"] == "BNBUSDT" and o["source"] != "manual" for o in received)  # type: ignore[union-attr]

            await wait_until(protective_close_sent, timeout=30, what="the protective close")
            await wait_until(lambda: flat("BNBUSDT"), what="the protective close filled")
            clean_sim.control("DELETE", "/faults")
            # 5. flatten the rest
            flattened = httpx.post(f"{execution.url}/positions/flatten", headers=HEADERS, timeout=30)
            assert flattened.status_code == 200, flattened.text
            assert flattened.json()["success"] is True
            for symbol in ("SOLUSDT", "XRPUSDT"):
                await wait_until(lambda symbol=symbol: flat(symbol), what=f"{symbol} flattened")
            # what execution shows of it: its own account's rows, in Titan's words
            account = execution.env["TITAN_EXCHANGE"]
            shown = httpx.get(f"{execution.url}/orders", params={"open_only": False, "limit": 100}, timeout=10).json()
            assert shown["count"] >= 1
            assert {o["exchange"] for o in shown["orders"]} == {account}
            assert {o["status"] for o in shown["orders"]} <= {s.value for s in OrderStatus}

            async def trades_shown() -> dict[str, Any] | None:
                body = httpx.get(f"{execution.url}/trades", timeout=10).json()
                return body if body["count"] >= 4 else None

            closed = await wait_until(trades_shown, what="the round trips on /trades")
            assert {t["exchange"] for t in closed["trades"]} == {account}
            assert all(D(t["qty"]) > 0 and D(t["entryPrice"]) > 0 for t in closed["trades"])
        finally:
            await arm(sessions, False)

    received = clean_sim.control("GET", "/orders")["list"]
    ours = [order for order in received if order["source"] != "manual"]  # BNB was opened by hand
    links = [order["orderLinkId"] for order in ours]
    assert all(TITAN_LINK.match(link) for link in links), links
    assert len(links) == len(set(links))  # unique: nothing sent twice
    assert len(ours) >= 7  # 4 entries, the AI-gate exit, the close, the protective close, 2 flattens
    async with sessions() as session:
        rows = {
            row.client_order_id: row
            for row in await session.scalars(select(OrderIntentRow).where(OrderIntentRow.client_order_id.in_(links)))
        }
        sends = set(
            await session.scalars(
                select(AuditEvent.payload["client_order_id"].astext).where(AuditEvent.event_type == "ORDER_SEND")
            )
        )
    assert set(rows) == set(links)  # a write-ahead row for every order
    assert set(links) <= sends  # and its audit row
    kinds = {(rows[link].kind, order["symbol"]) for link, order in zip(links, ours, strict=True)}
    assert {("ENTRY", "BTCUSDT"), ("EXIT", "BTCUSDT"), ("EXIT", "ETHUSDT"), ("EXIT", "BNBUSDT"),
            ("EXIT", "SOLUSDT"), ("EXIT", "XRPUSDT")} <= kinds  # fmt: skip
