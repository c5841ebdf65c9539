# GOVERNANCE PHASE 1 — LOCKED
# Changes need explicit approval and a security review, then `titan governance lock`.
"""Phases: which risk regime the account is in, how allocation blends between them, and
the performance modifier from the recent per-trade Sharpe.

A phase is entered when equity reaches its `enter_at_equity` and left when equity falls
below its `leave_below_equity` (hysteresis, so equity hovering at a threshold does not
flip the phase back and forth). Allocation weights do not jump at a threshold: across
each phase's band (leave_below .. enter_at) they move linearly from one phase to the next.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from titan_common.config import PhaseConfig, TradingConfig

ZERO = Decimal(0)
ONE = Decimal(1)


def initial_phase(equity: Decimal, config: TradingConfig) -> int:
    """The phase for an equity with no history: the highest whose entry is reached."""
    phase = 1
    for candidate in config.phases[1:]:
        if equity >= candidate.enter_at_equity:
            phase = candidate.phase
    return phase


def next_phase(equity: Decimal, current: int | None, config: TradingConfig) -> int:
    """The phase after seeing `equity`, with hysteresis around the thresholds."""
    if current is None:
        return initial_phase(equity, config)
    phase = current
    while phase < 3 and equity >= config.phase(phase + 1).enter_at_equity:
        phase += 1
    while phase > 1 and equity < config.phase(phase).leave_below_equity:
        phase -= 1
    return phase


def _ramp(equity: Decimal, phase: PhaseConfig) -> Decimal:
    """0 below the phase's band, 1 above it, linear inside it."""
    low, high = phase.leave_below_equity, phase.enter_at_equity
    if high <= low:
        return ONE if equity >= high else ZERO
    return min(ONE, max(ZERO, (equity - low) / (high - low)))


def phase_weights(equity: Decimal, config: TradingConfig) -> tuple[Decimal, Decimal, Decimal]:
    """Each phase's share of equity: continuous in equity, summing to 1."""
    t2 = _ramp(equity, config.phase(2))
    t3 = _ramp(equity, config.phase(3))
    return (ONE - t2, t2 * (ONE - t3), t2 * t3)


def allocation_weight(equity: Decimal, config: TradingConfig) -> Decimal:
    """The share of equity a position's margin may use: the phases' configured allocation
    weights, blended by the phase weights."""
    weights = phase_weights(equity, config)
    return sum((w * p.allocation_weight for w, p in zip(weights, config.phases, strict=True)), ZERO)


@dataclass(frozen=True)
class SharpeRule:
    """The performance modifier's thresholds (brain settings)."""

    min_trades: int = 10
    low_sharpe: float = 0.0
    high_sharpe: float = 2.0
    low_modifier: Decimal = Decimal("0.5")
    default_modifier: Decimal = ONE
    high_modifier: Decimal = Decimal("1.2")


def per_trade_sharpe(pnls: Sequence[Decimal]) -> float | None:
    """Mean over standard deviation of per-trade PnL (not annualised); None under 2 trades."""
    if len(pnls) < 2:
        return None
    values = [float(p) for p in pnls]
    mean = sum(values) / len(values)
    variance = sum((v - mean) ** 2 for v in values) / (len(values) - 1)
    std = math.sqrt(variance)
    if std == 0.0:
        if mean == 0.0:
            return 0.0
        return math.inf if mean > 0 else -math.inf
    return mean / std


def performance_modifier(pnls: Sequence[Decimal], rule: SharpeRule) -> tuple[Decimal, float | None]:
    """(modifier, sharpe) from the window's closed trades. Too few trades: the default."""
    sharpe = per_trade_sharpe(pnls)
    if len(pnls) < rule.min_trades or sharpe is None:
        return rule.default_modifier, sharpe
    if sharpe < rule.low_sharpe:
        return rule.low_modifier, sharpe
    if sharpe > rule.high_sharpe:
        return rule.high_modifier, sharpe
    return rule.default_modifier, sharpe


def effective_risk_pct(phase: PhaseConfig, modifier: Decimal, config: TradingConfig) -> Decimal:
    """The phase's risk per trade times the modifier, never above the phase's range nor the
    operator's maxRiskPerTrade."""
    return min(phase.risk_pct * modifier, phase.risk_pct_max, config.risk_tuner.max_risk_per_trade)


def effective_max_leverage(phase: PhaseConfig, config: TradingConfig) -> int:
    """The phase's maximum leverage, capped by the operator's maxLeverage."""
    return min(phase.max_leverage, config.risk_tuner.max_leverage)
