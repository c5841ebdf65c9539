"""The backtest: recorded klines through the same pure cores as live, in one process.

The klines are read in feed order, one minute at a time. For each minute:

1. Every `trap_rebuild_ms` (60 s, as the scavenger's `trap_rebuild_s`), the trap map is
   rebuilt by the scavenger's `build_trap_map`. Its 15-minute bars come from the klines
   *before* this minute (the open bar holds the minutes so far), its last price from the
   last trade. Funding, open interest and the index price are not in kline data, so the
   FUNDING_SQUEEZE, OI_WIPEOUT and BASIS traps never form here.
2. The minute's trades (`titan_common.replay.ReplayTape`, the same tape the simulator's
   replay uses) go through in time order, every symbol's interleaved. Each trade first
   moves the open positions: a stop or a target that the trade reaches closes its position
   there (stops on the bar's own path). Then the scavenger's `TrapBook.on_trade` may spring
   a trap, `signal_for` makes its `Signal`, and the brain's `evaluate_detailed` decides it
   against the account as it is at that trade: equity, open positions, phase, performance
   modifier, the breaker (`breaker.step`), the day's start equity. Execution's `fit_order`
   fits an approval to the instrument's filters.
3. An order fills at the trade that sprang it, with the config's `slippage_allowance`
   against it and the taker fee on both legs. A stop exit slips the same way; a target
   exit too (a take-profit is a market order once triggered).

Nothing reads a later minute than the one being replayed, and within a minute nothing
reads a later trade than the current one. Ids are derived from the data (uuid5), and
iteration is in sorted order, so the same input gives the same output, byte for byte.
"""

from __future__ import annotations

import itertools
import math
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from titan_brain.core.breaker import BreakerState, Observation, consecutive_losses
from titan_brain.core.breaker import step as breaker_step
from titan_brain.core.evaluate import evaluate_detailed
from titan_brain.core.phases import SharpeRule, initial_phase, next_phase, performance_modifier
from titan_brain.core.types import Instrument, Market, OpenPosition, Portfolio
from titan_common.clock import utc_day
from titan_common.config import TradingConfig
from titan_common.exchanges.types import InstrumentFilters
from titan_common.messages import Side, Signal, Verdict
from titan_common.replay import RecordedKline, ReplayTape, ReplayTrade, TapeConfig, by_start, by_trade_minute
from titan_common.system_state import Mode
from titan_execution.core.filters import FitRefused, fit_order
from titan_scavenger.core.market import BAR_MS, Bar, SymbolMarket, rebuild_at
from titan_scavenger.core.signals import SignalConfig, signal_for
from titan_scavenger.core.sprung import SprungConfig, TrapBook
from titan_scavenger.core.traps import TrapConfig, build_trap_map

_IDS = uuid.UUID("0b5e3c7a-2f41-4d8e-9c16-5a7e1f0d3b92")
ZERO = Decimal(0)
CENT = Decimal("0.01")


@dataclass(frozen=True)
class BacktestOptions:
    venue: str = "bybit"
    starting_equity: Decimal = Decimal(10_000)
    trap_rebuild_ms: int = 60_000
    bars_history: int = 200  # the scavenger's bars_history
    trap: TrapConfig = field(default_factory=TrapConfig)
    sprung: SprungConfig = field(default_factory=SprungConfig)
    signal: SignalConfig = field(default_factory=SignalConfig)
    tape: TapeConfig = field(default_factory=TapeConfig)
    sharpe: SharpeRule = field(default_factory=SharpeRule)
    sharpe_window: int = 50  # the brain's last closed trades the modifier reads


@dataclass
class OpenTrade:
    signal_id: str
    symbol: str
    side: Side
    qty: Decimal
    entry_price: Decimal
    entry_ms: int
    stop: Decimal
    target: Decimal | None
    trap_type: str
    fees: Decimal
    last_price: Decimal

    def unrealised(self) -> Decimal:
        move = self.last_price - self.entry_price
        return (move if self.side is Side.BUY else -move) * self.qty


@dataclass(frozen=True)
class ClosedTrade:
    signal_id: str
    symbol: str
    side: Side
    trap_type: str
    qty: Decimal
    entry_price: Decimal
    exit_price: Decimal
    entry_ms: int
    exit_ms: int
    exit_reason: str  # STOP | TARGET | END
    fees: Decimal
    pnl: Decimal  # net of both legs' fees

    def as_dict(self) -> dict[str, object]:
        return {
            "signal_id": self.signal_id,
            "symbol": self.symbol,
            "side": self.side.value,
            "trap_type": self.trap_type,
            "qty": str(self.qty),
            "entry_price": str(self.entry_price),
            "exit_price": str(self.exit_price),
            "entry_ms": self.entry_ms,
            "exit_ms": self.exit_ms,
            "exit_reason": self.exit_reason,
            "fees": str(self.fees.quantize(CENT)),
            "pnl": str(self.pnl.quantize(CENT)),
        }


@dataclass(frozen=True)
class DecisionRecord:
    signal: Signal
    verdict: Verdict
    reasons: tuple[str, ...]
    qty: Decimal

    def as_dict(self) -> dict[str, object]:
        return {
            "signal_id": self.signal.signal_id,
            "ts_ms": self.signal.ts_ms,
            "symbol": self.signal.symbol,
            "side": self.signal.side.value,
            "trap_type": self.signal.trap_type,
            "entry_price": str(self.signal.entry_price),
            "stop_loss": str(self.signal.stop_loss),
            "take_profits": [str(p) for p in self.signal.take_profits],
            "verdict": self.verdict.value,
            "reasons": list(self.reasons),
            "qty": str(self.qty),
        }


@dataclass
class BacktestRun:
    """Everything a run produced, in the order it happened."""

    decisions: list[DecisionRecord] = field(default_factory=list)
    trades: list[ClosedTrade] = field(default_factory=list)
    equity_curve: list[tuple[int, Decimal]] = field(default_factory=list)  # (minute end, equity)
    dropped_signals: int = 0  # sprung traps whose geometry no longer held (no signal)
    first_ms: int | None = None
    last_ms: int | None = None
    symbols: tuple[str, ...] = ()


class _Bars:
    """One symbol's 15-minute bars built from the klines replayed so far. The open bar is
    summed in Decimal, as a venue aggregates it, and read as floats when a map is built."""

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self.closed: list[Bar] = []
        self.open: list[Decimal] | None = None  # start, open, high, low, close, volume
        self.open_start = -1

    def add(self, k: RecordedKline) -> None:
        start = k.start_ms - k.start_ms % BAR_MS
        bar = self.open
        if bar is not None and self.open_start == start:
            bar[2], bar[3], bar[4] = max(bar[2], k.high), min(bar[3], k.low), k.close
            bar[5] += k.volume
            return
        if bar is not None:
            self.closed.append(self._float(self.open_start, bar))
            del self.closed[: -(self.keep - 1) or len(self.closed)]
        self.open, self.open_start = [Decimal(start), k.open, k.high, k.low, k.close, k.volume], start

    @staticmethod
    def _float(start: int, bar: list[Decimal]) -> Bar:
        return Bar(start, float(bar[1]), float(bar[2]), float(bar[3]), float(bar[4]), float(bar[5]))

    def bars(self) -> tuple[Bar, ...]:
        if self.open is None:
            return tuple(self.closed)
        return (*self.closed, self._float(self.open_start, self.open))


@dataclass(frozen=True)
class MarketTape:
    """The market pass's output: each minute's trades in time order, each with the signal it
    sprang (or None). It does not depend on the trading config, so one pass serves every
    variant a search tries."""

    minutes: list[tuple[int, list[tuple[ReplayTrade, Signal | None]]]]  # (bar start, its trades)
    dropped_signals: int
    symbols: tuple[str, ...]
    interval_ms: int = 60_000  # the recording's bars: 1 minute, or up to the trap map's 15


class MarketReplay:
    """The scavenger's half: trap maps from the bars so far, trades through the trap book."""

    def __init__(self, filters: Mapping[str, InstrumentFilters], options: BacktestOptions | None = None) -> None:
        self.filters = dict(filters)
        self.options = options or BacktestOptions()
        self.book = TrapBook(self.options.sprung)
        self.tape = ReplayTape(self.options.tape)
        self.bars: dict[str, _Bars] = {}
        self.rebuilt_ms: int | None = None
        self.dropped = 0

    def events(
        self,
        klines: Iterable[RecordedKline],
        trade_from_ms: int | None = None,
        trades: Iterable[ReplayTrade] | None = None,
    ) -> MarketTape:
        """The tape of every minute from `trade_from_ms` (all when None). Earlier minutes only
        warm the market up: their bars join the history and their ranges the tape's, as a
        venue's history does for a scavenger that starts at `trade_from_ms`; no trade of
        theirs reaches the trap book. With `trades` (a recording of trades, `klines` their
        bars) each minute plays its recorded trades instead of the tape's."""
        recorded = None if trades is None else by_trade_minute(trades)
        minutes: list[tuple[int, list[tuple[ReplayTrade, Signal | None]]]] = []
        interval = 60_000
        for minute, group in by_start(klines):
            interval = group[0].interval_ms
            if trade_from_ms is not None and minute < trade_from_ms:
                for kline in group:
                    self.tape.is_burst(kline)
                    self._bars(kline.symbol).add(kline)
                continue
            built = rebuild_at(self.rebuilt_ms, minute, self.options.trap_rebuild_ms)
            if built is not None:
                self._rebuild(built)
            if recorded is not None:
                played = recorded.get(minute, [])
            else:
                played = [t for kline in group for t in self.tape.trades(kline)]
                played.sort(key=lambda t: (t.ts_ms, t.symbol))  # stable: each symbol's own order kept
            minutes.append((minute, [(trade, self._on_trade(trade)) for trade in played]))
            for kline in group:  # the minute is over: its bar joins the history
                self._bars(kline.symbol).add(kline)
        return MarketTape(minutes, self.dropped, tuple(sorted(self.bars)), interval)

    def _bars(self, symbol: str) -> _Bars:
        bars = self.bars.get(symbol)
        if bars is None:
            bars = self.bars[symbol] = _Bars(self.options.bars_history)
        return bars

    def _rebuild(self, now_ms: int) -> None:
        markets = []
        for symbol in sorted(self.bars):
            last = self.book.last_price(symbol)
            bars = self.bars[symbol].bars()
            rules = self.filters.get(symbol)
            if rules is None or not bars:
                continue
            price = last if last is not None else bars[-1].close
            markets.append(SymbolMarket(symbol=symbol, tick_size=rules.tick_size, last_price=price, bars=bars))
        built = build_trap_map(markets, now_ms, self.options.trap, f"trapmap:{now_ms}")
        self.book.set_traps(built.traps, now_ms)
        self.rebuilt_ms = now_ms

    def _on_trade(self, trade: ReplayTrade) -> Signal | None:
        sprung = self.book.on_trade(trade.symbol, trade.ts_ms, trade.taker_buy, float(trade.price), armed=True)
        if sprung is None:
            return None
        signal_id = uuid.uuid5(_IDS, f"{trade.symbol}:{trade.ts_ms}:{sprung.trap.trap_id}").hex
        signal = signal_for(
            sprung, signal_id=signal_id, ts_ms=trade.ts_ms, run_id="backtest",
            cycle_id=f"trapmap:{self.rebuilt_ms}", cfg=self.options.signal,
        )  # fmt: skip
        if signal is None:
            self.dropped += 1
        return signal


class Account:
    """The brain's and execution's half: the account a config trades, over a market tape."""

    def __init__(
        self,
        config: TradingConfig,
        filters: Mapping[str, InstrumentFilters],
        options: BacktestOptions | None = None,
    ) -> None:
        self.config = config
        self.filters = dict(filters)
        self.options = options or BacktestOptions()
        self.open: dict[str, OpenTrade] = {}
        self.realised = ZERO
        self.breaker = BreakerState()
        self.phase = initial_phase(self.options.starting_equity, config)
        self.day: str | None = None
        self.day_start_equity = self.options.starting_equity
        self.run_state = BacktestRun()
        self.market_rules = {
            s: Instrument(s, f.min_notional, f.qty_step, f.min_qty, f.max_leverage, f.trading)
            for s, f in sorted(self.filters.items())
        }

    # --- the account ----------------------------------------------------------------------

    @property
    def equity(self) -> Decimal:
        return self.options.starting_equity + self.realised + sum((t.unrealised() for t in self.open.values()), ZERO)

    def _positions(self) -> tuple[OpenPosition, ...]:
        return tuple(
            OpenPosition(t.symbol, t.side, t.qty, t.entry_price, t.last_price, exchange=self.options.venue)
            for _, t in sorted(self.open.items())
        )

    def _observe(self, now_ms: int) -> None:
        """The day's start equity and the breaker, as the brain keeps them."""
        day = utc_day(now_ms)
        equity = self.equity
        if day != self.day:
            self.day, self.day_start_equity = day, equity
        drawdown = (
            max(ZERO, (self.day_start_equity - equity) / self.day_start_equity) if self.day_start_equity else None
        )
        since = self.breaker.changed_ms
        losses = consecutive_losses([t.pnl for t in self.run_state.trades if t.exit_ms >= since])
        self.breaker, _ = breaker_step(
            self.breaker, Observation(now_ms=now_ms, day=day, daily_drawdown=drawdown, consecutive_losses=losses),
            self.config,
        )  # fmt: skip
        self.phase = next_phase(equity, self.phase, self.config)

    # --- the replay -----------------------------------------------------------------------

    def run(self, tape: MarketTape, start_ms: int | None = None, end_ms: int | None = None) -> BacktestRun:
        """Trade the tape's minutes in [start_ms, end_ms) from a fresh account."""
        state = self.run_state
        for minute, events in tape.minutes:
            if (start_ms is not None and minute < start_ms) or (end_ms is not None and minute >= end_ms):
                continue
            if state.first_ms is None:
                state.first_ms = minute
            for trade, signal in events:
                position = self.open.get(trade.symbol)
                if position is not None:
                    position.last_price = trade.price
                    self._maybe_exit(position, trade)
                if signal is not None:
                    self._decide(signal, trade)
            state.last_ms = minute + tape.interval_ms
            state.equity_curve.append((state.last_ms, self.equity))
        if state.last_ms is not None:
            for symbol in sorted(self.open):
                position = self.open[symbol]
                self._close(position, position.last_price, state.last_ms, "END", slip=False)
        state.dropped_signals = tape.dropped_signals
        state.symbols = tape.symbols
        return state

    def _decide(self, signal: Signal, trade: ReplayTrade) -> None:
        self._observe(trade.ts_ms)
        closed = [t.pnl for t in self.run_state.trades[-self.options.sharpe_window :]]
        modifier, _ = performance_modifier(closed, self.options.sharpe)
        portfolio = Portfolio(
            equity=self.equity,
            day_start_equity=self.day_start_equity,
            positions=self._positions(),
            phase=self.phase,
            performance_modifier=modifier,
            system_mode=Mode.NORMAL,
            master_armed=True,
            breaker_active=self.breaker.active,
        )
        market = Market(
            now_ms=trade.ts_ms,
            instruments=self.market_rules,
            running_venues=frozenset({self.options.venue}),
            primary_venue=self.options.venue,
        )
        decision = evaluate_detailed(signal, portfolio, self.config, market).decision
        reasons = tuple(r.value for r in decision.reasons)
        if decision.verdict is Verdict.APPROVE:
            fit = fit_order(
                self.filters[signal.symbol], qty=decision.qty, reference_price=trade.price,
                stop_loss=decision.stop_loss, take_profit=decision.take_profit,
            )  # fmt: skip
            if isinstance(fit, FitRefused):
                self.run_state.decisions.append(DecisionRecord(signal, Verdict.VETO, (fit.reason.value,), ZERO))
                return
            self._open(signal, trade, fit.qty, fit.stop_loss or signal.stop_loss, fit.take_profit)
            self.run_state.decisions.append(DecisionRecord(signal, decision.verdict, reasons, fit.qty))
            return
        self.run_state.decisions.append(DecisionRecord(signal, decision.verdict, reasons, ZERO))

    # --- fills ----------------------------------------------------------------------------

    def _slipped(self, price: Decimal, side: Side) -> Decimal:
        """A market fill: the slippage allowance against the taker (buys pay up)."""
        slip = self.config.slippage_allowance
        return price * (1 + slip) if side is Side.BUY else price * (1 - slip)

    def _open(self, signal: Signal, trade: ReplayTrade, qty: Decimal, stop: Decimal, target: Decimal | None) -> None:
        price = self._slipped(trade.price, signal.side)
        self.open[signal.symbol] = OpenTrade(
            signal_id=signal.signal_id, symbol=signal.symbol, side=signal.side, qty=qty, entry_price=price,
            entry_ms=trade.ts_ms, stop=stop, target=target, trap_type=signal.trap_type,
            fees=qty * price * self.config.taker_fee_rate, last_price=trade.price,
        )  # fmt: skip

    def _maybe_exit(self, position: OpenTrade, trade: ReplayTrade) -> None:
        long = position.side is Side.BUY
        price = trade.price
        if (long and price <= position.stop) or (not long and price >= position.stop):
            self._close(position, position.stop, trade.ts_ms, "STOP")
        elif position.target is not None and (
            (long and price >= position.target) or (not long and price <= position.target)
        ):
            self._close(position, position.target, trade.ts_ms, "TARGET")

    def _close(self, position: OpenTrade, level: Decimal, ts_ms: int, reason: str, *, slip: bool = True) -> None:
        exit_side = Side.SELL if position.side is Side.BUY else Side.BUY
        price = self._slipped(level, exit_side) if slip else level
        move = price - position.entry_price
        gross = (move if position.side is Side.BUY else -move) * position.qty
        fees = position.fees + position.qty * price * self.config.taker_fee_rate
        pnl = gross - fees
        self.realised += pnl
        del self.open[position.symbol]
        self.run_state.trades.append(
            ClosedTrade(
                signal_id=position.signal_id, symbol=position.symbol, side=position.side,
                trap_type=position.trap_type, qty=position.qty, entry_price=position.entry_price,
                exit_price=price, entry_ms=position.entry_ms, exit_ms=ts_ms, exit_reason=reason, fees=fees, pnl=pnl,
            )
        )  # fmt: skip
        self._observe(ts_ms)


@dataclass
class Backtest:
    """Both halves over klines: what `titan backtest` runs."""

    config: TradingConfig
    filters: Mapping[str, InstrumentFilters]
    options: BacktestOptions | None = None

    def __post_init__(self) -> None:
        self.market = MarketReplay(self.filters, self.options)
        self.account = Account(self.config, self.filters, self.options)

    def run(
        self,
        klines: Iterable[RecordedKline],
        trade_from_ms: int | None = None,
        trades: Iterable[ReplayTrade] | None = None,
    ) -> BacktestRun:
        return self.account.run(self.market.events(klines, trade_from_ms, trades))


def sharpe_of(curve: list[tuple[int, Decimal]]) -> float | None:
    """Annualised Sharpe of daily returns (the equity at each UTC day's last minute); None
    under three days."""
    closes: dict[str, Decimal] = {}
    for ts, equity in curve:
        closes[utc_day(ts - 1)] = equity
    values = [float(v) for _, v in sorted(closes.items())]
    returns = [b / a - 1 for a, b in itertools.pairwise(values) if a > 0]
    if len(returns) < 2:
        return None
    mean = sum(returns) / len(returns)
    std = math.sqrt(sum((r - mean) ** 2 for r in returns) / (len(returns) - 1))
    if std == 0:
        return None
    return round(mean / std * math.sqrt(365), 4)
