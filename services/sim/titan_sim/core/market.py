"""The synthetic market of one symbol: a seeded random walk with volatility regimes,
plus the funding-rate and open-interest series, and the 7-day history backfill."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from decimal import Decimal

from titan_sim.core.instruments import Instrument
from titan_sim.core.klines import MINUTE_MS, Candle

# Annualised volatility of the calm, normal and stormy regimes; a year of milliseconds.
REGIME_VOLS = (0.35, 0.7, 1.8)
YEAR_MS = 365 * 86_400_000
REGIME_MEAN_MS = 20 * MINUTE_MS
FUNDING_CAP = 0.0075


@dataclass
class MarketState:
    instrument: Instrument
    rng: random.Random
    mid: float
    last_ms: int
    regime: int = 1
    regime_until_ms: int = 0
    funding_rate: float = 0.0001
    open_interest: float = 0.0
    status: str = "Trading"
    last_price: Decimal = Decimal(0)
    seq: int = 0
    tick_direction: str = "ZeroPlusTick"

    @property
    def mark(self) -> Decimal:
        return self.instrument.round_price(Decimal(repr(self.mid)))

    def step(self, now_ms: int) -> float:
        """Advance the walk to now_ms; returns the new mid."""
        dt = now_ms - self.last_ms
        if dt <= 0:
            return self.mid
        self.last_ms = now_ms
        if now_ms >= self.regime_until_ms:
            self.regime = self.rng.choices((0, 1, 2), weights=(3, 5, 1))[0]
            self.regime_until_ms = now_ms + int(self.rng.expovariate(1 / REGIME_MEAN_MS))
        sigma = REGIME_VOLS[self.regime] * math.sqrt(dt / YEAR_MS)
        # cap one step at 5% so a fast clock cannot throw the price across the whole book
        shock = max(-0.05, min(0.05, sigma * self.rng.gauss(0.0, 1.0)))
        self.mid *= math.exp(shock)
        # funding follows a mean-reverting walk around 1 bp, open interest a noisy drift
        hours = dt / 3_600_000
        self.funding_rate += (0.0001 - self.funding_rate) * min(1.0, hours) + self.rng.gauss(0, 0.00002) * math.sqrt(
            min(hours * 60, 60.0)
        )
        self.funding_rate = max(-FUNDING_CAP, min(FUNDING_CAP, self.funding_rate))
        self.open_interest = max(0.0, self.open_interest * math.exp(self.rng.gauss(0, 0.0005)))
        return self.mid


def make_market(instrument: Instrument, seed: int, now_ms: int) -> MarketState:
    rng = random.Random(f"{seed}:{instrument.symbol}")  # noqa: S311 - a simulation, not crypto
    level_qty = float(instrument.level_notional) / float(instrument.start_price)
    return MarketState(
        instrument=instrument,
        rng=rng,
        mid=float(instrument.start_price),
        last_ms=now_ms,
        regime_until_ms=now_ms + REGIME_MEAN_MS,
        open_interest=level_qty * 2000,
    )


def backfill_minutes(market: MarketState, now_ms: int, minutes: int) -> list[Candle]:
    """`minutes` 1-minute bars ending with the bar before now, walking backwards from the
    current price so that history joins the live market without a gap."""
    inst = market.instrument
    rng = random.Random(f"backfill:{market.rng.random()}")  # noqa: S311
    sigma = REGIME_VOLS[1] * math.sqrt(MINUTE_MS / YEAR_MS)
    base_qty = float(inst.level_notional) / float(inst.start_price) / 4
    end = now_ms // MINUTE_MS * MINUTE_MS
    closes = [market.mid]
    for _ in range(minutes):
        closes.append(closes[-1] / math.exp(sigma * rng.gauss(0.0, 1.0)))
    closes.reverse()  # closes[0] is the open of the oldest bar
    tick = float(inst.tick_size)
    step = float(inst.qty_step)
    places = max(0, -inst.tick_size.as_tuple().exponent)  # type: ignore[operator]
    qplaces = max(0, -inst.qty_step.as_tuple().exponent)  # type: ignore[operator]
    candles: list[Candle] = []
    start = end - minutes * MINUTE_MS
    for i in range(minutes):
        o, c = closes[i], closes[i + 1]
        wiggle = abs(rng.gauss(0.0, sigma / 2)) * o
        h, lo = max(o, c) + wiggle, min(o, c) - wiggle
        vol = max(step, round(base_qty * rng.lognormvariate(0, 0.6) / step) * step)
        prices = [Decimal(f"{round(x / tick) * tick:.{places}f}") for x in (o, h, lo, c)]
        volume = Decimal(f"{vol:.{qplaces}f}")
        candles.append(
            Candle(start + i * MINUTE_MS, prices[0], prices[1], prices[2], prices[3], volume, volume * prices[3])
        )
    return candles
