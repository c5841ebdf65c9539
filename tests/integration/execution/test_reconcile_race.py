"""The reconcile against the fill streams: Titan's own fills that arrive on the private
stream while a reconcile takes its venue snapshot are never drift. Repeated 200 times, with
an order sent at a varying moment inside each run, no run finds a position difference, and
no run adopts or drops Titan's own position."""

from __future__ import annotations

import asyncio
import contextlib
import random

import pytest

from tests.integration.execution.conftest import Sim, entry
from titan_common.clock import now_ms
from titan_common.messages import Correlation, IntentKind, OrderIntent, Side, client_order_id_for, new_id
from titan_common.reasons import ReasonCode
from titan_execution.core.reconcile import Verdict
from titan_execution.runtime.engine import ExecutionEngine
from titan_execution.runtime.reconciler import Reconciler

pytestmark = pytest.mark.integration
ROUNDS = 200
SYMBOL, QTY = "ETHUSDT", "0.10"


def exit_of(side: Side) -> OrderIntent:
    """A reduce-only market exit of a position on `side`, as execution's own exits are built."""
    intent_id = new_id()
    return OrderIntent(
        intent_id=intent_id,
        client_order_id=client_order_id_for(intent_id),
        ts_ms=now_ms(),
        correlation=Correlation(run_id="race-test"),
        kind=IntentKind.EXIT,
        symbol=SYMBOL,
        side=Side.SELL if side is Side.BUY else Side.BUY,
        qty=entry(SYMBOL, QTY).qty,
        reduce_only=True,
        ttl_ms=60_000,
    )


async def stream_fills(engine: ExecutionEngine) -> None:
    """The private stream applied as the runtime applies it."""
    async for event in engine.adapter.private_events():  # type: ignore[attr-defined]
        for execution in event.executions:
            await engine.on_execution(execution, "WS")


async def until(probe: object, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not probe():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, "the fill never reached the book"
        await asyncio.sleep(0.01)


async def test_fills_during_a_reconcile_are_never_drift(engine: ExecutionEngine, clean_sim: Sim) -> None:
    active: set[ReasonCode] = set()
    rec = Reconciler(engine, set_reason=lambda reason, on: active.add(reason) if on else active.discard(reason))
    assert (await rec.run("STARTUP")).verdict is Verdict.OK
    stream = asyncio.create_task(stream_fills(engine))
    rng = random.Random(13)
    position_diffs = []
    try:
        await asyncio.sleep(0.5)  # the socket is subscribed
        for round_no in range(ROUNDS):
            opening = engine.book.position(SYMBOL).is_flat
            intent = entry(SYMBOL, QTY, "1", run_id="race-test") if opening else exit_of(Side.BUY)
            seq = engine.fill_seq
            run = asyncio.create_task(rec.run("PERIODIC"))
            await asyncio.sleep(rng.uniform(0, 0.04))  # somewhere inside the run's snapshot
            outcome = await engine.handle_intent(intent)
            assert outcome.state.value in ("CONFIRMED", "FILLED"), (round_no, outcome)
            result = await run
            # the whole order in the book (a market order may fill in parts), not just a fill:
            # the next round decides entry or exit by the book, and a partial exit would look open
            await until(
                lambda seq=seq, flat=not opening: engine.fill_seq > seq and engine.book.position(SYMBOL).is_flat is flat
            )
            position_diffs += [(round_no, d) for d in result.diffs if d.kind == "POSITION"]
            assert result.verdict is Verdict.OK, (round_no, result.diffs)
        assert position_diffs == []
        assert not active & {ReasonCode.RECONCILE_DRIFT, ReasonCode.DRIFT_LIMIT_EXCEEDED}
        final = await rec.run("PERIODIC")
        assert final.verdict is Verdict.OK
        assert final.diffs == []
    finally:
        stream.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await stream
