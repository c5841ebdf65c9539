"""What execution tells the rest of the system on titan:events: each new fill, the position
it made, the account's equity, and each closed round trip (audited). Brain's NAV and
breaker and the console's live view are built on these."""

from __future__ import annotations

import asyncio
import contextlib
import time
from decimal import Decimal as D
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.execution.conftest import Sim, arm, entry, running_execution
from titan_common.bus import EVENTS, INTENTS, StreamProducer, Subscriber
from titan_common.db.models import AuditEvent
from titan_common.events import EventType, OrderFilled, PositionUpdate, TradeClosed, WalletUpdate, parse_payload
from titan_common.messages import Event, IntentKind, Side

pytestmark = pytest.mark.integration
FAST_POLLS = {"TITAN_WALLET_POLL_S": "0.5", "TITAN_MARK_POLL_S": "0.5"}  # the REST wallet and marks


async def test_fills_positions_wallet_and_closed_trades_are_announced(
    clean_sim: Sim, sessions: async_sessionmaker[AsyncSession], database_url: str, redis_url: str, tmp_path: Path
) -> None:
    async with running_execution(
        clean_sim, database_url, redis_url, tmp_path, redis_db_index=12, **FAST_POLLS
    ) as execution:
        heard: list[Event] = []
        stop = asyncio.Event()
        subscriber = Subscriber(execution.redis, EVENTS)

        async def listen() -> None:
            async for event in subscriber.messages(stop):
                heard.append(event)

        listener = asyncio.create_task(listen())
        await asyncio.wait_for(subscriber.connected.wait(), timeout=5)

        def of_type(event_type: EventType) -> list[Event]:
            return [e for e in heard if e.event_type == event_type]

        async def wait_for(event_type: EventType, count: int = 1) -> None:
            deadline = time.monotonic() + 20
            while len(of_type(event_type)) < count and time.monotonic() < deadline:
                await asyncio.sleep(0.1)

        try:
            await arm(sessions, True)
            producer = StreamProducer(execution.redis, INTENTS)
            opened = entry("ETHUSDT", "0.10", "1")
            await producer.publish(opened)
            await wait_for(EventType.ORDER_FILLED)
            fill = parse_payload(of_type(EventType.ORDER_FILLED)[0])
            assert isinstance(fill, OrderFilled)
            assert (fill.symbol, fill.side, fill.qty, fill.client_order_id) == (
                "ETHUSDT", Side.BUY, D("0.10"), opened.client_order_id,
            )  # fmt: skip
            await wait_for(EventType.POSITION_UPDATE)
            position = parse_payload(of_type(EventType.POSITION_UPDATE)[-1])
            assert isinstance(position, PositionUpdate)
            assert (position.side, position.size) == (Side.BUY, D("0.10"))
            # marked to market: the live PnL reaches the events and GET /positions
            deadline = time.monotonic() + 10
            marked = None
            while marked is None and time.monotonic() < deadline:
                updates = [parse_payload(e) for e in of_type(EventType.POSITION_UPDATE)]
                marked = next((u for u in updates if isinstance(u, PositionUpdate) and u.mark_price), None)
                await asyncio.sleep(0.1)
            assert marked is not None
            assert marked.unrealised_pnl == (marked.mark_price - marked.avg_entry) * marked.size
            listed = httpx.get(execution.url + "/positions", timeout=5).json()["positions"]
            assert listed[0]["markPrice"] is not None
            assert listed[0]["unrealizedPnl"] is not None
            await wait_for(EventType.WALLET_UPDATE)
            wallet = parse_payload(of_type(EventType.WALLET_UPDATE)[-1])
            assert isinstance(wallet, WalletUpdate)
            assert wallet.equity > 0
            body = httpx.get(execution.url + "/wallet", timeout=5).json()
            assert D(body["equity"]) > 0
            assert body["exchange"] == execution.env["TITAN_EXCHANGE"]

            closing = entry("ETHUSDT", "0.10", "1", side=Side.SELL).model_copy(
                update={"kind": IntentKind.EXIT, "reduce_only": True, "stop_loss": None}
            )
            await producer.publish(closing)
            await wait_for(EventType.TRADE_CLOSED)
            trade = parse_payload(of_type(EventType.TRADE_CLOSED)[0])
            assert isinstance(trade, TradeClosed)
            assert (trade.symbol, trade.side, trade.qty) == ("ETHUSDT", Side.BUY, D("0.10"))
            assert trade.fees > 0
            audited = None
            deadline = time.monotonic() + 10  # the audit writer commits in batches
            while audited is None and time.monotonic() < deadline:
                async with sessions() as session:
                    audited = await session.scalar(
                        select(AuditEvent).where(AuditEvent.event_id == of_type(EventType.TRADE_CLOSED)[0].event_id)
                    )
                await asyncio.sleep(0.1)
            assert audited is not None  # a closed trade is a state change: audited, not only broadcast
        finally:
            await arm(sessions, False)
            stop.set()
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
