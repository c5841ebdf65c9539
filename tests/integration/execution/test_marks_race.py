"""A mark announced while a close fills: the last POSITION_UPDATE of the symbol must say flat.

The mark loop announces each open position's live PnL; a close that fills while it awaits
its commit used to be followed by an announcement of the position as it was before (open),
and the brain, which folds those events into its positions, then held the symbol open and
vetoed every later entry on it as DUPLICATE_POSITION (seen on MEXC in the two-venue test)."""

from __future__ import annotations

import asyncio
from decimal import Decimal as D

import pytest
from pydantic import BaseModel

from titan_common.events import EventType
from titan_common.exchanges import ExecType, Execution
from titan_common.messages import Side, new_id
from titan_execution.runtime.engine import ExecutionEngine

pytestmark = pytest.mark.integration
ROUNDS = 40


def fill(symbol: str, side: Side, qty: str, ts_ms: int) -> Execution:
    return Execution(
        exec_id=new_id(), order_id=new_id(), client_order_id=f"t-{new_id()}", symbol=symbol, side=side,
        price=D("100"), qty=D(qty), fee=D("0.01"), exec_type=ExecType.TRADE, is_maker=False, ts_ms=ts_ms,
    )  # fmt: skip


async def test_a_close_during_a_mark_is_never_followed_by_the_open_position(engine: ExecutionEngine) -> None:
    announced: list[tuple[str, D]] = []

    def on_event(event_type: EventType, payload: BaseModel) -> None:
        if event_type is EventType.POSITION_UPDATE:
            announced.append((str(payload.symbol), D(str(payload.size))))  # type: ignore[attr-defined]

    engine.on_event = on_event
    for round_no in range(ROUNDS):
        symbol = "SOLUSDT"
        assert await engine.on_execution(fill(symbol, Side.BUY, "1", 1_000 + round_no * 10), "WS")
        announced.clear()
        # the mark and the close race: the close may land while the mark awaits its commit
        await asyncio.gather(
            engine.mark_to_market({symbol: D("101")}),
            engine.on_execution(fill(symbol, Side.SELL, "1", 1_001 + round_no * 10), "WS"),
        )
        last = [size for name, size in announced if name == symbol][-1]
        assert last == 0, (round_no, announced)
        assert engine.book.position(symbol).is_flat
