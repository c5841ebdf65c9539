"""Backtest and live agree (issue 18): one recorded hour of the sample, played by the
simulator in replay mode at 240x through the whole stack (scavenger, brain, execution), gives
the same signals and the same decisions as `titan backtest` over the same hour.

The hour is 2026-01-03 04:00-05:00 UTC of data/sample: three signals, two approvals and a
veto that only an open position explains (DUPLICATE_POSITION), so the live account has to
be the backtest's too. Signals are compared by what the market decides (the trade that
sprang them, symbol, side, trap, entry, stop, target); decisions by verdict and reasons.
Live signal ids and timestamps are the wall's, so they are not compared; neither are
fills, which the simulator's book makes and the backtest's fill model only estimates.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.e2e.stack import ADMIN, Stack, running_stack, titan_cli, wait_until
from titan_common.settings import normalise_database_url, plain_database_url

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"
HOUR_FROM = 1_767_412_800_000  # 2026-01-03T04:00:00Z
HOUR_TO = HOUR_FROM + 3_600_000
SPEED = 240


@pytest.fixture(scope="module")
def stack(postgres_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(
        postgres_server_url,
        tmp_path_factory.mktemp("replay"),
        TITAN_SIM_DEMO_BURSTS="false",
        TITAN_SIM_REPLAY=str(SAMPLE),
        TITAN_SIM_REPLAY_FROM=str(HOUR_FROM),
        TITAN_SIM_REPLAY_TO=str(HOUR_TO),
        TITAN_SIM_REPLAY_SPEED=str(SPEED),
        TITAN_SIM_REPLAY_CUED="true",
    ) as running:
        yield running


def backtest_decisions(out: Path) -> list[dict[str, Any]]:
    subprocess.run(
        [titan_cli(), "backtest", "--sample", "--from", str(HOUR_FROM), "--to", str(HOUR_TO), "--decisions", str(out)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    return [json.loads(line) for line in out.read_text().splitlines()]


async def live_decisions(database_url: str) -> list[dict[str, Any]]:
    """Each TRAP_SPRUNG the scavenger audited, with the brain's decision on its signal."""
    conn = await asyncpg.connect(plain_database_url(normalise_database_url(database_url)))
    try:
        rows = await conn.fetch(
            """SELECT e.payload AS sprung, d.verdict, d.reasons
               FROM audit_events e LEFT JOIN decisions d ON d.signal_id = e.signal_id
               WHERE e.event_type = 'TRAP_SPRUNG'"""
        )
    finally:
        await conn.close()
    out = []
    for row in rows:
        sprung = json.loads(row["sprung"]) if isinstance(row["sprung"], str) else row["sprung"]
        reasons = json.loads(row["reasons"]) if isinstance(row["reasons"], str) else row["reasons"]
        out.append({"sprung": sprung, "verdict": row["verdict"], "reasons": reasons})
    return sorted(out, key=lambda r: (r["sprung"]["trade_ts_ms"], r["sprung"]["symbol"]))


def _signal_key(ts_ms: int, symbol: str, side: str, trap_type: str, prices: list[Any]) -> tuple[Any, ...]:
    return (ts_ms, symbol, side, trap_type, *(str(p) for p in prices))


@pytest.mark.timeout(600)
def test_an_hour_replayed_live_decides_as_the_backtest(stack: Stack, tmp_path: Path) -> None:
    expected = backtest_decisions(tmp_path / "decisions.jsonl")
    assert len(expected) >= 3, expected
    assert {d["verdict"] for d in expected} == {"APPROVE", "VETO"}, expected

    armed = httpx.post(
        stack.url("console") + "/api/console/master-arm",
        auth=ADMIN, json={"enabled": True, "operator_id": "replay"}, timeout=30,
    )  # fmt: skip
    assert armed.status_code == 200, armed.text
    wait_until(
        lambda: httpx.get(stack.url("scavenger") + "/health", timeout=5).json()["checks"]["market_data"]["emitting"],
        60,
        "the scavenger to be ready to emit on the cued replay",
    )
    replay = stack.sim("GET", "/sim/health")["replay"]
    shift = replay["shiftMs"]
    stack.sim("POST", "/sim/clock", {"paused": False})
    wait_until(lambda: stack.sim("GET", "/sim/health")["replay"]["finished"], 3600 / SPEED + 60, "the hour to play")

    def decided() -> list[dict[str, Any]] | None:
        rows = asyncio.run(live_decisions(stack.database_url))
        return rows if len(rows) >= len(expected) and all(r["verdict"] for r in rows) else None

    live = wait_until(decided, 30, what="the brain to decide every live signal")

    live_signals = [
        _signal_key(
            r["sprung"]["trade_ts_ms"] - shift, r["sprung"]["symbol"], r["sprung"]["side"],
            r["sprung"]["trap_type"],
            [r["sprung"]["entry_price"], r["sprung"]["stop_loss"], *r["sprung"]["take_profits"]],
        )
        for r in live
    ]  # fmt: skip
    backtest_signals = [
        _signal_key(
            d["ts_ms"], d["symbol"], d["side"], d["trap_type"], [d["entry_price"], d["stop_loss"], *d["take_profits"]]
        )
        for d in expected
    ]
    assert live_signals == backtest_signals
    assert [(r["verdict"], r["reasons"]) for r in live] == [(d["verdict"], d["reasons"]) for d in expected]
