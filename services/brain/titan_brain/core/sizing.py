# GOVERNANCE PHASE 1 — LOCKED
# Changes need explicit approval and a security review, then `titan governance lock`.
"""Position sizing: risk by the stop with its costs, then every cap, then the exchange's minimum.

    budget   = equity x risk% x performance modifier   (risk% never above the phase's
                                                        range nor maxRiskPerTrade)
    costs    = (taker_fee_rate + slippage_allowance) x (entry + stop)    per unit: a taker
               fee and slippage on the market entry and on the stop's market exit
    qty      = budget / (|entry - stop| + costs)
So the loss at the stop, fees and slippage included, stays within the budget. `risk_usd`
is the price part alone (qty x |entry - stop|); `risk_with_costs_usd` the whole loss.
`round_trip_costs` is the one cost function: EDGE_TOO_LOW and COST_TOO_HIGH use it too.

Caps, each a ceiling on the position's notional (qty x entry):
    ALLOCATION  margin (notional / leverage) <= blended allocation weight x the venue's
                share x equity (the caller passes the product as `allocation`)
    POSITION    margin <= max_position_pct x equity
    LEVERAGE    (open notional + this notional) / equity <= the phase's max leverage
    BALANCE     on a spot venue: notional <= what its account may spend (a spot buy is
                paid in full, at leverage 1)
The margin caps are taken at the highest leverage the position may use; the order's
leverage is then the smallest that keeps its margin within both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum

from titan_brain.core.phases import effective_max_leverage, effective_risk_pct
from titan_brain.core.types import Instrument, Market, Portfolio
from titan_common.config import TradingConfig
from titan_common.messages import Decision, Signal, Verdict
from titan_common.reasons import ReasonCode

ZERO = Decimal(0)
DEFAULT_QTY_STEP = Decimal("0.00000001")


class Limit(StrEnum):
    RISK = "RISK"
    ALLOCATION = "ALLOCATION"
    POSITION = "POSITION"
    LEVERAGE = "LEVERAGE"
    BALANCE = "BALANCE"


@dataclass(frozen=True)
class Sizing:
    qty: Decimal
    leverage: int
    risk_usd: Decimal
    risk_pct: Decimal
    binding: Limit  # the cap that set the size
    caps: dict[Limit, Decimal] = field(default_factory=dict)  # notional ceilings, USD
    correlated_with: str | None = None  # the open position that halved the size
    veto: ReasonCode | None = None
    fees_usd: Decimal = ZERO  # taker fees of the entry and of an exit at the stop
    slippage_usd: Decimal = ZERO  # the slippage allowance on both
    risk_with_costs_usd: Decimal = ZERO  # the loss at the stop: price, fees and slippage

    def as_dict(self) -> dict[str, object]:
        return {
            "qty": str(self.qty),
            "leverage": self.leverage,
            "risk_usd": str(self.risk_usd),
            "fees_usd": str(self.fees_usd),
            "slippage_usd": str(self.slippage_usd),
            "risk_with_costs_usd": str(self.risk_with_costs_usd),
            "risk_pct": str(self.risk_pct),
            "binding": self.binding.value,
            "caps": {k.value: str(v) for k, v in self.caps.items()},
            "correlated_with": self.correlated_with,
            "veto": self.veto.value if self.veto else None,
        }


@dataclass(frozen=True)
class Costs:
    """One unit's costs of a round trip, USD."""

    fees: Decimal
    slippage: Decimal

    @property
    def total(self) -> Decimal:
        return self.fees + self.slippage


def round_trip_costs(entry: Decimal, exit_price: Decimal, config: TradingConfig) -> Costs:
    """Taker fees and the slippage allowance on a market entry at `entry` and a market exit
    at `exit_price`, per unit (both are charged on the traded notional)."""
    traded = entry + max(ZERO, exit_price)
    return Costs(fees=config.taker_fee_rate * traded, slippage=config.slippage_allowance * traded)


def loss_at_stop(entry: Decimal, stop: Decimal, config: TradingConfig) -> Decimal:
    """One unit's loss when the stop is hit, costs included."""
    return abs(entry - stop) + round_trip_costs(entry, stop, config).total


def with_costs(decision: Decision, config: TradingConfig) -> Decision:
    """The decision with its costs shown (expected fees, the loss at the stop with costs)
    from its own qty and stop; none on a veto. Again after the AI gate changed either."""
    entry, stop = decision.entry_price, decision.stop_loss
    if decision.verdict is not Verdict.APPROVE or entry is None or stop is None:
        return decision.model_copy(update={"expected_fees_usd": None, "risk_with_costs_usd": None})
    return decision.model_copy(
        update={
            "expected_fees_usd": decision.qty * round_trip_costs(entry, stop, config).fees,
            "risk_with_costs_usd": decision.qty * loss_at_stop(entry, stop, config),
        }
    )


def quantize_down(qty: Decimal, step: Decimal) -> Decimal:
    if step <= 0:
        step = DEFAULT_QTY_STEP
    return (qty / step).to_integral_value(rounding=ROUND_DOWN) * step


def correlated_position(signal: Signal, portfolio: Portfolio, config: TradingConfig, market: Market) -> str | None:
    """An open position on the same side whose returns move with this symbol's."""
    for position in portfolio.positions:
        if position.symbol == signal.symbol or position.side is not signal.side:
            continue
        correlation = market.correlation(signal.symbol, position.symbol)
        if correlation is not None and correlation > float(config.correlation_threshold):
            return position.symbol
    return None


def size_position(
    signal: Signal,
    portfolio: Portfolio,
    config: TradingConfig,
    market: Market,
    *,
    allocation: Decimal,
) -> Sizing:
    """Size an entry; `veto` is LEVERAGE_CAP or SIZE_ZERO when no tradable size remains.

    The caller has checked that equity is known and positive and the stop is on the right side."""
    equity = portfolio.equity
    assert equity is not None
    assert equity > 0
    phase = config.phase(portfolio.phase)
    instrument: Instrument | None = market.instrument(signal.exchange, signal.symbol)
    spot = market.is_spot(signal.exchange)
    entry = signal.entry_price
    distance = abs(entry - signal.stop_loss)
    costs = round_trip_costs(entry, signal.stop_loss, config)
    unit_loss = distance + costs.total
    risk_pct = effective_risk_pct(phase, portfolio.performance_modifier, config)
    budget = equity * risk_pct
    account_leverage = effective_max_leverage(phase, config)
    position_leverage = min(account_leverage, instrument.max_leverage) if instrument else account_leverage
    if spot:
        position_leverage = 1
    margin_share = min(allocation, config.max_position_pct)

    caps = {
        Limit.RISK: budget / unit_loss * entry,
        Limit.ALLOCATION: allocation * equity * position_leverage,
        Limit.POSITION: config.max_position_pct * equity * position_leverage,
        Limit.LEVERAGE: account_leverage * equity - portfolio.open_notional,
    }
    if spot:  # what the buy costs with its fee and slippage stays within the balance
        caps[Limit.BALANCE] = portfolio.spendable.get(signal.exchange, ZERO) / (
            1 + config.taker_fee_rate + config.slippage_allowance
        )
    binding = min(caps, key=lambda limit: caps[limit])
    notional = caps[binding]

    def refused(reason: ReasonCode) -> Sizing:
        return Sizing(ZERO, 0, ZERO, risk_pct, binding, caps, veto=reason)

    if caps[Limit.LEVERAGE] <= 0:
        return refused(ReasonCode.LEVERAGE_CAP)  # the account's leverage is used up

    qty = notional / entry
    correlated = correlated_position(signal, portfolio, config, market)
    if correlated is not None:
        qty = qty / 2
    step = instrument.qty_step if instrument else DEFAULT_QTY_STEP
    qty = quantize_down(qty, step)
    # guard against a rounding ulp above the cap or the budget
    while qty > 0 and (qty * entry > notional or qty * unit_loss > budget):
        qty -= step if step > 0 else DEFAULT_QTY_STEP

    min_notional = instrument.min_notional if instrument else market.default_min_notional
    min_qty = instrument.min_qty if instrument else ZERO
    if qty <= 0 or qty < min_qty or qty * entry < min_notional:
        return refused(ReasonCode.LEVERAGE_CAP if binding is Limit.LEVERAGE else ReasonCode.SIZE_ZERO)

    final_notional = qty * entry
    needed = math.ceil(final_notional / (margin_share * equity))
    leverage = max(1, min(int(needed), position_leverage))
    return Sizing(
        qty=qty,
        leverage=leverage,
        risk_usd=qty * distance,
        risk_pct=risk_pct,
        binding=binding,
        caps=caps,
        correlated_with=correlated,
        fees_usd=qty * costs.fees,
        slippage_usd=qty * costs.slippage,
        risk_with_costs_usd=qty * unit_loss,
    )
