"""Contract specifications of the simulated USDT linear perpetuals."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

D = Decimal

_MIN_NOTIONAL = D("5")
_LEVEL_NOTIONAL = D("50000")
DEFAULT_SYMBOLS = (
    "BTCUSDT",
    "ETHUSDT",
    "SOLUSDT",
    "BNBUSDT",
    "ADAUSDT",
    "DOGEUSDT",
    "XRPUSDT",
    "AVAXUSDT",
    "DOTUSDT",
    "LINKUSDT",
)


@dataclass(frozen=True)
class Instrument:
    symbol: str
    base_coin: str
    start_price: Decimal
    tick_size: Decimal
    qty_step: Decimal
    min_qty: Decimal
    max_qty: Decimal
    max_mkt_qty: Decimal
    max_leverage: Decimal
    min_notional: Decimal = _MIN_NOTIONAL
    # synthetic book: distance between quoted levels in ticks, and the notional per level
    level_ticks: int = 1
    level_notional: Decimal = _LEVEL_NOTIONAL
    funding_interval_min: int = 480

    @property
    def quote_coin(self) -> str:
        return "USDT"

    @property
    def level_step(self) -> Decimal:
        return self.tick_size * self.level_ticks

    def round_price(self, price: Decimal) -> Decimal:
        return (price / self.tick_size).to_integral_value(rounding=ROUND_DOWN) * self.tick_size

    def fmt_price(self, price: Decimal) -> str:
        # one canonical string per price level: the orderbook deltas rely on exact equality
        return str(price.quantize(self.tick_size))

    def truncate_qty(self, qty: Decimal) -> Decimal:
        return (qty / self.qty_step).to_integral_value(rounding=ROUND_DOWN) * self.qty_step

    def fmt_qty(self, qty: Decimal) -> str:
        return str(qty.quantize(self.qty_step))


def _spec(symbol: str, price: str, tick: str, step: str, max_qty: str, max_lev: str, level_ticks: int) -> Instrument:
    return Instrument(
        symbol=symbol,
        base_coin=symbol.removesuffix("USDT"),
        start_price=D(price),
        tick_size=D(tick),
        qty_step=D(step),
        min_qty=D(step),
        max_qty=D(max_qty),
        max_mkt_qty=D(max_qty) / 2,
        max_leverage=D(max_lev),
        level_ticks=level_ticks,
    )


KNOWN: dict[str, Instrument] = {
    i.symbol: i
    for i in (
        _spec("BTCUSDT", "65000", "0.10", "0.001", "1190", "100", 10),
        _spec("ETHUSDT", "3400", "0.01", "0.01", "7240", "100", 20),
        _spec("SOLUSDT", "150", "0.010", "0.1", "79770", "75", 2),
        _spec("BNBUSDT", "580", "0.01", "0.01", "2800", "75", 5),
        _spec("ADAUSDT", "0.4500", "0.0001", "1", "4060000", "75", 1),
        _spec("DOGEUSDT", "0.15000", "0.00001", "1", "25000000", "75", 2),
        _spec("XRPUSDT", "0.5500", "0.0001", "1", "5000000", "75", 1),
        _spec("AVAXUSDT", "30.000", "0.001", "0.1", "100000", "50", 3),
        _spec("DOTUSDT", "6.000", "0.001", "0.1", "300000", "50", 1),
        _spec("LINKUSDT", "14.000", "0.001", "0.1", "200000", "50", 2),
    )
}


def instrument_for(symbol: str, seed: int) -> Instrument:
    """The spec of a known symbol, or a plausible one derived from the seed for any other."""
    if symbol in KNOWN:
        return KNOWN[symbol]
    digest = int.from_bytes(hashlib.sha256(f"{seed}:{symbol}".encode()).digest()[:4], "big")
    price = D(1 + digest % 200)
    return _spec(symbol, str(price), "0.001", "0.1", "1000000", "50", 2)
