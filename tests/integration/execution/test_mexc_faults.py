"""MEXC spot under faults, through real execution processes against the simulator's MEXC face
(over HTTP, the MEXC adapter on unmodified ccxt), with real Postgres and Redis.

What is proved:
- a lost answer to POST /api/v3/order (the face executes the order and never answers) leaves
  the intent SENT_UNKNOWN; it is resolved by looking the order up by its client id, never
  resent: it ends FILLED with exactly one order on the face, one fill row and one ORDER_SEND;
- a storm of 429s from the MEXC face makes no duplicate: every client id reaches the face at
  most once, every intent settles (an intent refused or declared missing has no order), and
  RATE_LIMIT is raised on the MEXC execution only, then clears; the Bybit execution, running
  at the same time against the same simulator, keeps trading;
- a storm of 429s on a burst of exits (which, unlike entries, reach POST /order in it) sends
  nothing twice: each exit is on the face once (FILLED) or, refused, never resent: declared
  NOT_FOUND after a 429 from the venue, or FAILED_TERMINAL at once when Titan's own limiter
  held it back (nothing left the process);
- a MEXC face that stops serving puts the MEXC execution in DEGRADE (API_LAG, its price feed
  is stale) while the Bybit execution still fills an entry.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.execution.conftest import (
    ExecutionProcess,
    Sim,
    arm,
    entry,
    mexc_env,
    running_execution,
    until,
)
from titan_common.auth.tokens import TOKEN_HEADER
from titan_common.bus import INTENTS, StreamProducer
from titan_common.db.models import AuditEvent, FillRow, OrderIntentRow
from titan_common.exchanges.mexc import MexcAdapter, MexcConfig
from titan_common.messages import Correlation, IntentState, OrderIntent, Side, exit_intent
from titan_common.settings import DEFAULT_INTERNAL_TOKEN
from titan_sim.core.instruments import KNOWN

pytestmark = pytest.mark.integration
SYMBOL = "BTCUSDT"
MEXC_REDIS_DB = 9  # test_mexc_spot.py uses it too: tests run one after another, each flushes it
BYBIT_REDIS_DB = 8
# how an intent may end after a storm: none of these is ever sent again
SETTLED = {IntentState.FILLED, IntentState.REJECTED, IntentState.FAILED_TERMINAL, IntentState.NOT_FOUND}
# a burst over several symbols (one entry per symbol: a second entry on a held symbol is
# refused as DUPLICATE_POSITION), each worth a few tens of USDT
BURST_QTY = {
    "BTCUSDT": "0.001",
    "ETHUSDT": "0.01",
    "SOLUSDT": "0.1",
    "BNBUSDT": "0.05",
    "ADAUSDT": "50",
    "DOGEUSDT": "200",
    "XRPUSDT": "50",
    "AVAXUSDT": "1",
}


def var_dir(tmp_path: Path, name: str) -> Path:
    """A var dir of one execution process's own (its audit mirror and output)."""
    path = tmp_path / name
    path.mkdir()
    return path


@asynccontextmanager
async def both_executions(
    sim: Sim, database_url: str, redis_url: str, tmp_path: Path, **mexc_extra: str
) -> AsyncIterator[tuple[ExecutionProcess, ExecutionProcess]]:
    """Bybit's execution and MEXC's at once, each on its own intent stream and var dir."""
    async with (
        running_execution(
            sim, database_url, redis_url, var_dir(tmp_path, "bybit"), redis_db_index=BYBIT_REDIS_DB
        ) as bybit_execution,
        running_execution(
            sim,
            database_url,
            redis_url,
            var_dir(tmp_path, "mexc"),
            redis_db_index=MEXC_REDIS_DB,
            **mexc_env(sim, **mexc_extra),
        ) as mexc_execution,
    ):
        yield bybit_execution, mexc_execution


def set_mexc_faults(sim: Sim, **faults: object) -> None:
    sim.control("POST", "/faults", {"venue": "mexc", **faults})


def clear_all_faults(sim: Sim) -> None:
    """Both faces' faults cleared (DELETE /sim/faults without a venue is Bybit's only)."""
    sim.control("DELETE", "/faults")
    httpx.delete(f"{sim.url}/sim/faults", params={"venue": "mexc"}, timeout=10).raise_for_status()


def health(execution: ExecutionProcess) -> dict[str, Any]:
    return dict(httpx.get(f"{execution.url}/health", timeout=5).json())


def mexc_held_responses(sim: Sim) -> int:
    """How many answers the MEXC face has withheld (drop_response) since the last reset."""
    faces = sim.control("GET", "/health")["faces"]
    assert isinstance(faces, dict)
    return int(faces["mexc"]["heldResponses"])


async def intent_rows(sessions: async_sessionmaker[AsyncSession], intent_ids: list[str]) -> dict[str, OrderIntentRow]:
    async with sessions() as session:
        rows = await session.scalars(select(OrderIntentRow).where(OrderIntentRow.intent_id.in_(intent_ids)))
        return {row.intent_id: row for row in rows}


async def none_created(sessions: async_sessionmaker[AsyncSession], intents: list[OrderIntent]) -> bool:
    """Every intent taken off the stream: none is still CREATED."""
    rows = await intent_rows(sessions, [i.intent_id for i in intents])
    return len(rows) == len(intents) and all(r.state != IntentState.CREATED for r in rows.values())


async def all_settled(
    sessions: async_sessionmaker[AsyncSession], intents: list[OrderIntent]
) -> dict[str, OrderIntentRow] | None:
    """Every intent's row once each is in a settled state, else None."""
    rows = await intent_rows(sessions, [i.intent_id for i in intents])
    settled = len(rows) == len(intents) and all(IntentState(r.state) in SETTLED for r in rows.values())
    return rows if settled else None


async def wait_for_state(
    sessions: async_sessionmaker[AsyncSession], intent: OrderIntent, state: IntentState, *, timeout: float = 30
) -> OrderIntentRow:
    async def reached() -> OrderIntentRow | None:
        row = (await intent_rows(sessions, [intent.intent_id])).get(intent.intent_id)
        return row if row is not None and row.state == state else None

    return await until(reached, timeout=timeout, what=f"{intent.symbol} intent {intent.intent_id} {state}")


async def order_sends(sessions: async_sessionmaker[AsyncSession], intent_id: str) -> int:
    """ORDER_SEND audit rows of an intent: one per write-ahead, i.e. per send."""
    async with sessions() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.event_type == "ORDER_SEND", AuditEvent.order_intent_id == intent_id)
        )
    return int(count or 0)


def mexc_entry(symbol: str, qty: str, price: D) -> OrderIntent:
    """A MEXC entry referenced at the face's price `price`, its stop 10% below (far: the walk
    never reaches it during a test, so Titan's own stop never fires)."""
    stop = (price * D("0.9")).quantize(KNOWN[symbol].tick_size)
    return entry(symbol, qty, str(stop), reference=price).model_copy(update={"exchange": "mexc"})


def open_positions(execution: ExecutionProcess) -> list[dict[str, Any]]:
    return list(httpx.get(f"{execution.url}/positions", timeout=5).json()["positions"])


async def flatten(execution: ExecutionProcess, venue: str = "bybit") -> None:
    """Close whatever the process's account holds, and wait until it is flat.

    The operator's flatten first. A flatten that read the venue's positions closed nothing on
    a spot venue (a spot account has none); when it closed nothing while Titan still holds
    inventory, that is closed as the brain closes a position: an exit intent through the one
    door. (Never both: a second exit would sell coins that are not Titan's.)"""
    flattened = httpx.post(
        f"{execution.url}/positions/flatten", headers={TOKEN_HEADER: DEFAULT_INTERNAL_TOKEN}, timeout=30
    )
    assert flattened.status_code == 200, flattened.text
    if flattened.json()["positions_closed"] == 0:
        producer = StreamProducer(execution.redis, INTENTS)
        for position in open_positions(execution):
            await producer.publish(
                exit_intent(position["symbol"], Side(position["side"]), D(position["size"]), exchange=venue,
                            correlation=Correlation(run_id="mexc-faults-test"), origin="TEST_CLEANUP",
                            ts_ms=int(time.time() * 1000))
            )  # fmt: skip

    async def flat() -> bool:
        return not open_positions(execution)

    await until(flat, timeout=30, what=f"{execution.env['TITAN_EXCHANGE']} flat after the flatten")


@dataclass(frozen=True)
class MexcFace:
    sim: Sim
    adapter: MexcAdapter  # Titan's MEXC adapter on the simulator's face, to look at the venue directly


@pytest.fixture
async def mexc(clean_sim: Sim) -> AsyncIterator[MexcFace]:
    adapter = MexcAdapter(MexcConfig(clean_sim.mexc_url, clean_sim.mexc_api_key, clean_sim.mexc_api_secret))
    yield MexcFace(clean_sim, adapter)
    await adapter.close()


async def test_a_lost_answer_to_a_mexc_order_is_resolved_by_query_and_never_resent(
    mexc: MexcFace, sessions: async_sessionmaker[AsyncSession], database_url: str, redis_url: str, tmp_path: Path
) -> None:
    clean_sim, adapter = mexc.sim, mexc.adapter
    async with running_execution(
        clean_sim, database_url, redis_url, tmp_path, redis_db_index=MEXC_REDIS_DB, **mexc_env(clean_sim)
    ) as execution:
        try:
            account = execution.env["TITAN_EXCHANGE"]
            await arm(sessions, True)
            intent = mexc_entry(SYMBOL, "0.010", await adapter.last_price(SYMBOL))
            held_before = mexc_held_responses(clean_sim)
            # the face executes POST /order and holds the answer (1 s here), then an empty 504
            set_mexc_faults(clean_sim, drop_response=True)
            await StreamProducer(execution.redis, INTENTS).publish(intent)

            async def executed_but_unknown() -> bool:
                row = (await intent_rows(sessions, [intent.intent_id])).get(intent.intent_id)
                on_face = clean_sim.mexc_orders_for(intent.client_order_id)
                return row is not None and row.state == IntentState.SENT_UNKNOWN and on_face == 1

            # the order is on the venue and Titan does not know it: its answer is held
            await until(executed_but_unknown, timeout=20, what="the order executed with its answer withheld")
            clear_all_faults(clean_sim)

            row = await wait_for_state(sessions, intent, IntentState.FILLED)
            assert row.exchange == account
            assert mexc_held_responses(clean_sim) == held_before + 1  # that one answer was lost
            # the lost answer was resolved by looking the order up, not by sending it again
            log_text = (execution.var_dir / "execution-1.out").read_text(errors="replace")
            assert f"send of {intent.client_order_id} has an unknown outcome" in log_text
            assert clean_sim.mexc_orders_for(intent.client_order_id) == 1
            assert await order_sends(sessions, intent.intent_id) == 1

            async def fills() -> list[FillRow]:
                async with sessions() as session:
                    rows = await session.scalars(
                        select(FillRow).where(
                            FillRow.exchange == account, FillRow.client_order_id == intent.client_order_id
                        )
                    )
                    return list(rows)

            recorded = await until(fills, what="the fill recorded")
            assert len(recorded) == 1
            assert recorded[0].qty == D("0.010")
            assert recorded[0].symbol == SYMBOL
        finally:
            clear_all_faults(clean_sim)
            await arm(sessions, False)
        await flatten(execution, "mexc")


async def test_a_mexc_429_storm_sends_nothing_twice_and_rate_limits_mexc_only(
    mexc: MexcFace, sessions: async_sessionmaker[AsyncSession], database_url: str, redis_url: str, tmp_path: Path
) -> None:
    """Two executions at once, Bybit's and MEXC's, each on its own stream. In the storm an entry's
    price lookup (one per entry, like its POST /order) is refused first, so the band refuses it
    before anything is sent (PRICE_MOVED, fail-closed), and DEGRADE refuses the later ones."""
    clean_sim, adapter = mexc.sim, mexc.adapter
    async with both_executions(clean_sim, database_url, redis_url, tmp_path, TITAN_RATE_LIMIT_STABILITY_S="2") as (
        bybit_execution,
        mexc_execution,
    ):
        try:
            await arm(sessions, True)
            assert "RATE_LIMIT" not in health(mexc_execution)["reasons"]
            # the prices first: the test's own lookups share the account's key and its limits
            burst = [mexc_entry(s, qty, await adapter.last_price(s)) for s, qty in BURST_QTY.items()]
            bybit_intent = entry(SYMBOL, "0.010", "1000", run_id="mexc-storm-test")

            set_mexc_faults(clean_sim, rate_limit_per_s=2)
            mexc_producer = StreamProducer(mexc_execution.redis, INTENTS)
            for intent in burst:
                await mexc_producer.publish(intent)
            await StreamProducer(bybit_execution.redis, INTENTS).publish(bybit_intent)

            bybit_rate_limited: list[list[str]] = []  # Bybit's reasons whenever it showed RATE_LIMIT

            def look_at_bybit() -> None:
                bybit_reasons = list(health(bybit_execution)["reasons"])
                if "RATE_LIMIT" in bybit_reasons:
                    bybit_rate_limited.append(bybit_reasons)

            async def mexc_rate_limited() -> bool:
                look_at_bybit()
                return "RATE_LIMIT" in health(mexc_execution)["reasons"]

            await until(mexc_rate_limited, timeout=20, what="RATE_LIMIT on the MEXC execution")
            # Bybit keeps trading through MEXC's storm
            await wait_for_state(sessions, bybit_intent, IntentState.FILLED)
            assert clean_sim.orders_for(bybit_intent.client_order_id) == 1

            async def burst_handled() -> bool:
                look_at_bybit()
                return await none_created(sessions, burst)

            await until(burst_handled, timeout=30, what="every intent of the burst handled")
            assert bybit_rate_limited == [], bybit_rate_limited
            assert "RATE_LIMIT" not in health(bybit_execution)["reasons"]
            clear_all_faults(clean_sim)

            rows = await until(
                lambda: all_settled(sessions, burst), timeout=45, what="every intent of the burst settled"
            )
            for intent in burst:
                row, on_face = rows[intent.intent_id], clean_sim.mexc_orders_for(intent.client_order_id)
                where = f"{intent.symbol} {row.state} {row.state_reason}: {on_face} order(s) on the face"
                assert on_face <= 1, where  # never twice
                assert await order_sends(sessions, intent.intent_id) <= 1, where
                if row.state in (IntentState.REJECTED, IntentState.NOT_FOUND):
                    assert on_face == 0, where  # refused before sending, or declared missing: nothing sent
                if row.state == IntentState.REJECTED:
                    # DEGRADE (RATE_LIMIT) refuses entries; the band fails closed on a refused price lookup
                    assert row.state_reason in ("MODE_NOT_NORMAL", "PRICE_MOVED"), where
                if row.state == IntentState.FILLED:
                    assert on_face == 1, where

            async def mexc_rate_limit_cleared() -> bool:
                return "RATE_LIMIT" not in health(mexc_execution)["reasons"]

            await until(mexc_rate_limit_cleared, timeout=20, what="RATE_LIMIT cleared on MEXC after the storm")
        finally:
            clear_all_faults(clean_sim)
            await arm(sessions, False)
        await flatten(mexc_execution, "mexc")
        await flatten(bybit_execution)


async def test_a_mexc_429_storm_on_exits_sends_nothing_twice(
    mexc: MexcFace, sessions: async_sessionmaker[AsyncSession], database_url: str, redis_url: str, tmp_path: Path
) -> None:
    """Entries in a storm are refused before they are sent (their price lookup is refused
    first); exits have no price band, so a burst of exits meets the 429s on POST /order itself.
    A send the venue refused is SENT_UNKNOWN, looked up, and declared NOT_FOUND; one Titan's own
    limiter held back is FAILED_TERMINAL at once. Neither is ever sent again."""
    clean_sim, adapter = mexc.sim, mexc.adapter
    async with running_execution(
        clean_sim,
        database_url,
        redis_url,
        tmp_path,
        redis_db_index=MEXC_REDIS_DB,
        **mexc_env(clean_sim, TITAN_RATE_LIMIT_STABILITY_S="2"),
    ) as execution:
        try:
            await arm(sessions, True)
            producer = StreamProducer(execution.redis, INTENTS)
            entries = [mexc_entry(s, qty, await adapter.last_price(s)) for s, qty in BURST_QTY.items()]
            for intent in entries:
                await producer.publish(intent)
            for intent in entries:
                await wait_for_state(sessions, intent, IntentState.FILLED)

            async def all_held() -> list[dict[str, Any]] | None:
                held = open_positions(execution)
                return held if {p["symbol"] for p in held} == set(BURST_QTY) else None

            held = await until(all_held, what="every entry in Titan's inventory")
            await arm(sessions, False)  # exits go out disarmed, as a kill switch's would

            set_mexc_faults(clean_sim, rate_limit_per_s=2)
            exits = [
                exit_intent(p["symbol"], Side(p["side"]), D(p["size"]), exchange="mexc",
                            correlation=Correlation(run_id="mexc-exit-storm-test"), origin="AIGATE_EXIT",
                            operator_id="brain-aigate", ts_ms=int(time.time() * 1000))
                for p in held
            ]  # fmt: skip
            for intent in exits:
                await producer.publish(intent)

            await until(lambda: none_created(sessions, exits), timeout=30, what="every exit of the burst handled")

            async def rate_limited() -> bool:
                return "RATE_LIMIT" in health(execution)["reasons"]

            await until(rate_limited, timeout=20, what="RATE_LIMIT on the MEXC execution")
            clear_all_faults(clean_sim)

            rows = await until(lambda: all_settled(sessions, exits), timeout=45, what="every exit of the burst settled")
            for intent in exits:
                row, on_face = rows[intent.intent_id], clean_sim.mexc_orders_for(intent.client_order_id)
                where = f"exit {intent.symbol} {row.state} {row.state_reason}: {on_face} order(s) on the face"
                assert on_face <= 1, where  # never twice
                assert await order_sends(sessions, intent.intent_id) == 1, where  # one write-ahead, one send
                assert row.state in (IntentState.FILLED, IntentState.NOT_FOUND, IntentState.FAILED_TERMINAL), where
                # FILLED: on the face once; NOT_FOUND: a 429 refused it; FAILED_TERMINAL: held
                # back by Titan's limiter; neither refused one was resent
                assert on_face == (1 if row.state == IntentState.FILLED else 0), where
            states = [rows[i.intent_id].state for i in exits]
            refused = {IntentState.NOT_FOUND, IntentState.FAILED_TERMINAL}
            assert refused & set(states), states  # the storm did refuse sends on POST /order
            assert IntentState.FILLED in states, states  # and let some through

            async def rate_limit_cleared() -> bool:
                return not await rate_limited()

            await until(rate_limit_cleared, timeout=20, what="RATE_LIMIT cleared after the storm")
        finally:
            clear_all_faults(clean_sim)
            await arm(sessions, False)
        await flatten(execution, "mexc")


async def test_a_mexc_face_that_stops_serving_never_stops_bybit(
    clean_sim: Sim, sessions: async_sessionmaker[AsyncSession], database_url: str, redis_url: str, tmp_path: Path
) -> None:
    async with both_executions(clean_sim, database_url, redis_url, tmp_path) as (bybit_execution, mexc_execution):
        try:
            await arm(sessions, True)
            clean_sim.control("POST", "/faces/mexc", {"serving": False})
            try:

                async def mexc_lagging() -> dict[str, Any] | None:
                    body = health(mexc_execution)
                    return body if "API_LAG" in body["reasons"] else None

                body = await until(mexc_lagging, timeout=20, what="API_LAG on the MEXC execution")
                assert body["mode"] == "DEGRADE"
                assert body["checks"]["exchange"]["price_stale"] is True

                bybit_intent = entry(SYMBOL, "0.010", "1000", run_id="mexc-down-test")
                await StreamProducer(bybit_execution.redis, INTENTS).publish(bybit_intent)
                await wait_for_state(sessions, bybit_intent, IntentState.FILLED)
                assert clean_sim.orders_for(bybit_intent.client_order_id) == 1
                bybit_health = health(bybit_execution)
                assert "API_LAG" not in bybit_health["reasons"], bybit_health
                assert bybit_health["mode"] == "NORMAL", bybit_health
                assert mexc_execution.process.poll() is None  # its venue is down; the process is not
            finally:
                clean_sim.control("POST", "/faces/mexc", {"serving": True})

            async def mexc_recovered() -> bool:
                return "API_LAG" not in health(mexc_execution)["reasons"]

            await until(mexc_recovered, timeout=20, what="API_LAG cleared once the MEXC face serves again")
        finally:
            with contextlib.suppress(httpx.HTTPError):
                clean_sim.control("POST", "/faces/mexc", {"serving": True})
            clear_all_faults(clean_sim)
            await arm(sessions, False)
        await flatten(bybit_execution)
