# GOVERNANCE PHASE 1 — LOCKED
# Changes need explicit approval and a security review, then `titan governance lock`.
"""The approval pipeline: `evaluate(signal, portfolio, config, market) -> Decision`.

Checks run in a fixed order and the first that fails decides the veto, with its reason
code (the order below is the contract; tests make each one the deciding rule). The first
three are the system's switches: a veto names every one of them that blocks (for example
MASTER_DISARMED and BREAKER_ACTIVE after a trip), the first deciding.

    1  MODE_NOT_NORMAL          the system is not NORMAL
    2  MASTER_DISARMED          master arm is off
    3  BREAKER_ACTIVE           the circuit breaker is tripped
    4  SIGNAL_STALE             past its ttl
       SIGNAL_INVALID           stop or target on the wrong side, stamped in the future
    5  VENUE_NOT_ENABLED        the signal's venue does not run here (TITAN_VENUES), or the
                                config gives it no share of the allocation
       VENUE_NO_SHORT           a short on a spot venue (long-only)
       SYMBOL_NOT_WHITELISTED
       SYMBOL_QUARANTINED       quarantined, or the exchange does not trade it
    6  DUPLICATE_POSITION       a position (or an approved entry) on the symbol and venue already
    7  MAX_POSITIONS
    8  EQUITY_UNKNOWN           no fresh equity, or no wallet report yet today (the day's
                                loss is unknown), or a spot venue's spendable balance is
                                unknown: nothing can be sized (fail closed)
       DAILY_LOSS_LIMIT         the day's loss reached maxDailyDrawdown
    9  EDGE_TOO_LOW             expected move below min_edge_fee_multiple x the round trip's
                                costs (taker fees and slippage, entry and exit at the target)
   10  COST_TOO_HIGH            the costs of a round trip to the stop are more than
                                max_cost_share of the loss at the stop (a stop too close)
   11  LEVERAGE_CAP             the account's leverage budget leaves no tradable size
   12  SIZE_ZERO                the sized order is below the exchange's minimum

Rules 9, 10 and the sizing price costs with one function (sizing.round_trip_costs). An
approval shows them: expected_fees_usd and risk_with_costs_usd (within the risk budget).
An approval may carry CORRELATION_REDUCED: a correlated open position on the same side
halved its size.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal

from titan_brain.core.phases import allocation_weight
from titan_brain.core.sizing import Sizing, loss_at_stop, round_trip_costs, size_position
from titan_brain.core.types import Market, Portfolio
from titan_common.config import TradingConfig
from titan_common.messages import Decision, Side, Signal, Verdict
from titan_common.reasons import ReasonCode
from titan_common.system_state import Mode

# a signal stamped further ahead of our clock than this is not trusted
FUTURE_TOLERANCE_MS = 5_000
_DECISION_NAMESPACE = uuid.UUID("5f1b7c1e-6a55-4c1e-9a64-7b7a3c0d2e11")


def decision_id_for(signal_id: str) -> str:
    """Deterministic, so evaluating a redelivered signal names the same decision."""
    return uuid.uuid5(_DECISION_NAMESPACE, signal_id).hex


def signal_problem(signal: Signal, now_ms: int) -> str | None:
    """Why a signal cannot be traded as given, or None."""
    entry, stop = signal.entry_price, signal.stop_loss
    if signal.side is Side.BUY and stop >= entry:
        return "stop is not below the entry of a buy"
    if signal.side is Side.SELL and stop <= entry:
        return "stop is not above the entry of a sell"
    for target in signal.take_profits:
        if (signal.side is Side.BUY and target <= entry) or (signal.side is Side.SELL and target >= entry):
            return "take-profit on the wrong side of the entry"
    if signal.ts_ms > now_ms + FUTURE_TOLERANCE_MS:
        return "stamped in the future"
    return None


def expected_move(signal: Signal) -> Decimal | None:
    """The expected move as a fraction of entry: the signal's own, else its first target."""
    if signal.expected_move_pct is not None:
        return signal.expected_move_pct
    if signal.take_profits:
        return abs(signal.take_profits[0] - signal.entry_price) / signal.entry_price
    return None


def edge_needed(signal: Signal, move: Decimal, config: TradingConfig) -> Decimal:
    """The smallest move (a fraction of entry) that pays min_edge_fee_multiple x the costs
    of a round trip that exits at the expected move."""
    entry = signal.entry_price
    target = entry * (1 + move) if signal.side is Side.BUY else entry * (1 - move)
    return config.min_edge_fee_multiple * round_trip_costs(entry, target, config).total / entry


@dataclass(frozen=True)
class Evaluation:
    decision: Decision
    sizing: Sizing | None = None
    detail: str = ""


def evaluate_detailed(signal: Signal, portfolio: Portfolio, config: TradingConfig, market: Market) -> Evaluation:
    """`evaluate`, with the sizing and a one-line explanation for the record."""
    correlation = signal.correlation.model_copy(
        update={"signal_id": signal.signal_id, "decision_id": decision_id_for(signal.signal_id)}
    )

    def veto(reason: ReasonCode | tuple[ReasonCode, ...], detail: str, sizing: Sizing | None = None) -> Evaluation:
        decision = Decision(
            decision_id=decision_id_for(signal.signal_id),
            signal_id=signal.signal_id,
            ts_ms=market.now_ms,
            correlation=correlation,
            verdict=Verdict.VETO,
            reasons=reason if isinstance(reason, tuple) else (reason,),
            exchange=signal.exchange,
            symbol=signal.symbol,
            side=signal.side,
            entry_price=signal.entry_price,
            phase=portfolio.phase,
        )
        return Evaluation(decision, sizing, detail)

    # the system's switches: every one that blocks is named, the first decides
    blocked = [
        (reason, why)
        for failing, reason, why in (
            (portfolio.system_mode is not Mode.NORMAL, ReasonCode.MODE_NOT_NORMAL,
             f"system mode is {portfolio.system_mode}"),
            (not portfolio.master_armed, ReasonCode.MASTER_DISARMED, "master arm is off"),
            (portfolio.breaker_active, ReasonCode.BREAKER_ACTIVE, "the circuit breaker is active"),
        )
        if failing
    ]  # fmt: skip
    if blocked:
        return veto(tuple(reason for reason, _ in blocked), "; ".join(why for _, why in blocked))
    if market.now_ms > signal.expires_at_ms():
        return veto(ReasonCode.SIGNAL_STALE, f"expired {market.now_ms - signal.expires_at_ms()} ms ago")
    problem = signal_problem(signal, market.now_ms)
    if problem is not None:
        return veto(ReasonCode.SIGNAL_INVALID, problem)
    if not market.runs(signal.exchange):
        return veto(ReasonCode.VENUE_NOT_ENABLED, f"{signal.exchange} does not run here (TITAN_VENUES)")
    if config.venue_share(signal.exchange) <= 0:
        return veto(ReasonCode.VENUE_NOT_ENABLED, f"the config gives {signal.exchange} no share of the allocation")
    spot = market.is_spot(signal.exchange)
    if spot and signal.side is Side.SELL:
        return veto(ReasonCode.VENUE_NO_SHORT, f"{signal.exchange} is a spot venue: long only")
    if signal.symbol not in config.asset_whitelist:
        return veto(ReasonCode.SYMBOL_NOT_WHITELISTED, f"{signal.symbol} is not on the whitelist")
    instrument = market.instrument(signal.exchange, signal.symbol)
    if signal.symbol in market.quarantined or (instrument is not None and not instrument.trading):
        return veto(ReasonCode.SYMBOL_QUARANTINED, f"{signal.symbol} is quarantined")
    if portfolio.position(signal.symbol, signal.exchange) is not None:
        return veto(
            ReasonCode.DUPLICATE_POSITION, f"a position in {signal.symbol} on {signal.exchange} is open or approved"
        )
    if len(portfolio.positions) >= config.max_open_positions:
        return veto(ReasonCode.MAX_POSITIONS, f"{len(portfolio.positions)} positions open")
    if portfolio.equity is None or portfolio.equity <= 0:
        return veto(ReasonCode.EQUITY_UNKNOWN, "no fresh equity from execution")
    drawdown = portfolio.daily_drawdown
    if drawdown is None:
        return veto(ReasonCode.EQUITY_UNKNOWN, "no wallet report yet today: the day's loss is unknown")
    if drawdown >= config.risk_tuner.max_daily_drawdown:
        return veto(ReasonCode.DAILY_LOSS_LIMIT, f"daily drawdown {drawdown:.4f}")
    if spot and portfolio.spendable.get(signal.exchange) is None:
        return veto(
            ReasonCode.EQUITY_UNKNOWN, f"no balance report from {signal.exchange} yet: a spot buy is paid in full"
        )
    move = expected_move(signal)
    if move is None:
        return veto(ReasonCode.EDGE_TOO_LOW, "no expected move and no target")
    needed = edge_needed(signal, move, config)
    if move < needed:
        return veto(ReasonCode.EDGE_TOO_LOW, f"expected move {move} below {needed:.6f}")
    stop_costs = round_trip_costs(signal.entry_price, signal.stop_loss, config).total
    unit_loss = loss_at_stop(signal.entry_price, signal.stop_loss, config)
    if stop_costs > config.max_cost_share * unit_loss:  # no division: exact at the boundary
        share = stop_costs / unit_loss
        return veto(
            ReasonCode.COST_TOO_HIGH,
            f"costs are {share:.2%} of the loss at the stop, above max_cost_share {config.max_cost_share:.2%}",
        )

    allocation = allocation_weight(portfolio.equity, config) * config.venue_share(signal.exchange)
    sizing = size_position(signal, portfolio, config, market, allocation=allocation)
    if sizing.veto is not None:
        return veto(sizing.veto, f"no tradable size ({sizing.binding} cap)", sizing)
    reasons = (ReasonCode.CORRELATION_REDUCED,) if sizing.correlated_with else ()
    decision = Decision(
        decision_id=decision_id_for(signal.signal_id),
        signal_id=signal.signal_id,
        ts_ms=market.now_ms,
        correlation=correlation,
        verdict=Verdict.APPROVE,
        reasons=reasons,
        exchange=signal.exchange,
        symbol=signal.symbol,
        side=signal.side,
        qty=sizing.qty,
        leverage=sizing.leverage,
        risk_usd=sizing.risk_usd,
        expected_fees_usd=sizing.fees_usd,
        risk_with_costs_usd=sizing.risk_with_costs_usd,
        entry_price=signal.entry_price,
        stop_loss=signal.stop_loss,
        take_profit=signal.take_profits[0] if signal.take_profits else None,
        phase=portfolio.phase,
    )
    return Evaluation(decision, sizing, f"sized by the {sizing.binding} cap")


def evaluate(signal: Signal, portfolio: Portfolio, config: TradingConfig, market: Market) -> Decision:
    """Approve with a sized order, or veto with the first failing rule's reason code."""
    return evaluate_detailed(signal, portfolio, config, market).decision
