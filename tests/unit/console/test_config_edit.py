"""Config bounds, diffs and rollback targets (pure)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from titan_common.config import TradingConfig, config_diff
from titan_console.core.config_edit import (
    RISK_BOUNDS,
    ConfigRejected,
    VersionRef,
    apply_phase_risk,
    apply_risk,
    apply_whitelist,
    parse_instant,
    raised_limits,
    rollback_target,
    summary,
)

BASE = TradingConfig()


def test_bounds_are_the_manuals() -> None:
    assert (RISK_BOUNDS["maxRiskPerTrade"].low, RISK_BOUNDS["maxRiskPerTrade"].high) == (
        Decimal("0.01"),
        Decimal("0.05"),
    )
    assert (RISK_BOUNDS["maxDailyDrawdown"].low, RISK_BOUNDS["maxDailyDrawdown"].high) == (
        Decimal("0.03"),
        Decimal("0.10"),
    )
    assert (RISK_BOUNDS["maxLeverage"].low, RISK_BOUNDS["maxLeverage"].high) == (5, 50)


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"maxRiskPerTrade": 0.06}, "maxRiskPerTrade", "between 0.01 and 0.05 (1%-5%); got 0.06"),
        ({"maxRiskPerTrade": 0.005}, "maxRiskPerTrade", "between 0.01 and 0.05"),
        ({"maxDailyDrawdown": 0.2}, "maxDailyDrawdown", "between 0.03 and 0.1 (3%-10%); got 0.2"),
        ({"maxLeverage": 51}, "maxLeverage", "between 5 and 50; got 51"),
        ({"maxLeverage": 4}, "maxLeverage", "between 5 and 50"),
        ({"maxLeverage": 10.5}, "maxLeverage", "whole number between 5 and 50"),
        ({"maxRiskPerTrade": "abc"}, "maxRiskPerTrade", "must be a number"),
        ({"maxRiskPerTrade": True}, "maxRiskPerTrade", "must be a number"),
        ({"maxRiskPerTrade": None}, "maxRiskPerTrade", "must be a number"),
        ({"maxRiskPerTrade": "NaN"}, "maxRiskPerTrade", "must be a number"),
        ({"maxFun": 1}, "maxFun", "not a risk parameter"),
        ({}, "body", "at least one of"),
    ],
)
def test_a_violation_names_the_field_and_the_range(changes: dict[str, object], field: str, words: str) -> None:
    with pytest.raises(ConfigRejected) as caught:
        apply_risk(BASE, changes)
    assert caught.value.field == field
    assert field in str(caught.value)
    assert words in str(caught.value)


def test_the_manuals_example_is_accepted_exactly() -> None:
    updated = apply_risk(BASE, {"maxRiskPerTrade": 0.02, "maxDailyDrawdown": 0.05, "maxLeverage": 20})
    assert updated.risk_tuner.max_risk_per_trade == Decimal("0.02")
    assert updated.risk_tuner.max_daily_drawdown == Decimal("0.05")
    assert updated.risk_tuner.max_leverage == 20
    assert updated.phases == BASE.phases  # the rest is untouched


@given(
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal("0.05"), places=4),
    st.integers(min_value=5, max_value=50),
)
def test_every_value_inside_the_bounds_is_accepted(risk: Decimal, leverage: int) -> None:
    updated = apply_risk(BASE, {"maxRiskPerTrade": str(risk), "maxLeverage": leverage})
    assert updated.risk_tuner.max_risk_per_trade == risk
    assert updated.risk_tuner.max_leverage == leverage


@given(st.decimals(min_value=Decimal("-10"), max_value=Decimal("10"), places=4, allow_nan=False))
def test_every_value_outside_the_bounds_is_refused(value: Decimal) -> None:
    inside = Decimal("0.03") <= value <= Decimal("0.10")
    if inside:
        assert apply_risk(BASE, {"maxDailyDrawdown": str(value)}).risk_tuner.max_daily_drawdown == value
    else:
        with pytest.raises(ConfigRejected, match=r"maxDailyDrawdown must be between 0\.03 and 0\.1"):
            apply_risk(BASE, {"maxDailyDrawdown": str(value)})


def test_phase_risk_stays_in_its_phase_range() -> None:
    assert apply_phase_risk(BASE, 1, 0.03).phase(1).risk_pct == Decimal("0.03")
    with pytest.raises(ConfigRejected, match=r"phases\[1\].risk_pct must be between 0.01 and 0.03 \(1%-3%\)"):
        apply_phase_risk(BASE, 1, 0.031)
    with pytest.raises(ConfigRejected, match=r"phases\[2\].risk_pct must be between 0.01 and 0.025 \(1%-2.5%\)"):
        apply_phase_risk(BASE, 2, 0.03)
    with pytest.raises(ConfigRejected, match="phase must be 1, 2 or 3"):
        apply_phase_risk(BASE, 4, 0.01)


def test_whitelist_add_remove_and_no_ops() -> None:
    added = apply_whitelist(BASE, "add", "adausdt")
    assert added.asset_whitelist[-1] == "ADAUSDT"
    assert apply_whitelist(added, "add", "ADAUSDT") == added
    removed = apply_whitelist(added, "remove", "DOGEUSDT")
    assert "DOGEUSDT" not in removed.asset_whitelist
    assert apply_whitelist(removed, "remove", "DOGEUSDT") == removed
    with pytest.raises(ConfigRejected, match="action must be add or remove"):
        apply_whitelist(BASE, "toggle", "BTCUSDT")
    with pytest.raises(ConfigRejected, match="USDT perpetual"):
        apply_whitelist(BASE, "add", "BTC/EUR")


def test_diff_summary_and_raised_limits() -> None:
    before = BASE.model_dump(mode="json")
    after = apply_whitelist(apply_risk(BASE, {"maxLeverage": 30, "maxRiskPerTrade": 0.01}), "add", "ADAUSDT")
    changes = config_diff(before, after.model_dump(mode="json"))
    assert [c["path"] for c in changes] == ["asset_whitelist", "risk_tuner.maxLeverage", "risk_tuner.maxRiskPerTrade"]
    assert summary(changes) == (
        "asset_whitelist +ADAUSDT; risk_tuner.maxLeverage 20 -> 30; risk_tuner.maxRiskPerTrade 0.02 -> 0.01"
    )
    assert raised_limits(before, after.model_dump(mode="json")) == ["risk_tuner.maxLeverage", "asset_whitelist"]
    lowered = apply_risk(BASE, {"maxLeverage": 10}).model_dump(mode="json")
    assert raised_limits(before, lowered) == []
    phase_up = apply_phase_risk(BASE, 1, 0.03).model_dump(mode="json")
    assert raised_limits(before, phase_up) == ["phases.0.risk_pct"]
    # the costs the sizing assumes: lower costs mean bigger positions, a looser share more of them
    cheaper = BASE.model_copy(update={"slippage_allowance": Decimal(0), "max_cost_share": Decimal("0.9")})
    assert raised_limits(before, cheaper.model_dump(mode="json")) == ["max_cost_share", "slippage_allowance"]
    dearer = BASE.model_copy(update={"taker_fee_rate": Decimal("0.001")})
    assert raised_limits(before, dearer.model_dump(mode="json")) == []


def test_parse_instant() -> None:
    assert parse_instant("2024-12-13T10:30:00Z") == 1734085800000
    assert parse_instant("2024-12-13T10:30:00.250Z") == 1734085800250
    assert parse_instant("2024-12-13T11:30:00+01:00") == 1734085800000
    assert parse_instant("2024-12-13T10:30:00") == 1734085800000  # no offset: UTC
    assert parse_instant("yesterday") is None
    assert parse_instant("") is None


def test_rollback_target_exact_tag_or_the_version_active_then() -> None:
    versions = [
        VersionRef("2024-12-13T10:00:00Z", 1734084000000),
        VersionRef("2024-12-13T10:30:00Z", 1734085800000),
        VersionRef("2024-12-13T11:00:00Z", 1734087600000),
    ]
    assert rollback_target("2024-12-13T10:30:00Z", versions).version_tag == "2024-12-13T10:30:00Z"
    assert rollback_target("2024-12-13T10:45:00Z", versions).version_tag == "2024-12-13T10:30:00Z"
    assert rollback_target("2024-12-13T10:29:59.999Z", versions).version_tag == "2024-12-13T10:00:00Z"
    assert rollback_target("2030-01-01T00:00:00Z", versions).version_tag == "2024-12-13T11:00:00Z"
    assert rollback_target("2020-01-01T00:00:00Z", versions).version_tag == "default"
    assert rollback_target("default", versions).version_tag == "default"
    with pytest.raises(ConfigRejected, match="version_tag must be a version's tag or an ISO-8601 time"):
        rollback_target("last tuesday", versions)
