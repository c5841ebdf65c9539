"""A recorded-looking market from the seeded walk: 1-minute klines of any length, made the
way the live simulator moves (its volatility regimes, one step a second). Used to make the
replay sample under data/sample/ and by anyone who wants a longer one."""

from __future__ import annotations

from decimal import Decimal

from titan_common.replay import MINUTE_MS, RecordedKline
from titan_sim.core.instruments import Instrument
from titan_sim.core.market import make_market

STEPS_PER_MINUTE = 60


def minute_history(instrument: Instrument, seed: int, start_ms: int, minutes: int) -> list[RecordedKline]:
    """`minutes` klines from start_ms (a whole minute): the same seed gives the same klines.
    Volume grows with the bar's range, as it does on a venue when price runs."""
    if start_ms % MINUTE_MS:
        raise ValueError("start_ms must be a whole UTC minute")
    market = make_market(instrument, seed, start_ms)
    tick = instrument.tick_size
    step = instrument.qty_step
    base_qty = float(instrument.level_notional / instrument.start_price) / 40
    klines: list[RecordedKline] = []
    for m in range(minutes):
        t0 = start_ms + m * MINUTE_MS
        open_ = high = low = market.mid
        for s in range(1, STEPS_PER_MINUTE + 1):
            mid = market.step(t0 + s * 1000)
            high, low = max(high, mid), min(low, mid)
        close = market.mid
        span = (high - low) / open_
        qty = base_qty * (1 + 400 * span) * market.rng.lognormvariate(0, 0.4)
        prices = [instrument.round_price(Decimal(repr(x))) for x in (open_, high, low, close)]
        o, h, lo, c = prices
        klines.append(
            RecordedKline(
                symbol=instrument.symbol,
                start_ms=t0,
                open=o,
                high=max(h, o, c),
                low=max(tick, min(lo, o, c)),
                close=c,
                volume=max(step, (Decimal(repr(qty)) / step).to_integral_value() * step),
            )
        )
    return klines
