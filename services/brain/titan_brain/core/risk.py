"""Portfolio risk figures for the dashboard.

globalLeverage   open notional / equity
netDelta         sum of signed notionals, USD (long positive)
correlationScore mean pairwise correlation of the positions' exposures (a long and a short
                 in two correlated coins hedge each other, so they count negative); 0 with
                 fewer than two positions
portfolioBeta    sum of signed notional x beta to BTC, over equity; a symbol whose beta is
                 not known yet counts as 1 (moves with the market)
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from itertools import combinations

from titan_brain.core.types import Market, OpenPosition
from titan_common.messages import Side

ZERO = Decimal(0)


@dataclass(frozen=True)
class RiskMetrics:
    global_leverage: Decimal
    net_delta: Decimal
    correlation_score: Decimal
    portfolio_beta: Decimal

    def as_dict(self) -> dict[str, str]:
        return {
            "globalLeverage": str(self.global_leverage),
            "netDelta": str(self.net_delta),
            "correlationScore": str(self.correlation_score),
            "portfolioBeta": str(self.portfolio_beta),
        }


def _rounded(value: Decimal, places: str = "0.0001") -> Decimal:
    return value.quantize(Decimal(places))


def risk_metrics(positions: tuple[OpenPosition, ...], equity: Decimal | None, market: Market) -> RiskMetrics:
    gross = sum((p.notional for p in positions), ZERO)
    net = sum((p.signed_notional for p in positions), ZERO)
    pairs = []
    for a, b in combinations(positions, 2):
        corr = market.correlation(a.symbol, b.symbol)
        if corr is not None:
            same_direction = (a.side is Side.BUY) == (b.side is Side.BUY)
            pairs.append(corr if same_direction else -corr)
    score = Decimal(str(round(sum(pairs) / len(pairs), 4))) if pairs else ZERO
    if equity is None or equity <= 0:
        return RiskMetrics(ZERO, _rounded(net, "0.01"), score, ZERO)
    weighted = sum(
        (p.signed_notional * Decimal(str(round(market.betas.get(p.symbol, 1.0), 6))) for p in positions), ZERO
    )
    return RiskMetrics(
        global_leverage=_rounded(gross / equity),
        net_delta=_rounded(net, "0.01"),
        correlation_score=score,
        portfolio_beta=_rounded(weighted / equity),
    )
