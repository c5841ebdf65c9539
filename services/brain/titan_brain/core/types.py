"""The inputs of the brain's pure core: what the account holds and what the market looks like.

The runtime builds these from events, Postgres and market data; the core only reads them.
Time is passed in (`Market.now_ms`), never read from the clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property

from titan_common.messages import DEFAULT_VENUE, Side
from titan_common.system_state import Mode


@dataclass(frozen=True)
class OpenPosition:
    """A position execution reports, or an entry the brain approved that has not filled yet."""

    symbol: str
    side: Side
    size: Decimal
    entry_price: Decimal
    mark_price: Decimal | None = None
    pending: bool = False  # approved by the brain, not yet reported by execution
    exchange: str = DEFAULT_VENUE

    @property
    def price(self) -> Decimal:
        return self.mark_price if self.mark_price is not None else self.entry_price

    @property
    def notional(self) -> Decimal:
        return self.size * self.price

    @property
    def signed_notional(self) -> Decimal:
        return self.notional if self.side is Side.BUY else -self.notional


@dataclass(frozen=True)
class Portfolio:
    """The account and the safety switches, as the brain knows them when a signal arrives."""

    equity: Decimal | None  # None: unknown, so nothing can be sized (fail closed)
    day_start_equity: Decimal | None
    positions: tuple[OpenPosition, ...] = ()
    phase: int = 1
    performance_modifier: Decimal = Decimal(1)
    system_mode: Mode = Mode.NORMAL
    master_armed: bool = False
    breaker_active: bool = False
    # what a spot venue's account may still spend (its free quote coin, USDT), by venue: a
    # spot buy is paid in full, so this caps it; a venue missing here cannot be sized
    spendable: Mapping[str, Decimal] = field(default_factory=dict)

    @property
    def open_notional(self) -> Decimal:
        return sum((p.notional for p in self.positions), Decimal(0))

    def position(self, symbol: str, exchange: str = DEFAULT_VENUE) -> OpenPosition | None:
        return self._by_venue_symbol.get((exchange, symbol))

    @cached_property
    def _by_venue_symbol(self) -> dict[tuple[str, str], OpenPosition]:
        """The positions by (venue, symbol), the first of each as listed: the core asks often."""
        index: dict[tuple[str, str], OpenPosition] = {}
        for p in self.positions:
            index.setdefault((p.exchange, p.symbol), p)
        return index

    @property
    def daily_drawdown(self) -> Decimal | None:
        """The day's loss as a fraction of the day's starting equity (0 when up)."""
        if self.equity is None or not self.day_start_equity:
            return None
        return max(Decimal(0), (self.day_start_equity - self.equity) / self.day_start_equity)


@dataclass(frozen=True)
class Instrument:
    """The exchange's trading rules for one symbol (the brain needs the minimum notional)."""

    symbol: str
    min_notional: Decimal
    qty_step: Decimal
    min_qty: Decimal
    max_leverage: int = 100
    trading: bool = True


def pair(a: str, b: str) -> tuple[str, str]:
    """The key of a symbol pair in a correlation table, order-independent."""
    return (a, b) if a <= b else (b, a)


@dataclass(frozen=True)
class Market:
    """What the brain knows of the market at `now_ms`."""

    now_ms: int
    instruments: Mapping[str, Instrument] = field(default_factory=dict)
    quarantined: frozenset[str] = frozenset()
    correlations: Mapping[tuple[str, str], float] = field(default_factory=dict)
    betas: Mapping[str, float] = field(default_factory=dict)  # beta of each symbol's returns to BTC
    # used when the exchange's rules for a symbol are not known (Bybit linear: 5 USDT)
    default_min_notional: Decimal = Decimal(5)
    # venues that are spot (long-only, leverage 1, paid in full): from the venue registry
    spot_venues: frozenset[str] = frozenset()
    # the venues this installation runs (TITAN_VENUES); empty: not known, any
    running_venues: frozenset[str] = frozenset()
    # `instruments` are the primary venue's rules; the other venues' are here, by venue
    primary_venue: str = DEFAULT_VENUE
    venue_instruments: Mapping[str, Mapping[str, Instrument]] = field(default_factory=dict)

    def instrument(self, exchange: str, symbol: str) -> Instrument | None:
        """The venue's rules for the symbol, or None when they are not known."""
        if exchange == self.primary_venue:
            return self.instruments.get(symbol)
        return self.venue_instruments.get(exchange, {}).get(symbol)

    def is_spot(self, exchange: str) -> bool:
        return exchange in self.spot_venues

    def runs(self, exchange: str) -> bool:
        return not self.running_venues or exchange in self.running_venues

    def correlation(self, a: str, b: str) -> float | None:
        if a == b:
            return 1.0
        return self.correlations.get(pair(a, b))
