"""Several signal workers in a real brain process: batches are decided one at a time, in
stream order, while another batch commits. So the first signal on a symbol is the one
approved, whichever worker read it, and decisions never go back in time along the stream."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.brain.conftest import arm, make_signal, running_brain, wait_for_decisions
from titan_common.config import TradingConfig
from titan_common.messages import Side, Signal

pytestmark = pytest.mark.integration

SYMBOLS = tuple(f"W{i}USDT" for i in range(4))


async def test_batches_are_decided_in_stream_order_across_workers(
    database_url: str, redis_url: str, tmp_path: Path, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with running_brain(
        database_url, redis_url, tmp_path, redis_db_index=10,
        TITAN_SIGNAL_WORKERS="3", TITAN_BATCH_SIZE="4", TITAN_EQUITY_MAX_AGE_S="3600",
    ) as brain:  # fmt: skip
        await arm(sessions, True)
        try:
            await brain.config(sessions, TradingConfig(asset_whitelist=SYMBOLS, max_open_positions=10))
            await brain.wallet("10000")
            # long-lived: an approved entry keeps its symbol busy for the whole test
            signals: list[Signal] = [
                make_signal(SYMBOLS[i % len(SYMBOLS)], Side.BUY, "100", "80", "130", ttl_ms=120_000) for i in range(240)
            ]
            for signal in signals:
                await brain.signal(signal)
            decided = await wait_for_decisions(sessions, [s.signal_id for s in signals], timeout=120)
        finally:
            await arm(sessions, False)  # the session's database is shared: leave it disarmed

    for symbol in SYMBOLS:
        on_symbol = [s.signal_id for s in signals if s.symbol == symbol]
        approved = [sid for sid in on_symbol if decided[sid].verdict == "APPROVE"]
        assert approved == on_symbol[:1], f"{symbol}: the first signal on it is the one approved"
    stamps = [decided[s.signal_id].ts_ms for s in signals]
    assert stamps == sorted(stamps), "a later signal was decided before an earlier one"
