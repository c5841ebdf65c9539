"""What the brain knows, in memory: config, NAV, positions, trades, prices, breaker.

It is fed by events (execution's wallet, positions and trades), by Postgres at start, and
by the market-data poller, and it hands the pure core its snapshots (`portfolio()`,
`market()`). Nothing here performs I/O.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal

from titan_brain.core import stats
from titan_brain.core.breaker import BreakerState, Observation, consecutive_losses
from titan_brain.core.nav import Nav, utc_day_of
from titan_brain.core.phases import SharpeRule, next_phase, performance_modifier
from titan_brain.core.types import Instrument, Market, OpenPosition, Portfolio, pair
from titan_brain.settings import BrainSettings
from titan_common.config import ActiveConfig
from titan_common.messages import DEFAULT_VENUE
from titan_common.system_state import Mode

DAY_MS = 86_400_000
BENCHMARK = "BTCUSDT"


@dataclass
class Pending:
    """An entry the brain approved that execution has not reported as a position yet."""

    position: OpenPosition
    intent_id: str
    expires_at_ms: int


VenueSymbol = tuple[str, str]  # (venue, symbol): one position per symbol on each venue


@dataclass
class BrainState:
    settings: BrainSettings
    config: ActiveConfig
    nav: Nav = field(default_factory=Nav)
    phase: int | None = None
    breaker: BreakerState = field(default_factory=BreakerState)
    positions: dict[VenueSymbol, OpenPosition] = field(default_factory=dict)
    pending: dict[VenueSymbol, Pending] = field(default_factory=dict)
    # the spot venues among the running ones, and what each venue's account may spend
    spot_venues: frozenset[str] = frozenset()
    spendable: dict[str, Decimal] = field(default_factory=dict)
    trades: deque[tuple[int, Decimal]] = field(default_factory=deque)  # (closed_ms, pnl), oldest first
    instruments: dict[str, Instrument] = field(default_factory=dict)  # the primary venue's
    venue_instruments: dict[str, dict[str, Instrument]] = field(default_factory=dict)  # each other's
    # price samples taken at the same instants for every polled symbol (aligned series)
    samples: dict[str, deque[Decimal]] = field(default_factory=dict)
    # every price seen for a symbol, with its time, for the volatility trigger
    ticks: dict[str, deque[tuple[int, Decimal]]] = field(default_factory=dict)
    correlations: dict[tuple[str, str], float] = field(default_factory=dict)
    betas: dict[str, float] = field(default_factory=dict)
    master_armed: bool = False  # last known; the consumer re-reads Postgres per batch
    modifier: Decimal = Decimal(1)
    sharpe: float | None = None

    # --- snapshots for the core ----------------------------------------------------

    def open_positions(self, now_ms: int) -> tuple[OpenPosition, ...]:
        reported = list(self.positions.values())
        waiting = [
            p.position
            for key, p in self.pending.items()
            if key not in self.positions and now_ms <= p.expires_at_ms + self.settings.pending_grace_ms
        ]
        return tuple(reported + waiting)

    def position(self, symbol: str, exchange: str = DEFAULT_VENUE) -> OpenPosition | None:
        return self.positions.get((exchange, symbol))

    @property
    def held_symbols(self) -> set[str]:
        return {symbol for _venue, symbol in self.positions}

    def portfolio(self, now_ms: int, *, mode: Mode, armed: bool) -> Portfolio:
        max_age_ms = int(self.settings.equity_max_age_s * 1000)
        equity = self.nav.fresh_equity(now_ms, max_age_ms)
        return Portfolio(
            equity=equity,
            # before the day's first wallet report the day's loss is unknown (EQUITY_UNKNOWN)
            day_start_equity=self.nav.day_start_on(utc_day_of(now_ms)) if equity is not None else None,
            positions=self.open_positions(now_ms),
            phase=self.phase or 1,
            performance_modifier=self.modifier,
            system_mode=mode,
            master_armed=armed,
            breaker_active=self.breaker.active,
            spendable=dict(self.spendable),
        )

    def market(self, now_ms: int) -> Market:
        return Market(
            now_ms=now_ms,
            instruments=self.instruments,
            correlations=self.correlations,
            betas=self.betas,
            default_min_notional=self.settings.default_min_notional,
            spot_venues=self.spot_venues,
            running_venues=frozenset(self.settings.venues),
            venue_instruments=self.venue_instruments,
            primary_venue=self.settings.venues[0],
        )

    # --- updates ---------------------------------------------------------------------

    def fresh_daily_drawdown(self, now_ms: int) -> Decimal | None:
        """Today's drawdown from a fresh report of today; None otherwise (no drawdown trip:
        just after midnight the NAV still holds yesterday's loss)."""
        if self.nav.fresh_equity(now_ms, int(self.settings.equity_max_age_s * 1000)) is None:
            return None
        return self.nav.daily_drawdown_on(utc_day_of(now_ms))

    def breaker_observation(self, now_ms: int) -> Observation:
        """What the breaker looks at now."""
        return Observation(
            now_ms=now_ms,
            day=utc_day_of(now_ms),
            daily_drawdown=self.fresh_daily_drawdown(now_ms),
            consecutive_losses=self.losses_in_a_row(),
            volatility_return=self.volatility_return(now_ms),
        )

    def observe_equity(
        self, equity: Decimal, ts_ms: int, *, wallet_balance: Decimal | None = None,
        unrealised_pnl: Decimal | None = None, available_balance: Decimal | None = None,
    ) -> tuple[int | None, int]:  # fmt: skip
        """Record a wallet report; returns (phase before, phase after)."""
        self.nav = self.nav.observe(
            equity, ts_ms, wallet_balance=wallet_balance, unrealised_pnl=unrealised_pnl,
            available_balance=available_balance,
        )  # fmt: skip
        before = self.phase
        if self.nav.equity is not None:
            self.phase = next_phase(self.nav.equity, self.phase, self.config.config)
        return before, self.phase or 1

    def observe_position(self, position: OpenPosition | None, symbol: str, exchange: str = DEFAULT_VENUE) -> None:
        """A position report; None when the symbol is flat on that venue."""
        key = (exchange, symbol)
        if position is None:
            self.positions.pop(key, None)
        else:
            self.positions[key] = position
            self.pending.pop(key, None)  # the approved entry is now a reported position

    def add_pending(self, symbol: str, pending: Pending) -> None:
        self.pending[(pending.position.exchange, symbol)] = pending

    def forget_pending(self, symbol: str, exchange: str, intent_id: str) -> None:
        held = self.pending.get((exchange, symbol))
        if held is not None and held.intent_id == intent_id:
            del self.pending[(exchange, symbol)]

    def expire_pending(self, now_ms: int) -> None:
        grace = self.settings.pending_grace_ms
        for key in [k for k, p in self.pending.items() if now_ms > p.expires_at_ms + grace]:
            del self.pending[key]

    def observe_trade(self, closed_ms: int, pnl: Decimal) -> None:
        self.trades.append((closed_ms, pnl))
        if len(self.trades) > 1 and self.trades[-2][0] > closed_ms:
            self.trades = deque(sorted(self.trades))

    def refresh_modifier(self, now_ms: int) -> None:
        """The performance modifier from the window's trades; old trades fall out."""
        window_start = now_ms - self.settings.sharpe_window_days * DAY_MS
        while self.trades and self.trades[0][0] < window_start:
            self.trades.popleft()
        rule = SharpeRule(
            min_trades=self.settings.sharpe_min_trades,
            low_sharpe=self.settings.sharpe_low,
            high_sharpe=self.settings.sharpe_high,
            low_modifier=self.settings.modifier_low,
            high_modifier=self.settings.modifier_high,
        )
        self.modifier, self.sharpe = performance_modifier([pnl for _ts, pnl in self.trades], rule)

    def losses_in_a_row(self) -> int:
        """Consecutive losing trades since the breaker last changed (a reset forgives)."""
        since = self.breaker.changed_ms
        return consecutive_losses([pnl for ts, pnl in self.trades if ts > since])

    def observe_price(self, symbol: str, ts_ms: int, price: Decimal) -> None:
        ticks = self.ticks.setdefault(symbol, deque(maxlen=2000))
        ticks.append((ts_ms, price))

    def add_samples(self, ts_ms: int, prices: dict[str, Decimal]) -> None:
        """One poll of last prices; keeps the series aligned and refreshes the statistics."""
        for symbol, price in prices.items():
            self.samples.setdefault(symbol, deque(maxlen=self.settings.market_samples)).append(price)
            self.observe_price(symbol, ts_ms, price)
        symbols = sorted(prices)
        for i, a in enumerate(symbols):
            for b in symbols[i + 1 :]:
                value = stats.correlation(list(self.samples[a]), list(self.samples[b]))
                if value is not None:
                    self.correlations[pair(a, b)] = value
        if BENCHMARK in self.samples:
            benchmark = list(self.samples[BENCHMARK])
            for symbol in symbols:
                value = 1.0 if symbol == BENCHMARK else stats.beta(list(self.samples[symbol]), benchmark)
                if value is not None:
                    self.betas[symbol] = value

    def volatility_return(self, now_ms: int) -> Decimal | None:
        rules = self.config.config.breaker
        ticks = self.ticks.get(rules.volatility_symbol)
        if not ticks:
            return None
        return stats.extreme_return(list(ticks), now_ms, rules.volatility_window_ms)
