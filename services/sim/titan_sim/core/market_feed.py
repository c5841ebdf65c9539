"""The market the venue's users trade against: the synthetic walk (the crowd's quotes and
trades), or in replay mode a recorded market played back."""

from __future__ import annotations

import math
from collections.abc import Iterable
from decimal import Decimal

from titan_common.replay import RecordedKline, ReplayTrade
from titan_sim.core.klines import Candle
from titan_sim.core.market import MarketState
from titan_sim.core.matching import Matching
from titan_sim.core.model import ZERO, ExchangeError, Side
from titan_sim.core.ret_codes import BAD_PARAM
from titan_sim.core.state import VenueState
from titan_sim.core.tape import print_trade
from titan_sim.core.triggers import Triggers


class MarketFeed:
    def __init__(self, state: VenueState, matching: Matching, triggers: Triggers) -> None:
        self.state = state
        self.matching = matching
        self.triggers = triggers

    # --- the synthetic market ------------------------------------------------------------

    def market_tick(self, symbol: str, now_ms: int) -> None:
        """One step of the crowd: the walk moves, quotes follow, a few trades print."""
        market = self.state.markets[symbol]
        if market.status != "Trading":
            market.last_ms = now_ms
            return
        dt = now_ms - market.last_ms
        if dt <= 0:
            return
        market.step(now_ms)
        self.reprice(symbol, now_ms)
        rng = market.rng
        config = self.state.config
        expected = min(config.flow_trades_per_s * dt / 1000, float(config.max_flow_per_tick))
        count = int(expected) + (1 if rng.random() < expected - int(expected) else 0)
        for _ in range(count):
            self._crowd_trade(symbol, Side.BUY if rng.random() < 0.5 else Side.SELL, now_ms)
        for _ in range(rng.randint(0, 3)):
            self.book_noise(symbol)
        self.reprice(symbol, now_ms)
        self.triggers.check(symbol, now_ms)

    def _crowd_trade(self, symbol: str, side: Side, now_ms: int, count: int = 1, notional: float | None = None) -> None:
        """`count` takers of one size from the crowd. They are matched as one sweep and
        printed as separate trades: the same prices as one-by-one, far cheaper for bursts."""
        market = self.state.markets[symbol]
        inst = market.instrument
        usdt = notional if notional is not None else math.exp(market.rng.uniform(math.log(50), math.log(20000)))
        qty = max(inst.qty_step, inst.truncate_qty(Decimal(f"{usdt / market.mid:.10f}")))
        for fill in self.state.books[symbol].match(side, qty * count, None):
            if fill.maker is not None:
                self.matching.apply_fill(fill.maker, fill.price, fill.qty, now_ms, is_maker=True)
            print_trade(self.state, symbol, side, fill.price, fill.qty, now_ms, piece=qty)

    def reprice(self, symbol: str, now_ms: int) -> None:
        """Re-centre the crowd's quotes on mid. User orders the market moved through fill."""
        market = self.state.markets[symbol]
        inst = market.instrument
        book = self.state.books[symbol]
        step = inst.level_step
        mid = Decimal(repr(market.mid))
        bid_top = (mid / step).to_integral_value(rounding="ROUND_FLOOR") * step
        ask_top = bid_top + step
        for fill in book.sweep(Side.BUY, bid_top):
            self.matching.fill(symbol, None, Side.SELL, fill, now_ms)
        for fill in book.sweep(Side.SELL, ask_top):
            self.matching.fill(symbol, None, Side.BUY, fill, now_ms)
        levels = self.state.config.book_levels
        for i in range(levels):
            for side, price in ((Side.BUY, bid_top - i * step), (Side.SELL, ask_top + i * step)):
                if price <= 0:
                    continue
                level = book.level(side, price)
                if level is None or level.synthetic <= 0:
                    book.set_synthetic(side, price, _level_qty(market))
        book.clear_synthetic_beyond(Side.BUY, levels)
        book.clear_synthetic_beyond(Side.SELL, levels)

    def book_noise(self, symbol: str) -> None:
        """One random change to the crowd's quotes near the top: resize, pull or add a level."""
        market = self.state.markets[symbol]
        book = self.state.books[symbol]
        rng = market.rng
        side = Side.BUY if rng.random() < 0.5 else Side.SELL
        prices = book.prices(side)
        if not prices:
            return
        roll = rng.random()
        if roll < 0.2 and len(prices) > 5:
            book.set_synthetic(side, prices[rng.randrange(1, min(len(prices), 50))], ZERO)
        elif roll < 0.4:
            step = market.instrument.level_step
            gap = rng.randrange(1, 50) * step
            price = prices[0] - gap if side is Side.BUY else prices[0] + gap
            if price > 0:
                book.set_synthetic(side, price, _level_qty(market))
        else:
            book.set_synthetic(side, prices[rng.randrange(0, min(len(prices), 50))], _level_qty(market))

    def burst_step(self, symbol: str, mid: float, trades: int, side: Side, now_ms: int) -> None:
        """One slice of a momentum burst: the price jumps and `trades` takers carry it."""
        market = self.state.markets[symbol]
        market.mid = mid
        market.last_ms = max(market.last_ms, now_ms)
        self.reprice(symbol, now_ms)
        self._crowd_trade(symbol, side, now_ms, count=trades, notional=float(market.instrument.level_notional) / 20)
        self.reprice(symbol, now_ms)
        self.triggers.check(symbol, now_ms)

    def set_status(self, symbol: str, status: str) -> None:
        self.state.instrument(symbol)
        if status not in ("Trading", "Closed"):
            raise ExchangeError(BAD_PARAM, "params error: status must be Trading or Closed")
        self.state.markets[symbol].status = status

    # --- replay mode: a recorded market instead of the walk ---------------------------------

    def load_recorded(self, history: Iterable[RecordedKline], now_ms: int) -> None:
        """Recorded minutes as the candles' history; each symbol's price at its last close, no
        funding (a kline file holds none), and from now on only recorded trades print."""
        state = self.state
        state.recorded_tape = True
        by_symbol: dict[str, list[Candle]] = {}
        for k in history:
            by_symbol.setdefault(k.symbol, []).append(_candle(k))
        for symbol, market in state.markets.items():
            candles = by_symbol.get(symbol, [])
            state.klines[symbol].load(candles)
            state.funding_history[symbol].clear()
            market.funding_rate = 0.0
            market.last_ms = now_ms
            if candles:
                market.last_price = candles[-1].close
                market.mid = float(candles[-1].close)
            self.reprice(symbol, now_ms)

    def replay_trade(self, trade: ReplayTrade) -> None:
        """A recorded trade: quotes move to it (filling the resting orders it passes), it prints
        at its own time, and stops and targets see it."""
        symbol, ts = trade.symbol, trade.ts_ms
        market = self.state.markets[symbol]
        market.mid = float(trade.price)
        market.last_ms = max(market.last_ms, ts)
        self.reprice(symbol, ts)
        print_trade(self.state, symbol, Side.BUY if trade.taker_buy else Side.SELL, trade.price, trade.qty, ts)
        self.triggers.check(symbol, ts)

    def put_minute(self, kline: RecordedKline) -> None:
        """The recorded bar, in place of the one its replayed trades built."""
        self.state.klines[kline.symbol].put(_candle(kline), kline.interval_ms)


def _level_qty(market: MarketState) -> Decimal:
    """A crowd level's size: around the instrument's level notional, drawn from the market's generator."""
    inst = market.instrument
    usdt = float(inst.level_notional) * market.rng.uniform(0.2, 1.8)
    return max(inst.qty_step, inst.truncate_qty(Decimal(f"{usdt / market.mid:.10f}")))


def _candle(k: RecordedKline) -> Candle:
    return Candle(k.start_ms, k.open, k.high, k.low, k.close, k.volume, k.volume * k.close)
