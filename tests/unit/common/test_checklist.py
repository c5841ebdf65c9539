"""The checklists' rules: every box of a healthy reading holds, each failing reading fails
its own box by name, what a person judges is MANUAL, and the sign-off line carries the
end of day's figures."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest

from titan_ops.checklist import CHECKLISTS, Limits, Readings, Verdict, boxes_for, holds, sign_off_line


def healthy() -> Readings:
    checks = {"db": {"ok": True}, "redis": {"ok": True}}
    health: dict[str, dict[str, Any] | None] = {
        name: {"status": "ok", "uptime": 3600.0, "checks": dict(checks)}
        for name in ("brain", "execution", "console", "scavenger")
    }
    assert health["execution"] is not None
    health["execution"]["checks"]["exchange"] = {"name": "bybit", "connected": True}
    return Readings(
        health=health,
        response_s=dict.fromkeys(health, 0.01),
        cpu_pct=dict.fromkeys(health, 2.0),
        rss_mb=dict.fromkeys(health, 110.0),
        machine_cpu_pct=20.0, memory_pct=40.0, disk_free_pct=60.0, load_1m=0.5, cores=2, swap_pct=0.0,
        postgres_ok=True, db_size_bytes=10_000_000, db_size_day_before=9_500_000, db_connections=12,
        redis_ok=True, redis_memory_mb=3.0, master_armed=True, breaker_active=False,
        config={"risk_tuner": {"maxRiskPerTrade": "0.02"}, "asset_whitelist": ["BTCUSDT"], "max_open_positions": 3,
                "max_position_pct": "0.5"},
        orphans=0, missing_stops=0, positions=[], equity=D(10_000),
        funding={"BTCUSDT": D("0.0001")}, price_range_pct={"BTCUSDT": 2.1, "ETHUSDT": 3.0},
        critical_log_lines=0, warning_log_lines=12, backups_ok=True, backup_detail="3 backup(s)",
    )  # fmt: skip


def no_problems(_config: dict[str, Any]) -> list[str]:
    return []


@pytest.mark.parametrize("name", CHECKLISTS)
def test_every_checkable_box_of_a_healthy_reading_holds(name: str) -> None:
    boxes = boxes_for(name, healthy(), Limits(), no_problems)
    assert boxes
    assert holds(boxes), [b.line() for b in boxes if b.verdict is Verdict.FAILS]


@pytest.mark.parametrize(
    ("change", "failing"),
    [
        ({"redis_ok": False}, "Redis PONG"),
        ({"master_armed": False}, "master arm enabled"),
        ({"breaker_active": True}, "circuit breaker not active"),
        ({"orphans": 1}, "no orphaned positions"),
        ({"load_1m": 2.5}, "load average < 2"),
        ({"db_connections": 25}, "active connections < 20"),
        ({"db_size_bytes": 12_000_000}, "database size growth"),
        ({"funding": {"BTCUSDT": D("0.002")}}, "no extreme funding"),
        ({"critical_log_lines": 3}, "no critical errors"),
    ],
)
def test_a_failing_reading_fails_its_own_box(change: dict[str, Any], failing: str) -> None:
    readings = healthy()
    for key, value in change.items():
        setattr(readings, key, value)
    boxes = boxes_for("premarket", readings, Limits(), no_problems)
    failed = [b for b in boxes if b.verdict is Verdict.FAILS]
    assert [b.text for b in failed if failing in b.text], [b.line() for b in failed]
    assert not holds(boxes)


def test_a_service_that_does_not_answer_fails_its_box_and_the_no_stopped_box() -> None:
    readings = healthy()
    readings.health["scavenger"] = None
    failed = {b.text for b in boxes_for("premarket", readings, Limits(), no_problems) if b.verdict is Verdict.FAILS}
    assert "scavenger status ok, uptime > 0" in failed
    assert "no service errored or stopped" in failed


def test_what_a_person_judges_is_manual_and_does_not_fail() -> None:
    boxes = boxes_for("premarket", healthy(), Limits(), no_problems)
    manual = [b.text for b in boxes if b.verdict is Verdict.MANUAL]
    assert any("news" in text for text in manual)


def test_the_end_of_day_sign_off_carries_its_figures() -> None:
    boxes = boxes_for("eod", healthy(), Limits(), no_problems)
    daily = {"pnl": "12.50", "pnl_pct": "0.13", "max_drawdown_pct": "0.40", "uptime_pct": "100.0", "trades": 3,
             "signal_success_pct": "75.0"}  # fmt: skip
    line = sign_off_line("eod", "alice", "Mon Dec 07 23:00:00 UTC 2026", boxes, daily)
    assert line.startswith("Mon Dec 07 23:00:00 UTC 2026: End-of-day procedures completed successfully")
    for part in ("Operator: alice", "Daily P&L: $12.50 (0.13%)", "Max Drawdown: 0.40%", "System Uptime: 100.0%",
                 "Trades Executed: 3", "Signal Success Rate: 75.0%"):  # fmt: skip
        assert part in line
    assert "Pre-market check completed" in sign_off_line("premarket", "bob", "t", boxes, {})
