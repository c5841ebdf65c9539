"""`titan data export --source snapshots`: the scavenger's stored 15-minute bars in the
replay format (interval_min 15), each bar once whichever cycles stored it, and `titan
backtest --data` plays them (each bar's path spread over its 15 minutes)."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal as D
from pathlib import Path

import pytest
from sqlalchemy import insert
from typer.testing import CliRunner

from titan_common.clock import now_ms
from titan_common.db.engine import make_engine
from titan_common.db.models import OhlcvSnapshot
from titan_common.replay import read_klines
from titan_ops.cli.main import app
from titan_sim.core.history import minute_history
from titan_sim.core.instruments import instrument_for

pytestmark = pytest.mark.integration
BAR_MS = 900_000


async def store(database_url: str, rows: list[dict[str, object]]) -> None:
    engine = make_engine(database_url, pool_size=1)
    try:
        async with engine.begin() as conn:
            await conn.execute(insert(OhlcvSnapshot), rows)
    finally:
        await engine.dispose()


def snapshot_rows(venue: str, symbol: str, start: int, bars: int, cycle: str) -> list[dict[str, object]]:
    """15-minute bars of the seeded walk, as a breadth cycle would have stored them."""
    minutes = minute_history(instrument_for(symbol, 42), 42, start, bars * 15)
    rows = []
    for i in range(bars):
        chunk = minutes[i * 15 : (i + 1) * 15]
        rows.append({
            "cycle_id": f"{cycle}:{i}", "exchange": venue, "symbol": symbol, "interval": "15",
            "start_ms": chunk[0].start_ms, "open": chunk[0].open, "high": max(k.high for k in chunk),
            "low": min(k.low for k in chunk), "close": chunk[-1].close,
            "volume": sum((k.volume for k in chunk), D(0)), "turnover": D(0),
        })  # fmt: skip
    return rows


def test_export_the_stored_15_minute_bars_and_backtest_them(
    private_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a database of its own: a stack's scavenger storing bars in the session's database
    # (the console's, when its tests ran first) would add its own
    database_url = private_database
    start = (now_ms() - 3 * 86_400_000) // BAR_MS * BAR_MS
    rows = snapshot_rows("bybit", "SOLUSDT", start, 250, "breadth:a")
    again = snapshot_rows("bybit", "SOLUSDT", start + 240 * BAR_MS, 10, "breadth:b")  # stored twice
    other = snapshot_rows("mexc", "SOLUSDT", start, 5, "breadth:m")  # another venue's
    asyncio.run(store(database_url, rows + again + other))
    monkeypatch.setenv("DATABASE_URL", database_url)

    out = tmp_path / "snapshots.csv.gz"
    runner = CliRunner()
    args = ["data", "export", "--source", "snapshots", "--symbols", "SOLUSDT", "--days", "4", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    made = json.loads(result.stdout)
    assert made["interval_min"] == 15
    assert made["klines"] == 250
    bars = read_klines(out)
    assert [k.start_ms for k in bars] == [r["start_ms"] for r in rows]
    assert {k.interval_ms for k in bars} == {BAR_MS}
    assert bars[7].high == rows[7]["high"]
    assert bars[7].volume == rows[7]["volume"]

    ran = runner.invoke(app, ["backtest", "--data", str(out)])
    assert ran.exit_code == 0, ran.output
    summary = json.loads(ran.stdout)
    assert summary["symbols"] == ["SOLUSDT"]
    assert summary["to_ms"] == rows[-1]["start_ms"] + BAR_MS

    nothing = runner.invoke(app, [*args[:-2], "--out", str(tmp_path / "x.csv"), "--venue", "okx"])
    assert nothing.exit_code == 1
    assert "FAIL no stored 15-minute bars of okx" in nothing.output
