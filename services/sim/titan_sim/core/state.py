"""The perpetual venue's state, shared by the modules that act on it: instruments, books and
markets, orders and executions, the account, ids, and the outbox of what changed."""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from titan_sim.core.account import Account, Position
from titan_sim.core.book import OrderBook
from titan_sim.core.instruments import Instrument, instrument_for
from titan_sim.core.klines import KlineSeries
from titan_sim.core.market import MarketState
from titan_sim.core.model import ExchangeError, Execution, FundingRecord, Order, PublicTrade
from titan_sim.core.ret_codes import BAD_PARAM

RECENT_TRADES = 1000


@dataclass(frozen=True)
class ExchangeConfig:
    seed: int
    symbols: tuple[str, ...]
    balance: Decimal
    book_levels: int = 60
    flow_trades_per_s: float = 6.0
    backfill_minutes: int = 7 * 1440
    max_flow_per_tick: int = 20
    # what makes this run's order and execution ids its own: a simulator restarted (or reset)
    # with the same seed must not hand out ids a client already recorded from an earlier run
    ids: str = ""


@dataclass
class Outbox:
    """What changed since the last drain, for the private and public streams."""

    orders: dict[str, Order] = field(default_factory=dict)
    executions: list[Execution] = field(default_factory=list)
    positions: dict[str, Position] = field(default_factory=dict)
    wallet: bool = False
    trades: dict[str, list[PublicTrade]] = field(default_factory=dict)

    def empty(self) -> bool:
        return not (self.orders or self.executions or self.positions or self.wallet or self.trades)


@dataclass
class ReceivedOrder:
    """One create request as the venue saw it, accepted or not (GET /sim/orders). `sent` is
    the request as it arrived, kept verbatim for that view: the core never reads it."""

    seq: int
    received_ms: int
    source: str
    sent: Mapping[str, Any]
    ret_code: int = 0
    ret_msg: str = "OK"
    order: Order | None = None


class VenueState:
    def __init__(self, config: ExchangeConfig, now_ms: int) -> None:
        self.config = config
        self.instruments: dict[str, Instrument] = {s: instrument_for(s, config.seed) for s in config.symbols}
        self.books = {s: OrderBook(s) for s in config.symbols}
        self.markets: dict[str, MarketState] = {}
        self.klines = {s: KlineSeries() for s in config.symbols}
        self.recent_trades: dict[str, deque[PublicTrade]] = {s: deque(maxlen=RECENT_TRADES) for s in config.symbols}
        self.funding_history: dict[str, list[FundingRecord]] = {s: [] for s in config.symbols}
        self.next_funding_ms: dict[str, int] = {}
        self.account = Account(wallet_balance=config.balance)
        self.orders: dict[str, Order] = {}
        self.by_link_id: dict[str, Order] = {}
        self.order_log: list[Order] = []
        self.open_orders: dict[str, Order] = {}
        self.conditionals: dict[str, dict[str, Order]] = {s: {} for s in config.symbols}
        self.executions: list[Execution] = []
        self.received: list[ReceivedOrder] = []
        self.outbox = Outbox()
        self.recorded_tape = False  # replay mode: the market's trades come from a recording
        self._counter = 0
        digest = hashlib.sha256(f"titan-sim:{config.seed}{config.ids}".encode()).hexdigest()
        self._id_prefix = f"{digest[:8]}-{digest[8:12]}-4{digest[13:16]}-a{digest[17:20]}-"
        self.now_ms = now_ms

    # --- ids -------------------------------------------------------------------------------

    def next_seq(self) -> int:
        self._counter += 1
        return self._counter

    def new_id(self) -> str:
        # UUID-shaped and deterministic: a per-seed prefix and a counter (cheap enough for the tape)
        return f"{self._id_prefix}{self.next_seq():012x}"

    # --- lookups ---------------------------------------------------------------------------

    def instrument(self, symbol: str) -> Instrument:
        inst = self.instruments.get(symbol)
        if inst is None:
            raise ExchangeError(BAD_PARAM, f"params error: symbol invalid: {symbol!r}")
        return inst

    def marks(self) -> dict[str, Decimal]:
        return {s: m.mark for s, m in self.markets.items()}

    # --- bookkeeping -----------------------------------------------------------------------

    def register(self, order: Order) -> None:
        self.orders[order.order_id] = order
        if order.order_link_id:
            self.by_link_id[order.order_link_id] = order
        self.order_log.append(order)

    def record_execution(self, execution: Execution) -> None:
        self.executions.append(execution)
        self.outbox.executions.append(execution)

    def touch(self, order: Order) -> None:
        self.outbox.orders[order.order_id] = order

    def touch_position(self, symbol: str) -> None:
        self.outbox.positions[symbol] = self.account.position(symbol)
        self.outbox.wallet = True

    def drain(self) -> Outbox:
        out, self.outbox = self.outbox, Outbox()
        return out
