"""Titan on MEXC spot, end to end through a real execution process: the simulator's MEXC face
over HTTP, the MEXC adapter on unmodified ccxt, real Postgres and Redis.

An entry intent for `mexc` becomes one order with Titan's client id, a fill and Titan's own
inventory (coins the account held before are not Titan's); the venue has no stop orders,
so Titan keeps the stop: a burst through it makes execution exit through an EXIT intent.
Every step is audited. A stale price feed is API_LAG (DEGRADE)."""

from __future__ import annotations

import time
import uuid
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.execution.conftest import Sim, arm, entry, mexc_env, running_execution, until
from titan_common.auth.tokens import TOKEN_HEADER
from titan_common.bus import INTENTS, StreamProducer
from titan_common.db.models import Alert, AuditEvent, OrderIntentRow
from titan_common.exchanges.mexc import MexcAdapter, MexcConfig
from titan_common.messages import IntentState
from titan_common.reasons import ReasonCode
from titan_common.settings import DEFAULT_INTERNAL_TOKEN
from titan_execution.runtime.engine import EngineConfig, ExecutionEngine

pytestmark = pytest.mark.integration
SYMBOL = "BTCUSDT"


async def intent_row(sessions: async_sessionmaker[AsyncSession], intent_id: str) -> OrderIntentRow | None:
    async with sessions() as session:
        return await session.get(OrderIntentRow, intent_id)


async def test_an_entry_on_mexc_fills_into_titans_inventory_and_its_titan_side_stop_exits(
    clean_sim: Sim, sessions: async_sessionmaker[AsyncSession], database_url: str, redis_url: str, tmp_path: Path
) -> None:
    # the account held 2 BTC before Titan: they are not Titan's position
    clean_sim.control("POST", "/mexc/balance", {"asset": "BTC", "free": "2"})
    adapter = MexcAdapter(MexcConfig(clean_sim.mexc_url, clean_sim.mexc_api_key, clean_sim.mexc_api_secret))
    try:
        async with running_execution(
            clean_sim, database_url, redis_url, tmp_path, redis_db_index=9, **mexc_env(clean_sim)
        ) as execution:
            account = execution.env["TITAN_EXCHANGE"]
            health = httpx.get(f"{execution.url}/health", timeout=5).json()
            exchange = health["checks"]["exchange"]
            assert (exchange["venue"], exchange["feed"], exchange["stops"]) == ("mexc", "rest-poll", "titan")
            # the startup reconcile found no position: the 2 BTC held before are not Titan's
            positions = httpx.get(f"{execution.url}/positions", timeout=5).json()
            assert [p for p in positions["positions"] if p["symbol"] == SYMBOL] == []

            await arm(sessions, True)
            price = await adapter.last_price(SYMBOL)
            stop = (price * D("0.99")).quantize(D("0.1"))
            intent = entry(SYMBOL, "0.010", str(stop), reference=price).model_copy(update={"exchange": "mexc"})
            bybit_intent = entry(SYMBOL, "0.010", "1000")  # another venue's: this execution leaves it alone
            producer = StreamProducer(execution.redis, INTENTS)
            await producer.publish(bybit_intent)
            await producer.publish(intent)

            async def filled() -> OrderIntentRow | None:
                row = await intent_row(sessions, intent.intent_id)
                return row if row is not None and row.state == "FILLED" else None

            row = await until(filled, what="the MEXC entry FILLED")
            assert row.exchange == account
            assert clean_sim.mexc_orders_for(intent.client_order_id) == 1  # one order, Titan's client id
            assert await intent_row(sessions, bybit_intent.intent_id) is None  # not this venue's

            async def position() -> dict[str, Any] | None:
                body = httpx.get(f"{execution.url}/positions", timeout=5).json()
                found = [p for p in body["positions"] if p["symbol"] == SYMBOL]
                return found[0] if found and found[0].get("stopLoss") is not None else None

            held = await until(position, what="Titan's inventory with its stop")
            # the taker fee was taken in BTC: Titan holds 0.010 less the fee, not the 2 BTC before
            assert D(held["size"]) == D("0.010") * (1 - D("0.0005"))
            assert D(held["stopLoss"]) == stop
            assert held["side"] == "Buy"

            # a burst through the stop: Titan's own stop sends an exit through the one door
            clean_sim.control("POST", f"/market/{SYMBOL}/burst", {"pct": -3.0, "trades": 50, "window_ms": 500})

            async def flat() -> bool:
                body = httpx.get(f"{execution.url}/positions", timeout=5).json()
                return not [p for p in body["positions"] if p["symbol"] == SYMBOL]

            await until(flat, what="the position closed by Titan's stop")

            async def exits_filled() -> list[OrderIntentRow]:
                # no private stream on MEXC: FILLED comes from the order's next REST lookup
                async with sessions() as session:
                    rows = (
                        await session.scalars(
                            select(OrderIntentRow).where(
                                OrderIntentRow.exchange == account,
                                OrderIntentRow.kind == "EXIT",
                                OrderIntentRow.symbol == SYMBOL,
                            )
                        )
                    ).all()
                return list(rows) if rows and all(r.state == "FILLED" for r in rows) else []

            exits = await until(exits_filled, what="the exit FILLED")
            async with sessions() as session:
                sends = (
                    await session.scalars(
                        select(AuditEvent).where(
                            AuditEvent.event_type == "ORDER_SEND",
                            AuditEvent.order_intent_id.in_([intent.intent_id, *(e.intent_id for e in exits)]),
                        )
                    )
                ).all()
            assert len(exits) == 1  # exactly one exit, never a second
            assert clean_sim.mexc_orders_for(exits[0].client_order_id) == 1
            assert sorted(str(s.payload.get("origin", "ENTRY")) for s in sends) == ["ENTRY", "TITAN_STOP"]
            # the coins held before are still there: Titan sold only its own
            balances = await adapter.balances()
            assert D(2) <= balances["BTC"] < D("2.0001")
    finally:
        await arm(sessions, False)
        await adapter.close()


async def test_a_stale_price_feed_is_api_lag_and_alerts_while_a_position_is_open(
    clean_sim: Sim, sessions: async_sessionmaker[AsyncSession], database_url: str, redis_url: str, tmp_path: Path
) -> None:
    adapter = MexcAdapter(MexcConfig(clean_sim.mexc_url, clean_sim.mexc_api_key, clean_sim.mexc_api_secret))
    try:
        async with running_execution(
            clean_sim, database_url, redis_url, tmp_path, redis_db_index=9, **mexc_env(clean_sim)
        ) as execution:
            await arm(sessions, True)
            price = await adapter.last_price(SYMBOL)
            intent = entry(SYMBOL, "0.010", str((price * D("0.9")).quantize(D("0.01"))), reference=price)
            await StreamProducer(execution.redis, INTENTS).publish(intent.model_copy(update={"exchange": "mexc"}))

            async def filled() -> bool:
                row = await intent_row(sessions, intent.intent_id)
                return row is not None and row.state == "FILLED"

            await until(filled, what="the entry FILLED")
            started = int(time.time() * 1000)
            # the face stops answering: the price feed goes stale
            clean_sim.control("POST", "/faces/mexc", {"serving": False})

            def health() -> dict[str, Any]:
                return dict(httpx.get(f"{execution.url}/health", timeout=5).json())

            async def lagging() -> dict[str, Any] | None:
                body = health()
                return body if "API_LAG" in body["reasons"] else None

            body = await until(lagging, what="API_LAG")
            assert body["mode"] == "DEGRADE"  # no new entries
            assert body["checks"]["exchange"]["price_stale"] is True

            async def alerted() -> Alert | None:
                async with sessions() as session:
                    return await session.scalar(
                        select(Alert).where(Alert.alert_type == "API_LAG", Alert.ts_ms >= started)
                    )

            alert = await until(alerted, what="an API_LAG alert for the open position")
            assert SYMBOL in alert.message
            clean_sim.control("POST", "/faces/mexc", {"serving": True})

            async def recovered() -> bool:
                return "API_LAG" not in health()["reasons"]

            await until(recovered, what="API_LAG cleared once prices flow again")
            # close the position so the next test starts flat
            await arm(sessions, False)
            flattened = httpx.post(
                f"{execution.url}/positions/flatten", headers={TOKEN_HEADER: DEFAULT_INTERNAL_TOKEN}, timeout=30
            )
            assert flattened.status_code == 200, flattened.text
            # flatten closes Titan's MEXC inventory (a spot venue reports no positions of its own)
            assert (flattened.json()["success"], flattened.json()["positions_closed"]) == (True, 1)
    finally:
        clean_sim.control("POST", "/faces/mexc", {"serving": True})
        await arm(sessions, False)
        await adapter.close()


async def test_an_order_titans_own_limiter_holds_back_never_leaves_and_is_failed_terminal_at_once(
    clean_sim: Sim, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """MEXC answered 429 with Retry-After: the endpoint is blocked. An entry in that window is
    refused by Titan's own limiter before anything leaves the process (NotSent): its intent is
    FAILED_TERMINAL at once with RATE_LIMIT and an ORDER_NOT_SENT audit row; it is never looked
    up and never resent, and the face never saw a request for it."""
    adapter = MexcAdapter(MexcConfig(clean_sim.mexc_url, clean_sim.mexc_api_key, clean_sim.mexc_api_secret))
    engine = ExecutionEngine(
        config=EngineConfig(exchange=f"mexc-{uuid.uuid4().hex[:8]}", run_id="not-sent", spot=True, venue="mexc"),
        sessions=sessions,
        adapter=adapter,
    )
    try:
        await engine.load()
        await arm(sessions, True)
        price = await adapter.last_price(SYMBOL)
        stop = str((price * D("0.9")).quantize(D("0.1")))
        refused_by_venue = entry(SYMBOL, "0.010", stop, reference=price).model_copy(update={"exchange": "mexc"})
        held_back = entry(SYMBOL, "0.010", stop, reference=price).model_copy(update={"exchange": "mexc"})
        clean_sim.control("POST", "/faults", {"venue": "mexc", "fail_paths": ["/api/v3/order"], "http_status": 429})

        first = await engine.handle_intent(refused_by_venue)  # the venue's 429 (Retry-After: 5)
        assert first.state is not IntentState.FILLED
        sent_before = clean_sim.control("GET", "/health")["faces"]["mexc"]["requests"]  # type: ignore[index]
        second = await engine.handle_intent(held_back)

        assert second.state is IntentState.FAILED_TERMINAL
        assert second.reasons == [ReasonCode.RATE_LIMIT]
        row = await intent_row(sessions, held_back.intent_id)
        assert row is not None
        assert row.state == "FAILED_TERMINAL"
        async with sessions() as session:
            audited = (
                await session.scalars(
                    select(AuditEvent.event_type).where(AuditEvent.order_intent_id == held_back.intent_id)
                )
            ).all()
        assert "ORDER_NOT_SENT" in audited
        # the only request since is the entry's price check: no POST /order left the process
        sent_after = clean_sim.control("GET", "/health")["faces"]["mexc"]["requests"]  # type: ignore[index]
        assert int(sent_after) - int(sent_before) <= 1  # type: ignore[call-overload]
        assert clean_sim.mexc_orders_for(held_back.client_order_id) == 0
    finally:
        clean_sim.control("DELETE", "/faults?venue=mexc")
        await adapter.close()
