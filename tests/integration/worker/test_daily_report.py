"""The daily report against real Postgres: a known day of trades, equity, signals, decisions
and audit events in, figures worked out by hand out (in the table, the files, the CLI)."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from decimal import Decimal as D
from pathlib import Path

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from titan_common.db.models import (
    AuditEvent,
    BreakerEvent,
    DecisionRow,
    EquitySnapshot,
    SignalRow,
    TradeRow,
)
from titan_worker import reports
from titan_worker.core.report import day_start_ms

pytestmark = pytest.mark.integration

ACCOUNTS = ["sim"]  # the account the seeded trades were made on (TITAN_EXCHANGE)

ROOT = Path(__file__).resolve().parents[3]
DAY = "2025-03-14"  # a past day no other test writes
START = day_start_ms(DAY)
MINUTE = 60_000
HOUR = 60 * MINUTE
NEXT_DAY = START + 24 * HOUR

# (closed at, symbol, gross pnl, fees): net +120, -50, +80, -30
TRADES = [
    (START + 2 * HOUR, "BTCUSDT", D("122"), D("2")),
    (START + 5 * HOUR, "ETHUSDT", D("-49"), D("1")),
    (START + 9 * HOUR, "BTCUSDT", D("81.5"), D("1.5")),
    (START + 20 * HOUR, "SOLUSDT", D("-29.5"), D("0.5")),
]


def equity_at(minute: int) -> D:
    """Flat at 10000, 10200 at 06:00, the day's trough 9894 at 12:00, 10100 at the close."""
    return {360: D("10200"), 720: D("9894"), 1439: D("10100")}.get(minute, D("10000"))


# the brain snapshots every minute, but the stack was down from 20:00 to 22:24 (144 minutes)
SNAPSHOT_MINUTES = [m for m in range(1440) if not 1200 <= m < 1344]


async def seed(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session, session.begin():
        await session.execute(
            insert(EquitySnapshot),
            [
                {
                    "ts_ms": START + m * MINUTE + 5_000,
                    "equity": equity_at(m),
                    "wallet_balance": equity_at(m),
                    "unrealised_pnl": D(0),
                    "day_start_equity": D("10000"),
                    "high_watermark": D("10200"),
                    "daily_pnl": equity_at(m) - D("10000"),
                    "drawdown_pct": D(0),
                    "phase": 2,
                }
                for m in SNAPSHOT_MINUTES
            ],
        )
        # the evening before and the morning after must not count
        for ts in (START - MINUTE, NEXT_DAY):
            session.add(
                EquitySnapshot(
                    ts_ms=ts,
                    equity=D("1"),
                    wallet_balance=D("1"),
                    unrealised_pnl=D(0),
                    day_start_equity=D("1"),
                    high_watermark=D("1"),
                    daily_pnl=D(0),
                    drawdown_pct=D(0),
                    phase=1,
                )
            )
        for closed, symbol, pnl, fees in TRADES:
            session.add(
                TradeRow(
                    exchange=ACCOUNTS[0],
                    symbol=symbol,
                    side="Buy",
                    qty=D("0.1"),
                    entry_price=D("100"),
                    exit_price=D("101"),
                    pnl=pnl,
                    fees=fees,
                    r_multiple=None,
                    signal_id=None,
                    opened_ms=closed - HOUR,
                    closed_ms=closed,
                )
            )
        session.add(
            TradeRow(
                exchange=ACCOUNTS[0],
                symbol="BTCUSDT",
                side="Buy",
                qty=D("1"),
                entry_price=D("1"),
                exit_price=D("2"),
                pnl=D("999"),
                fees=D(0),
                r_multiple=None,
                signal_id=None,
                opened_ms=NEXT_DAY,
                closed_ms=NEXT_DAY + 1,
            )
        )
        # 10 signals; the brain decided 8 of them: 6 approvals, 2 vetoes
        verdicts = ["APPROVE"] * 6 + ["VETO"] * 2
        veto_reasons = [["EDGE_TOO_LOW"], ["MAX_POSITIONS", "EDGE_TOO_LOW"]]
        for i in range(10):
            signal_id = f"rep-{uuid.uuid4().hex[:12]}"
            session.add(
                SignalRow(
                    signal_id=signal_id,
                    ts_ms=START + HOUR + i,
                    source="scavenger",
                    symbol="BTCUSDT",
                    side="Buy",
                    trap_type="BOLLINGER",
                    status="PENDING",
                    payload={},
                )
            )
            await session.flush()
            if i < 8:
                verdict = verdicts[i]
                session.add(
                    DecisionRow(
                        decision_id=f"d-{signal_id}",
                        signal_id=signal_id,
                        ts_ms=START + HOUR + i,
                        verdict=verdict,
                        reasons=veto_reasons[i - 6] if verdict == "VETO" else [],
                        symbol="BTCUSDT",
                        side="Buy",
                        qty=D("0.1") if verdict == "APPROVE" else D(0),
                        leverage=5,
                        risk_usd=D("20"),
                        phase=2,
                        payload={},
                    )
                )
        for severity, count in (("INFO", 5), ("WARNING", 2), ("CRITICAL", 1)):
            for _ in range(count):
                session.add(
                    AuditEvent(
                        event_id=uuid.uuid4().hex,
                        ts_ms=START + 3 * HOUR,
                        service="brain",
                        severity=severity,
                        event_type="TEST",
                        payload={},
                    )
                )
        session.add(
            BreakerEvent(
                ts_ms=START + 13 * HOUR, action="TRIP", level="SOFT", reason="3 losses", operator_id=None, payload={}
            )
        )
        session.add(
            BreakerEvent(
                ts_ms=START + 17 * HOUR, action="RESET", level="SOFT", reason="review", operator_id="ops", payload={}
            )
        )


EXPECTED = {
    "start_equity": "10000.00",
    "end_equity": "10100.00",
    "daily_pnl_usd": "100.00",  # 10100 - 10000
    "daily_pnl_pct": "1.00",  # 100 / 10000
    "max_drawdown_pct": "3.00",  # (10200 - 9894) / 10200
    "uptime_pct": "90.00",  # 1296 of 1440 minutes with a snapshot
    "trades_executed": 4,
    "wins": 2,
    "losses": 2,
    "win_rate_pct": "50.00",
    "realised_pnl_usd": "120.00",  # 120 - 50 + 80 - 30
    "fees_usd": "5.00",
    # mean 30, sample sd sqrt((90² + 80² + 50² + 60²) / 3) = 82.865; 30 / 82.865 = 0.362
    "sharpe": "0.36",
    "profit_factor": "2.50",  # 200 / 80
    "best_trade_usd": "120.00",
    "worst_trade_usd": "-50.00",
    "signals_received": 10,
    "signals_approved": 6,
    "signals_decided": 8,
    "signal_success_rate_pct": "75.00",  # 6 / 8
    "veto_reasons": {"EDGE_TOO_LOW": 2, "MAX_POSITIONS": 1},
    "audit_events": {"CRITICAL": 1, "INFO": 5, "WARNING": 2},
    "breaker_trips": 1,
    "symbols_traded": ["BTCUSDT", "ETHUSDT", "SOLUSDT"],
}


@pytest.fixture(scope="module")
async def seeded(sessions: async_sessionmaker[AsyncSession]) -> None:
    await seed(sessions)


async def test_report_figures_match_the_hand_computation(
    seeded: None, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    async with sessions() as session, session.begin():
        report = await reports.generate(
            session, DAY, now_ms=NEXT_DAY + 5 * MINUTE, report_dir=tmp_path, accounts=ACCOUNTS
        )
    figures = report.figures
    assert {k: figures[k] for k in EXPECTED} == EXPECTED

    # stored for the console, and readable back
    async with sessions() as session:
        stored = await reports.get(session, DAY)
        newest = await reports.latest(session)
        days = await reports.list_days(session)
    assert stored is not None
    assert stored["figures"]["daily_pnl_usd"] == "100.00"
    assert "<svg" in stored["html"]
    assert newest is not None
    assert newest["day"] >= DAY
    assert "html" not in newest
    assert DAY in [d["day"] for d in days]

    # and written as JSON and HTML files
    written = json.loads((tmp_path / f"daily-{DAY}.json").read_text())
    assert written["win_rate_pct"] == "50.00"
    assert len(written["equity_curve"]) == 288
    assert written["equity_curve"][-1]["equity"] == "10100.00"
    html = (tmp_path / f"daily-{DAY}.html").read_text()
    assert "<polyline" in html
    assert "$100.00" in html


async def test_regenerating_a_day_replaces_its_report(seeded: None, sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session, session.begin():
        await reports.generate(session, DAY, now_ms=NEXT_DAY + HOUR, report_dir=None, accounts=ACCOUNTS)
    async with sessions() as session, session.begin():
        await reports.generate(session, DAY, now_ms=NEXT_DAY + 2 * HOUR, report_dir=None, accounts=ACCOUNTS)
    async with sessions() as session:
        stored = await reports.get(session, DAY)
    assert stored is not None
    assert stored["generated_ms"] == NEXT_DAY + 2 * HOUR


def test_the_runbook_script_generates_the_report(seeded: None, database_url: str, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "TITAN_VAR_DIR": str(tmp_path / "var"),
        "TITAN_EXCHANGE": ACCOUNTS[0],
        "COLUMNS": "200",
    }
    env.pop("REDIS_URL", None)
    done = subprocess.run(
        [str(ROOT / "scripts" / "generate-daily-report.sh"), "--date", DAY, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    printed = json.loads(done.stdout)
    assert printed["daily_pnl_usd"] == "100.00"
    assert printed["signal_success_rate_pct"] == "75.00"
    assert (tmp_path / "var" / "reports" / f"daily-{DAY}.html").exists()

    table = subprocess.run(
        [str(ROOT / "scripts" / "generate-daily-report.sh"), "--date", DAY],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert table.returncode == 0, table.stdout + table.stderr
    for text in ("$100.00 (1.00%)", "3.00%", "90.00%", "Trades executed", "75.00%", "50.00%", "0.36"):
        assert text in table.stdout

    bad = subprocess.run(
        [str(ROOT / "scripts" / "generate-daily-report.sh"), "--date", "14/03/2025"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2
    assert "YYYY-MM-DD" in bad.stdout
