"""Market statistics from price samples: window returns, correlation, beta.

Prices are sampled for every tracked symbol at the same instants, so two symbols'
series line up index by index.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from decimal import Decimal

# fewer returns than this and a correlation says nothing
MIN_RETURNS = 10


def extreme_return(samples: Sequence[tuple[int, Decimal]], now_ms: int, window_ms: int) -> Decimal | None:
    """The largest move (either way) from any sample in the window to the latest one."""
    inside = [price for ts, price in samples if now_ms - window_ms <= ts <= now_ms and price > 0]
    if len(inside) < 2:
        return None
    last = inside[-1]
    moves = [last / price - 1 for price in inside[:-1]]
    return max(moves, key=abs)


def returns(prices: Sequence[Decimal]) -> list[float]:
    out = []
    for before, after in itertools.pairwise(prices):
        if before > 0 and after > 0:
            out.append(math.log(float(after) / float(before)))
        else:
            out.append(0.0)
    return out


def _covariance(a: Sequence[float], b: Sequence[float]) -> float:
    mean_a, mean_b = sum(a) / len(a), sum(b) / len(b)
    return sum((x - mean_a) * (y - mean_b) for x, y in zip(a, b, strict=True)) / (len(a) - 1)


def correlation(prices_a: Sequence[Decimal], prices_b: Sequence[Decimal]) -> float | None:
    """Pearson correlation of log returns over the common tail; None if too short or flat."""
    n = min(len(prices_a), len(prices_b))
    ra, rb = returns(prices_a[-n:]), returns(prices_b[-n:])
    if len(ra) < MIN_RETURNS:
        return None
    var_a, var_b = _covariance(ra, ra), _covariance(rb, rb)
    if var_a <= 0 or var_b <= 0:
        return None
    return max(-1.0, min(1.0, _covariance(ra, rb) / math.sqrt(var_a * var_b)))


def beta(prices: Sequence[Decimal], benchmark: Sequence[Decimal]) -> float | None:
    """Regression slope of a symbol's returns on the benchmark's; None if too short or flat."""
    n = min(len(prices), len(benchmark))
    r, rb = returns(prices[-n:]), returns(benchmark[-n:])
    if len(r) < MIN_RETURNS:
        return None
    var_b = _covariance(rb, rb)
    if var_b <= 0:
        return None
    return _covariance(r, rb) / var_b
