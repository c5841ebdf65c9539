"""The daily report's figures on a day of records whose answers are worked out by hand."""

from __future__ import annotations

from decimal import Decimal as D

from titan_worker.core.report import (
    MINUTE_MS,
    ClosedTrade,
    DayRecords,
    EquityPoint,
    build_daily_report,
    day_start_ms,
    downsample,
    uptime_fraction,
)
from titan_worker.core.report_html import render_html

DAY = "2026-01-15"
START = day_start_ms(DAY)
END = START + 86_400_000


def point(minute: int, equity: str, day_start: str = "10000") -> EquityPoint:
    return EquityPoint(START + minute * MINUTE_MS + 1_000, D(equity), D(day_start))


def records(**overrides: object) -> DayRecords:
    base: dict[str, object] = {
        "day": DAY,
        "start_ms": START,
        "now_ms": END + 300_000,
        "equity": [point(0, "10000"), point(360, "10200"), point(720, "9894"), point(1439, "10100")],
        "trades": [
            ClosedTrade(START + 1, "BTCUSDT", D("120"), D("2")),
            ClosedTrade(START + 2, "ETHUSDT", D("-50"), D("1")),
            ClosedTrade(START + 3, "BTCUSDT", D("80"), D("1.5")),
            ClosedTrade(START + 4, "SOLUSDT", D("-30"), D("0.5")),
        ],
        "signals_received": 10,
        "decisions_by_verdict": {"APPROVE": 6, "VETO": 2},
        "veto_reasons": {"EDGE_TOO_LOW": 1, "MAX_POSITIONS": 1},
        "audit_by_severity": {"INFO": 40, "WARNING": 3},
        "breaker_trips": 1,
    }
    base.update(overrides)
    return DayRecords(**base)  # type: ignore[arg-type]


def test_figures_match_the_hand_computation() -> None:
    figures = build_daily_report(records(), generated_ms=END + 300_000).figures
    # P&L: 10100 - 10000 = +100, 1.00% of the start
    assert figures["daily_pnl_usd"] == "100.00"
    assert figures["daily_pnl_pct"] == "1.00"
    # peak 10200, trough 9894 after it: 306 / 10200 = 3.00%
    assert figures["max_drawdown_pct"] == "3.00"
    # 4 of 1440 minutes had a snapshot
    assert figures["uptime_pct"] == "0.28"
    assert figures["trades_executed"] == 4
    assert (figures["wins"], figures["losses"]) == (2, 2)
    assert figures["win_rate_pct"] == "50.00"
    # mean 30; deviations 90, -80, 50, -60; sample variance 20600/3; sd 82.865...; 30/82.865 = 0.362
    assert figures["sharpe"] == "0.36"
    assert figures["realised_pnl_usd"] == "120.00"
    assert figures["fees_usd"] == "5.00"
    assert figures["profit_factor"] == "2.50"  # 200 / 80
    assert figures["signals_received"] == 10
    assert figures["signal_success_rate_pct"] == "75.00"  # 6 approvals of 8 decisions
    assert figures["veto_reasons"] == {"EDGE_TOO_LOW": 1, "MAX_POSITIONS": 1}
    assert figures["breaker_trips"] == 1
    assert figures["symbols_traded"] == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]


def test_an_empty_day_has_no_figures_it_cannot_know() -> None:
    figures = build_daily_report(
        records(equity=[], trades=[], signals_received=0, decisions_by_verdict={}, veto_reasons={}),
        generated_ms=END,
    ).figures
    assert figures["daily_pnl_usd"] is None
    assert figures["max_drawdown_pct"] is None
    assert figures["uptime_pct"] == "0.00"
    assert figures["trades_executed"] == 0
    assert figures["win_rate_pct"] is None
    assert figures["sharpe"] is None
    assert figures["signal_success_rate_pct"] is None


def test_start_equity_falls_back_to_the_first_snapshot_without_a_day_start() -> None:
    figures = build_daily_report(
        records(equity=[point(10, "5000", "0"), point(20, "4750", "0")]), generated_ms=END
    ).figures
    assert figures["start_equity"] == "5000.00"
    assert figures["daily_pnl_usd"] == "-250.00"
    assert figures["daily_pnl_pct"] == "-5.00"
    assert figures["max_drawdown_pct"] == "5.00"


def test_uptime_counts_minutes_with_a_snapshot_up_to_now_for_a_running_day() -> None:
    stamps = [START + m * MINUTE_MS for m in range(0, 60)] + [START + 59 * MINUTE_MS + 30_000]
    # an hour into the day: 60 of 60 minutes
    assert uptime_fraction(stamps, START, START + 60 * MINUTE_MS) == 1
    # over two hours: half
    assert uptime_fraction(stamps, START, START + 120 * MINUTE_MS) == D("0.5")
    assert uptime_fraction(stamps, START, START) is None
    report = build_daily_report(
        records(equity=[point(m, "10000") for m in range(90)], now_ms=START + 120 * MINUTE_MS), generated_ms=0
    )
    assert report.figures["uptime_pct"] == "75.00"


def test_the_chart_is_downsampled_but_keeps_the_last_point() -> None:
    points = [point(m, str(10000 + m)) for m in range(1440)]
    chosen = downsample(points, 288)
    assert len(chosen) == 288
    assert chosen[0] == points[0]
    assert chosen[-1] == points[-1]
    assert downsample(points[:5], 288) == points[:5]


def test_html_shows_the_figures_and_an_equity_chart() -> None:
    report = build_daily_report(records(), generated_ms=END)
    html = render_html(report)
    assert "<polyline" in html
    assert "Titan daily report: 2026-01-15" in html
    for text in ("$100.00", "1.00%", "3.00%", "50.00%", "0.36", "75.00%", "EDGE_TOO_LOW: 1"):
        assert text in html
    empty = render_html(build_daily_report(records(equity=[]), generated_ms=END))
    assert "no equity snapshots this day" in empty


def test_html_escapes_what_it_shows() -> None:
    report = build_daily_report(records(veto_reasons={"<script>": 1}), generated_ms=END)
    assert "<script>" not in render_html(report)
    assert report.as_json()["equity_curve"][0] == {"ts_ms": START + 1_000, "equity": "10000.00"}
