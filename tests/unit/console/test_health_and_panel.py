"""Aggregate health, the operations panel's ordering and churn, the STATE_UPDATE view (pure)."""

from __future__ import annotations

from decimal import Decimal

from titan_common.reasons import ReasonCode
from titan_common.system_state import Mode, SystemState
from titan_console.core.health import Overall, ServiceView, overall, service_status
from titan_console.core.ops_panel import (
    ChurnSample,
    churn,
    order_alerts,
    order_intents,
    parse_counter,
    trim_samples,
)
from titan_console.core.snapshot import breaker_from_events, equity_view, state_update

OK = ServiceView(True, "ok", True)


def _all(**overrides: ServiceView) -> dict[str, ServiceView]:
    return {name: overrides.get(name, OK) for name in ("brain", "execution", "scavenger", "console")}


def test_all_well_is_healthy() -> None:
    status, why = overall(_all(), database_ok=True, redis_ok=True, exchange_connected=True, system_mode=Mode.NORMAL)
    assert (status, why) == (Overall.HEALTHY, [])


def test_degraded_and_unhealthy_reasons() -> None:
    degraded = _all(brain=ServiceView(True, "degraded", True))
    assert overall(degraded, database_ok=True, redis_ok=True, exchange_connected=True, system_mode=Mode.DEGRADE) == (
        Overall.DEGRADED,
        ["brain degraded", "system mode DEGRADE"],
    )
    beat_only = _all(scavenger=ServiceView(False, None, True))
    assert service_status(beat_only["scavenger"]) == "degraded"
    down = _all(scavenger=ServiceView(False, None, False))
    status, why = overall(down, database_ok=True, redis_ok=True, exchange_connected=True, system_mode=Mode.PAUSE)
    assert status is Overall.UNHEALTHY
    assert why[0] == "scavenger down"
    status, why = overall(_all(), database_ok=False, redis_ok=True, exchange_connected=None, system_mode=Mode.PAUSE)
    assert status is Overall.UNHEALTHY
    assert why[:1] == ["postgres unreachable"]
    status, why = overall(_all(), database_ok=True, redis_ok=True, exchange_connected=False, system_mode=Mode.NORMAL)
    assert (status, why) == (Overall.DEGRADED, ["exchange not connected"])


def test_alerts_unacked_first_then_severity_then_newest() -> None:
    alerts = [
        {"id": 1, "severity": "WARNING", "ts_ms": 5, "acknowledged_ms": None},
        {"id": 2, "severity": "CRITICAL", "ts_ms": 1, "acknowledged_ms": None},
        {"id": 3, "severity": "CRITICAL", "ts_ms": 9, "acknowledged_ms": 10},
        {"id": 4, "severity": "CRITICAL", "ts_ms": 3, "acknowledged_ms": None},
        {"id": 5, "severity": "HIGH", "ts_ms": 8, "acknowledged_ms": None},
    ]
    assert [a["id"] for a in order_alerts(alerts)] == [4, 2, 5, 1, 3]


def test_intents_sent_unknown_first_and_the_five_always_shown() -> None:
    rows = order_intents({"FILLED": 7, "SENT_UNKNOWN": 1, "ODD": 2})
    assert [r["state"] for r in rows] == [
        "SENT_UNKNOWN",
        "CREATED",
        "CONFIRMED",
        "NOT_FOUND",
        "FAILED_TERMINAL",
        "FILLED",
        "ODD",
    ]
    assert rows[0]["count"] == 1
    assert rows[1]["count"] == 0


def test_parse_counter_and_churn_windows() -> None:
    text = "\n".join(
        [
            "# HELP titan_execution_cancel_replace_total x",
            'titan_execution_cancel_replace_total{symbol="BTCUSDT"} 12.0',
            'titan_execution_cancel_replace_total{symbol="ETHUSDT"} 3.0',
            'titan_execution_cancel_replace_created{symbol="BTCUSDT"} 1.7e9',
            "titan_other 5",
        ]
    )
    assert parse_counter(text, "titan_execution_cancel_replace_total", "symbol") == {"BTCUSDT": 12.0, "ETHUSDT": 3.0}
    samples = [
        ChurnSample(0, {"BTCUSDT": 0.0}),
        ChurnSample(50_000, {"BTCUSDT": 2.0, "ETHUSDT": 1.0}),
        ChurnSample(60_000, {"BTCUSDT": 11.0, "ETHUSDT": 1.0}),
    ]
    result = churn(samples, 60_000, limit_10s=10, limit_60s=30)
    assert result["window_10s"] == {"BTCUSDT": 9}
    assert result["window_60s"] == {"BTCUSDT": 11, "ETHUSDT": 1}
    assert result["top_symbol"] == {"symbol": "BTCUSDT", "count_60s": 11}
    assert result["near_limit"] is True
    assert churn([], 0, limit_10s=10, limit_60s=30)["available"] is False
    trimmed = trim_samples([ChurnSample(t, {}) for t in range(0, 200_000, 10_000)], 200_000)
    assert trimmed[0].ts_ms == 120_000
    assert trimmed[-1].ts_ms == 190_000


def test_equity_prefers_fresh_wallet_and_rebases_daily_pnl() -> None:
    day = 86_400_000
    snapshot = {"ts_ms": 10 * day + 1_000, "equity": "1000", "day_start_equity": "990", "daily_pnl": "10",
                "drawdown_pct": "0.01", "phase": 1}  # fmt: skip
    now = 10 * day + 5_000
    fresh = equity_view({"equity": "1005.5", "unrealised_pnl": "3"}, now - 1_000, snapshot, now)
    assert (fresh.equity, fresh.source, fresh.daily_pnl, fresh.phase) == (
        Decimal("1005.5"),
        "wallet",
        Decimal("15.5"),
        1,
    )
    stale = equity_view({"equity": "1005.5"}, now - 60_000, snapshot, now)
    assert (stale.equity, stale.source, stale.daily_pnl) == (Decimal("1000"), "snapshot", Decimal("10"))
    # a day-start from another day is not today's
    assert equity_view({"equity": "1005.5"}, now + day, snapshot, now + day).daily_pnl is None
    assert equity_view({"equity": "1005.5"}, now, snapshot, now + day).daily_pnl is None
    assert equity_view(None, None, None, now).equity is None


def test_state_update_carries_what_the_issue_lists() -> None:
    message = state_update(
        ts_ms=1,
        equity=equity_view({"equity": "100"}, 1, None, 1),
        master_arm=False,
        system=SystemState(mode=Mode.PAUSE, reasons=(ReasonCode.KILL_SWITCH,), since_ms=1),
        kill_switch=True,
        breaker=None,
        positions=[{"symbol": "BTCUSDT", "size": "0.01", "unrealizedPnl": "1.5", "stopLoss": "60000"}],
        positions_ok=True,
        system_mode="PAPER",
    )
    data = message["data"]
    assert message["type"] == "STATE_UPDATE"
    for key in ("equity", "dailyPnl", "phase", "masterArm", "mode", "reasonCodes", "positions"):
        assert key in data
    assert data["mode"] == "PAUSE"
    assert data["reasonCodes"] == ["KILL_SWITCH"]
    assert data["positions"][0]["stopLoss"] == "60000"
    assert data["positions"][0]["unrealizedPnl"] == "1.5"


def test_breaker_from_events() -> None:
    assert breaker_from_events([], 0)["active"] is False
    rows = [{"action": "TRIP", "level": "SOFT", "reason": "dd", "ts_ms": 5, "payload": {"until_ms": 9}},
            {"action": "RESET", "level": "SOFT", "reason": "ok", "ts_ms": 1, "payload": {}}]  # fmt: skip
    tripped = breaker_from_events(rows, 6)
    assert tripped["active"] is True
    assert tripped["cooldown_until_ms"] == 9
    assert breaker_from_events(list(reversed(rows)), 6)["active"] is False


def test_a_snapshot_older_than_its_bound_is_degraded_and_says_how_old() -> None:
    fresh = overall(_all(), database_ok=True, redis_ok=True, exchange_connected=True, system_mode=Mode.NORMAL,
                    snapshot_age_ms=900, snapshot_max_age_ms=5_000)  # fmt: skip
    assert fresh == (Overall.HEALTHY, [])
    status, why = overall(_all(), database_ok=True, redis_ok=True, exchange_connected=True, system_mode=Mode.NORMAL,
                          snapshot_age_ms=7_250, snapshot_max_age_ms=5_000)  # fmt: skip
    assert status is Overall.DEGRADED
    assert why == ["snapshot is 7250 ms old"]


def test_redis_down_is_degraded_with_the_age_and_never_hides_a_real_failure() -> None:
    """Redis unreachable: the snapshot stops refreshing and entries are blocked, but every
    service is up and the emergency actions work over HTTP: degraded, saying how long."""
    redis_only = ServiceView(True, "unhealthy", False, failing=frozenset({"redis"}), mode="PAUSE")
    services = _all(brain=redis_only, execution=redis_only, scavenger=redis_only)
    assert service_status(redis_only) == "degraded"
    status, why = overall(services, database_ok=True, redis_ok=False, exchange_connected=True,
                          system_mode=Mode.PAUSE, snapshot_age_ms=1_500)  # fmt: skip
    assert status is Overall.DEGRADED
    assert why[0] == "redis unreachable: no heartbeats or events for 1500 ms, new entries blocked"
    assert "execution degraded" in why
    # a service that also lost Postgres, or is in EXIT, is still unhealthy
    both = ServiceView(True, "unhealthy", False, failing=frozenset({"redis", "db"}), mode="PAUSE")
    exiting = ServiceView(True, "unhealthy", False, failing=frozenset({"redis"}), mode="EXIT")
    assert service_status(both) == service_status(exiting) == "unhealthy"
    status, why = overall(_all(execution=both), database_ok=True, redis_ok=False, exchange_connected=True,
                          system_mode=Mode.PAUSE)  # fmt: skip
    assert status is Overall.UNHEALTHY
    assert why[0] == "execution unhealthy"
