"""1,000 signals through a real brain process, with redeliveries of every kind: the
scavenger publishing a signal twice, and the brain killed (-9) in the middle of a burst, so
signals it had read, and some it had decided but not acked, come back to the restarted
process through the consumer group's stall-claiming. Every signal gets exactly one
decision, and no signal ever gets a second intent."""

from __future__ import annotations

import asyncio
import json
from collections import Counter, defaultdict
from decimal import Decimal as D
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.brain.conftest import arm, make_signal, running_brain, wait_for_decisions
from tests.processes import metric_value, until
from titan_common.config import TradingConfig
from titan_common.db.models import DecisionRow, OrderIntentRow, SignalRow
from titan_common.messages import OrderIntent, Side, Signal

pytestmark = pytest.mark.integration

SYMBOLS = tuple(f"T{i}USDT" for i in range(10))
TOTAL = 1000


async def test_a_thousand_signals_with_redeliveries_one_decision_each_at_most_one_intent(
    database_url: str, redis_url: str, tmp_path: Path, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with running_brain(
        database_url,
        redis_url,
        tmp_path,
        redis_db_index=9,
        TITAN_CLAIM_IDLE_MS="1500",
        TITAN_BATCH_SIZE="50",
        TITAN_PENDING_GRACE_MS="0",
        TITAN_EQUITY_MAX_AGE_S="3600",
    ) as brain:
        await arm(sessions, True)
        await brain.config(sessions, TradingConfig(asset_whitelist=SYMBOLS, max_open_positions=10))
        await brain.wallet("10000")
        # short-lived signals: an approved entry blocks its symbol only until its intent expires

        def fresh(i: int) -> Signal:  # stamped when published
            buy = i % 3 != 0
            return make_signal(
                SYMBOLS[i % len(SYMBOLS)], Side.BUY if buy else Side.SELL, "100",
                "80" if buy else "120", "130" if buy else "70", ttl_ms=1000,
            )  # fmt: skip

        signals: list[Signal] = []
        duplicates = 0
        for i in range(TOTAL):
            signal = fresh(i)
            signals.append(signal)
            await brain.signal(signal)
            if i % 6 == 0 and i >= 20:
                await brain.signal(signals[i - 20])  # the same signal again, as a scavenger retry would
                duplicates += 1
            if 400 <= i < 600:
                continue  # a burst: the brain is busy with it when it dies
            if i == 600:
                await asyncio.sleep(0.05)
                brain.kill()
                killed_at = i
            await asyncio.sleep(0.006)
            if i == 650:
                brain.start()
                await brain.wallet("10000")
        assert killed_at == 600

        signal_ids = [s.signal_id for s in signals]
        decided = await wait_for_decisions(sessions, signal_ids, timeout=180)

        async def all_acked() -> bool:
            info = await brain.redis.xpending("titan:signals", "brain")
            return int(info["pending"]) == 0

        await until(all_acked, timeout=60, what="every signal acked")

        # exactly one decision per signal
        assert set(decided) == set(signal_ids)
        async with sessions() as session:
            per_signal = await session.execute(
                select(DecisionRow.signal_id, func.count())
                .where(DecisionRow.signal_id.in_(signal_ids))
                .group_by(DecisionRow.signal_id)
            )
            assert {count for _id, count in per_signal} == {1}
            intents = (
                await session.execute(
                    select(DecisionRow.signal_id, DecisionRow.verdict, OrderIntentRow.intent_id)
                    .outerjoin(OrderIntentRow, OrderIntentRow.decision_id == DecisionRow.decision_id)
                    .where(DecisionRow.signal_id.in_(signal_ids))
                )
            ).all()
            pending_rows = await session.scalar(
                select(func.count())
                .select_from(SignalRow)
                .where(SignalRow.signal_id.in_(signal_ids), SignalRow.status == "PENDING")
            )
        # at most one intent per signal; an approval has exactly one, a veto none
        by_signal: dict[str, list[str]] = defaultdict(list)
        for signal_id, verdict, intent_id in intents:
            if intent_id is not None:
                by_signal[signal_id].append(intent_id)
            assert (intent_id is not None) == (verdict == "APPROVE"), signal_id
        assert all(len(ids) == 1 for ids in by_signal.values())
        assert pending_rows == 0
        approvals = sum(1 for d in decided.values() if d.verdict == "APPROVE")
        reasons = Counter(d.reasons[0] if d.reasons else "APPROVE" for d in decided.values())
        assert approvals >= 10, f"too few approvals for the test to mean anything: {reasons}"
        assert approvals < TOTAL

        # titan:intents: a signal's intent may be published more than once (a re-publish after
        # a redelivery), but always under the one intent id on record
        stream = await brain.redis.xrange("titan:intents")
        published: dict[str, set[str]] = defaultdict(set)
        for _id, fields in stream:
            intent = OrderIntent.model_validate_json(fields[b"data"])
            assert intent.correlation.signal_id is not None
            published[intent.correlation.signal_id].add(intent.intent_id)
            assert intent.reference_price == D(100)
        assert {s: {i[0]} for s, i in by_signal.items()} == {s: published[s] for s in by_signal}
        assert all(len(ids) == 1 for ids in published.values())

        metrics = brain.get("/metrics").text
        redelivered = metric_value(metrics, "titan_brain_redeliveries_total")
        assert redelivered >= 1
        summary = {
            "signals": TOTAL,
            "duplicate_publishes": duplicates,
            "approved": approvals,
            "intent_messages": len(stream),
            "redelivered_after_restart": redelivered,
            "reasons": dict(Counter(d.reasons[0] if d.reasons else "APPROVE" for d in decided.values())),
        }
        (tmp_path / "summary.json").write_text(json.dumps(summary))
        await arm(sessions, False)
        await brain.config(sessions, TradingConfig())
