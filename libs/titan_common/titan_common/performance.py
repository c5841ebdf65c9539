"""Trading performance figures from closed trades and equity points. Pure Decimal maths.

Shared by the CLI's summaries, the daily report and the brain's performance modifier, so
an operator sees one definition of "win rate" or "Sharpe" everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

ZERO = Decimal(0)


@dataclass(frozen=True)
class TradeSummary:
    trades: int
    wins: int
    losses: int
    net_pnl: Decimal
    fees: Decimal
    win_rate: Decimal | None  # wins / trades; None without trades
    profit_factor: Decimal | None  # gross wins / gross losses; None without losses
    sharpe_per_trade: Decimal | None  # mean / stdev of net PnL per trade; None under 2 trades
    best: Decimal | None
    worst: Decimal | None


def sharpe_per_trade(net_pnls: Sequence[Decimal]) -> Decimal | None:
    """Mean over sample standard deviation of per-trade net PnL (not annualised)."""
    n = len(net_pnls)
    if n < 2:
        return None
    mean = sum(net_pnls, ZERO) / n
    variance = sum(((x - mean) ** 2 for x in net_pnls), ZERO) / (n - 1)
    if variance == 0:
        return None
    return mean / variance.sqrt()


def summarise_trades(net_pnls: Sequence[Decimal], fees: Sequence[Decimal] = ()) -> TradeSummary:
    wins = [x for x in net_pnls if x > 0]
    losses = [x for x in net_pnls if x <= 0]
    gross_loss = -sum(losses, ZERO)
    return TradeSummary(
        trades=len(net_pnls),
        wins=len(wins),
        losses=len(losses),
        net_pnl=sum(net_pnls, ZERO),
        fees=sum(fees, ZERO),
        win_rate=Decimal(len(wins)) / len(net_pnls) if net_pnls else None,
        profit_factor=sum(wins, ZERO) / gross_loss if gross_loss > 0 else None,
        sharpe_per_trade=sharpe_per_trade(net_pnls),
        best=max(net_pnls) if net_pnls else None,
        worst=min(net_pnls) if net_pnls else None,
    )


def max_drawdown(equity: Sequence[Decimal]) -> Decimal:
    """The largest fall from a running peak, as a fraction of that peak (0.1 = 10%)."""
    peak = ZERO
    worst = ZERO
    for value in equity:
        peak = max(peak, value)
        if peak > 0:
            worst = max(worst, (peak - value) / peak)
    return worst
