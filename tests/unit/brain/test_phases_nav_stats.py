"""Phases with hysteresis and blended allocation, the Sharpe modifier, NAV, statistics, risk."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tests.unit.brain.builders import NOW, market, position
from titan_brain.core.nav import Nav, restore_nav, treasury
from titan_brain.core.phases import (
    SharpeRule,
    allocation_weight,
    effective_max_leverage,
    effective_risk_pct,
    next_phase,
    performance_modifier,
    phase_weights,
)
from titan_brain.core.risk import risk_metrics
from titan_brain.core.stats import beta, correlation, extreme_return
from titan_brain.core.types import pair
from titan_common.config import RiskTuner, TradingConfig
from titan_common.messages import Side

CONFIG = TradingConfig()
DAY = 86_400_000


@pytest.mark.parametrize(
    ("equity", "current", "expected"),
    [
        ("100", None, 1),
        ("5000", None, 2),
        ("60000", None, 3),
        ("4999.99", 1, 1),
        ("5000", 1, 2),
        ("3000", 2, 2),  # between leave-below 2,500 and enter-at 5,000: stays
        ("2499", 2, 1),
        ("49999", 2, 2),
        ("50000", 2, 3),
        ("30000", 3, 3),
        ("24999", 3, 2),
        ("1000", 3, 1),  # a crash drops straight through
        ("80000", 1, 3),
    ],
)
def test_phase_hysteresis(equity: str, current: int | None, expected: int) -> None:
    assert next_phase(D(equity), current, CONFIG) == expected


def test_allocation_weights_blend_smoothly_and_sum_to_one() -> None:
    previous = None
    for dollars in range(0, 80_001, 250):
        weights = phase_weights(D(dollars), CONFIG)
        assert sum(weights) == 1
        assert all(0 <= w <= 1 for w in weights)
        if previous is not None:  # no jump bigger than one 250-dollar step of a 2,500-wide band
            assert max(abs(a - b) for a, b in zip(weights, previous, strict=True)) <= D("0.1")
        previous = weights
    assert phase_weights(D(1000), CONFIG) == (1, 0, 0)
    assert phase_weights(D(3750), CONFIG) == (D("0.5"), D("0.5"), 0)
    assert phase_weights(D(10000), CONFIG) == (0, 1, 0)
    assert phase_weights(D(100000), CONFIG) == (0, 0, 1)


def test_allocation_weight_blends_the_phases_configured_weights() -> None:
    raw = CONFIG.model_dump(mode="json")
    raw["phases"][0]["allocation_weight"] = "1"
    raw["phases"][1]["allocation_weight"] = "0.5"
    config = TradingConfig.model_validate(raw)
    assert allocation_weight(D(1000), config) == 1
    assert allocation_weight(D(3750), config) == D("0.75")
    assert allocation_weight(D(6000), config) == D("0.5")


RULE = SharpeRule()


def test_modifier_stays_at_one_under_ten_trades() -> None:
    assert performance_modifier([D(-5)] * 9, RULE)[0] == 1
    assert performance_modifier([D(5), D(6)] * 4, RULE)[0] == 1


def test_modifier_from_the_per_trade_sharpe() -> None:
    losing = [D(-10), D(-5), D(2)] * 4
    modifier, sharpe = performance_modifier(losing, RULE)
    assert sharpe is not None
    assert sharpe < 0
    assert modifier == D("0.5")
    middling = [D(10), D(-8), D(5), D(-4), D(3)] * 2
    assert performance_modifier(middling, RULE)[0] == 1
    steady = [D(10), D(11), D(9), D(10), D("10.5")] * 2
    modifier, sharpe = performance_modifier(steady, RULE)
    assert sharpe is not None
    assert sharpe > 2
    assert modifier == D("1.2")


def test_risk_pct_is_capped_by_the_phase_range_and_max_risk_per_trade() -> None:
    phase1 = CONFIG.phase(1)
    assert effective_risk_pct(phase1, D(1), CONFIG) == D("0.02")
    assert effective_risk_pct(phase1, D("1.2"), CONFIG) == D("0.02")  # capped by maxRiskPerTrade 2%
    assert effective_risk_pct(phase1, D("0.5"), CONFIG) == D("0.01")
    loose = CONFIG.model_copy(update={"risk_tuner": RiskTuner(max_risk_per_trade=D("0.05"))})
    assert effective_risk_pct(phase1, D("1.2"), loose) == D("0.024")
    assert effective_risk_pct(loose.phase(3), D("1.2"), loose) == D("0.01")  # phase 3's range tops at 1%
    tight = CONFIG.model_copy(update={"risk_tuner": RiskTuner(max_risk_per_trade=D("0.01"), max_leverage=5)})
    assert effective_risk_pct(phase1, D(1), tight) == D("0.01")
    assert effective_max_leverage(phase1, tight) == 5
    assert effective_max_leverage(CONFIG.phase(3), CONFIG) == 2


def test_nav_day_start_watermark_and_drawdown() -> None:
    nav = Nav().observe(D(10000), NOW + 1000)
    assert nav.day_start_equity == D(10000)
    nav = nav.observe(D(10500), NOW + 2000).observe(D(9800), NOW + 3000)
    assert nav.high_watermark == D(10500)
    assert nav.daily_pnl == D(-200)
    assert nav.daily_drawdown == D("0.02")
    assert nav.drawdown == D(700) / D(10500)
    # the first report after midnight takes the last equity before it as the day's start
    tomorrow = nav.observe(D(9900), NOW + DAY + 10)
    assert tomorrow.day_start_equity == D(9800)
    assert tomorrow.daily_pnl == D(100)
    assert tomorrow.daily_drawdown == 0
    # an out-of-order older report changes nothing
    assert tomorrow.observe(D(1), NOW + 5) is tomorrow


def test_nav_freshness_fails_closed() -> None:
    nav = Nav().observe(D(10000), NOW)
    assert nav.fresh_equity(NOW + 59_000, 60_000) == D(10000)
    assert nav.fresh_equity(NOW + 61_000, 60_000) is None
    assert Nav().fresh_equity(NOW, 60_000) is None


def test_nav_restored_from_the_last_snapshot() -> None:
    same_day = restore_nav(D(9000), NOW + 1000, D(10000), D(12000), NOW + 5000)
    assert same_day.day_start_equity == D(10000)
    assert same_day.high_watermark == D(12000)
    next_day = restore_nav(D(9000), NOW + 1000, D(10000), D(12000), NOW + DAY + 5000)
    assert next_day.day_start_equity == D(9000)
    assert restore_nav(None, None, None, None, NOW).equity is None


def test_treasury_figures() -> None:
    nav = Nav().observe(D(10000), NOW).observe(D(11000), NOW + 1).observe(D(10500), NOW + 2)
    figures = treasury(nav, spot_wallet=D(300), total_swept=D(300)).as_dict()
    assert figures == {
        "futuresWallet": "10500",
        "spotWallet": "300",
        "totalSwept": "300",
        "highWatermark": "11000",
        "lockedProfit": "300",
        "riskCapital": "10500",
    }


def _series(start: float, moves: list[float]) -> list[D]:
    prices = [D(str(start))]
    for move in moves:
        prices.append(prices[-1] * D(str(1 + move)))
    return prices


MOVES = [0.01, -0.02, 0.015, 0.003, -0.01, 0.02, -0.005, 0.007, -0.012, 0.009, 0.004, -0.006]


def test_correlation_and_beta() -> None:
    btc = _series(100, MOVES)
    double = _series(50, [2 * m for m in MOVES])
    inverse = _series(10, [-m for m in MOVES])
    c = correlation(btc, double)
    assert c is not None
    assert c > 0.99
    c_inverse = correlation(btc, inverse)
    assert c_inverse is not None
    assert c_inverse < -0.99
    b = beta(double, btc)
    assert b is not None
    assert 1.9 < b < 2.1
    assert correlation(btc[:5], double[:5]) is None  # too short to say anything
    assert correlation(btc, [D(1)] * len(btc)) is None  # flat


def test_extreme_return_within_the_window() -> None:
    samples = [(NOW - 400_000, D(100)), (NOW - 200_000, D(100)), (NOW - 100_000, D(97)), (NOW, D(94))]
    move = extreme_return(samples, NOW, 300_000)
    assert move == D(94) / D(100) - 1  # the sample 400 s ago is outside the 5-minute window
    assert extreme_return(samples[:1], NOW, 300_000) is None


def test_risk_metrics() -> None:
    positions = (
        position("BTCUSDT", Side.BUY, size="0.1", entry="50000"),  # 5,000
        position("ETHUSDT", Side.SELL, size="1", entry="3000", mark_price=D(2500)),  # -2,500
    )
    mkt = market(correlations={pair("BTCUSDT", "ETHUSDT"): 0.9}, betas={"ETHUSDT": 1.5})
    metrics = risk_metrics(positions, D(10000), mkt).as_dict()
    assert metrics == {
        "globalLeverage": "0.7500",
        "netDelta": "2500.00",
        "correlationScore": "-0.9",  # a long and a short in correlated coins hedge
        "portfolioBeta": "0.1250",  # (5000 x 1 - 2500 x 1.5) / 10000
    }
    assert risk_metrics((), None, mkt).as_dict()["globalLeverage"] == "0"
