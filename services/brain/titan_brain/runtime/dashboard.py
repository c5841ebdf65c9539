"""The bodies of the brain's read endpoints, from its state (cheap, no I/O)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from titan_brain.core.nav import Nav, treasury, utc_day_of
from titan_brain.core.phases import allocation_weight, effective_max_leverage, effective_risk_pct, phase_weights
from titan_brain.core.risk import risk_metrics
from titan_brain.runtime.state import BrainState
from titan_common.db.models import BreakerEvent


def money(value: Decimal | None, places: str = "0.01") -> str | None:
    return None if value is None else str(value.quantize(Decimal(places)))


def ratio(value: Decimal | None) -> str | None:
    return None if value is None else str(value.quantize(Decimal("0.000001")))


def nav_body(nav: Nav, now_ms: int, max_age_ms: int) -> dict[str, Any]:
    return {
        "equity": money(nav.equity),
        "walletBalance": money(nav.wallet_balance),
        "unrealisedPnl": money(nav.unrealised_pnl),
        "availableBalance": money(nav.available_balance),
        "dayStartEquity": money(nav.day_start_equity),
        "dailyPnl": money(nav.daily_pnl),
        "dailyDrawdown": ratio(nav.daily_drawdown),
        "highWatermark": money(nav.high_watermark),
        "drawdown": ratio(nav.drawdown),
        "updatedAt": nav.updated_ms,
        "fresh": nav.fresh_equity(now_ms, max_age_ms) is not None,
    }


def breaker_body(state: BrainState, now_ms: int, history: Iterable[BreakerEvent] = ()) -> dict[str, Any]:
    breaker = state.breaker
    rules = state.config.config.breaker
    cooldown = breaker.cooldown_until_ms if breaker.active else None
    return {
        "active": breaker.active,
        "level": breaker.level.value if breaker.active and breaker.level else None,
        "reason": breaker.reason if breaker.active else None,
        "trigger": breaker.trigger.value if breaker.active and breaker.trigger else None,
        "tripped_at_ms": breaker.tripped_at_ms if breaker.active else None,
        "cooldown_until_ms": cooldown,
        "cooldown_remaining_ms": max(0, cooldown - now_ms) if cooldown is not None else None,
        "last_change_ms": breaker.changed_ms or None,
        "last_reason": breaker.reason or None,
        "consecutive_losses": state.losses_in_a_row(),
        # what the breaker judges: nothing until today's first wallet report rebases the day
        "daily_drawdown": ratio(state.nav.daily_drawdown_on(utc_day_of(now_ms))),
        "thresholds": {
            "soft_daily_drawdown": str(state.config.config.risk_tuner.max_daily_drawdown),
            "hard_daily_drawdown": str(rules.hard_drawdown),
            "consecutive_losses": rules.consecutive_losses,
            "volatility_symbol": rules.volatility_symbol,
            "volatility_window_ms": rules.volatility_window_ms,
            "volatility_return": str(rules.volatility_return),
            "cooldown_ms": rules.cooldown_ms,
        },
        "recent_events": [
            {
                "ts_ms": e.ts_ms,
                "action": e.action,
                "level": e.level,
                "reason": e.reason,
                "operator_id": e.operator_id,
            }
            for e in history
        ],
    }


def treasury_body(nav: Nav, state: BrainState) -> dict[str, str | None]:
    figures: dict[str, str | None] = dict(
        treasury(nav, spot_wallet=state.settings.spot_wallet_usd, total_swept=state.settings.total_swept_usd).as_dict()
    )
    if nav.equity is None:  # unknown is not zero
        figures.update(futuresWallet=None, highWatermark=None, riskCapital=None)
    return figures


def nav_number(nav: Nav) -> float | None:
    """`.nav` as the reference and the runbook read it (`jq '.nav'`, "current equity"): a
    JSON number, the equity to the cent; null while unknown. The detail is `navDetail`."""
    return None if nav.equity is None else float(nav.equity.quantize(Decimal("0.01")))


def dashboard_body(state: BrainState, now_ms: int, recent: list[dict[str, Any]]) -> dict[str, Any]:
    """Exactly the issue's fields: nav (the equity, a number), navDetail, allocation,
    phaseEquity, riskMetrics, treasury, circuitBreaker, recentDecisions (oldest first, the
    last 20), phase."""
    config = state.config.config
    settings = state.settings
    nav = state.nav
    equity = nav.equity
    phase_number = state.phase or 1
    phase = config.phase(phase_number)
    weights = phase_weights(equity, config) if equity is not None else (Decimal(1), Decimal(0), Decimal(0))
    positions = state.open_positions(now_ms)
    return {
        "nav": nav_number(nav),
        "navDetail": nav_body(nav, now_ms, int(settings.equity_max_age_s * 1000)),
        "allocation": {
            "weights": {f"phase{i + 1}": ratio(w) for i, w in enumerate(weights)},
            "allocationWeight": ratio(allocation_weight(equity, config)) if equity is not None else None,
            "capitalUsd": money(allocation_weight(equity, config) * equity) if equity is not None else None,
        },
        "phaseEquity": {
            f"phase{i + 1}": money(w * equity) if equity is not None else None for i, w in enumerate(weights)
        },
        "riskMetrics": risk_metrics(positions, equity, state.market(now_ms)).as_dict(),
        "treasury": treasury_body(nav, state),
        "circuitBreaker": breaker_body(state, now_ms),
        "recentDecisions": recent[-20:],
        "phase": {
            "current": phase_number,
            "riskPct": str(effective_risk_pct(phase, state.modifier, config)),
            "maxLeverage": effective_max_leverage(phase, config),
            "performanceModifier": str(state.modifier),
            "sharpe7d": round(state.sharpe, 4) if state.sharpe is not None and math.isfinite(state.sharpe) else None,
            "trades7d": len(state.trades),
            "openPositions": len(positions),
            "configVersion": state.config.version_tag,
        },
    }
