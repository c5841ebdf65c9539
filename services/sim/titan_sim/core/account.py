"""The one trading account: USDT wallet, one-way positions, margin, leverage and fee arithmetic.

Margin model (UTA-like, simplified and documented in the README):
- initial margin of a position = size * avgPrice / leverage;
- initial margin of a resting order = the part of its qty that would open exposure, at its
  price, divided by the symbol's leverage (reduce-only and conditional orders cost none);
- equity = walletBalance + unrealised PnL at mark;  available = equity - initial margins.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from titan_sim.core.instruments import Instrument
from titan_sim.core.model import ZERO, ExchangeError, Order, OrderStatus, Side
from titan_sim.core.requests import SetLeverage
from titan_sim.core.ret_codes import BAD_PARAM, INSUFFICIENT_BALANCE, LEVERAGE_NOT_MODIFIED

MAKER_FEE_RATE = Decimal("0.0002")
TAKER_FEE_RATE = Decimal("0.00055")
DEFAULT_LEVERAGE = Decimal(10)


@dataclass
class Position:
    symbol: str
    leverage: Decimal = DEFAULT_LEVERAGE
    side: Side | None = None
    size: Decimal = ZERO
    avg_price: Decimal = ZERO
    take_profit: Decimal = ZERO
    stop_loss: Decimal = ZERO
    trailing_stop: Decimal = ZERO
    cum_realised_pnl: Decimal = ZERO  # trading PnL minus fees plus funding, over the position's life
    created_ms: int = 0
    updated_ms: int = 0
    seq: int = 0

    @property
    def signed_size(self) -> Decimal:
        if self.side is None:
            return ZERO
        return self.size * self.side.sign

    @property
    def value(self) -> Decimal:
        return self.size * self.avg_price

    @property
    def initial_margin(self) -> Decimal:
        return self.value / self.leverage

    def unrealised_pnl(self, mark: Decimal) -> Decimal:
        return (mark - self.avg_price) * self.signed_size

    def bust_price(self) -> Decimal:
        """Price at which the position's initial margin is gone (liquidation happens here)."""
        if self.side is None:
            return ZERO
        if self.side is Side.BUY:
            return self.avg_price * (1 - 1 / self.leverage)
        return self.avg_price * (1 + 1 / self.leverage)


@dataclass(frozen=True)
class FillOutcome:
    closed_size: Decimal
    realised_pnl: Decimal  # trading PnL of the closed part, before fees


@dataclass
class Account:
    wallet_balance: Decimal
    positions: dict[str, Position] = field(default_factory=dict)
    cum_realised_pnl: Decimal = ZERO

    def position(self, symbol: str) -> Position:
        pos = self.positions.get(symbol)
        if pos is None:
            pos = Position(symbol)
            self.positions[symbol] = pos
        return pos

    def apply_fill(
        self, symbol: str, side: Side, qty: Decimal, price: Decimal, fee: Decimal, now_ms: int
    ) -> FillOutcome:
        """Book one fill: fee off the wallet, realise PnL on the closed part, re-average the rest."""
        pos = self.position(symbol)
        self.wallet_balance -= fee
        pos.cum_realised_pnl -= fee
        self.cum_realised_pnl -= fee
        closed = ZERO
        realised = ZERO
        remaining = qty
        if pos.side is not None and pos.side is not side:
            closed = min(qty, pos.size)
            realised = (price - pos.avg_price) * closed * pos.side.sign
            pos.size -= closed
            remaining -= closed
            self.wallet_balance += realised
            pos.cum_realised_pnl += realised
            self.cum_realised_pnl += realised
            if pos.size == 0:
                pos.side = None
                pos.avg_price = ZERO
                pos.take_profit = pos.stop_loss = pos.trailing_stop = ZERO
        if remaining > 0:
            if pos.side is None:
                pos.side = side
                pos.avg_price = price
                pos.size = remaining
                pos.created_ms = now_ms
            else:
                pos.avg_price = (pos.avg_price * pos.size + price * remaining) / (pos.size + remaining)
                pos.size += remaining
        pos.updated_ms = now_ms
        return FillOutcome(closed, realised)

    def apply_funding(self, symbol: str, payment: Decimal, now_ms: int) -> None:
        """payment > 0 is paid by the account."""
        pos = self.position(symbol)
        self.wallet_balance -= payment
        pos.cum_realised_pnl -= payment
        self.cum_realised_pnl -= payment
        pos.updated_ms = now_ms

    def unrealised_pnl(self, marks: dict[str, Decimal]) -> Decimal:
        return sum((p.unrealised_pnl(marks[s]) for s, p in self.positions.items() if p.side is not None), ZERO)

    def position_margin(self) -> Decimal:
        return sum((p.initial_margin for p in self.positions.values() if p.side is not None), ZERO)

    def equity(self, marks: dict[str, Decimal]) -> Decimal:
        return self.wallet_balance + self.unrealised_pnl(marks)


def opening_qty(pos: Position, side: Side, qty: Decimal) -> Decimal:
    """The part of an order's qty that would add exposure rather than reduce the position."""
    if pos.side is None or pos.side is side:
        return qty
    return max(qty - pos.size, ZERO)


def fee_for(value: Decimal, is_maker: bool) -> tuple[Decimal, Decimal]:
    rate = MAKER_FEE_RATE if is_maker else TAKER_FEE_RATE
    return value * rate, rate


# --- margin: what the open orders hold, what is left, whether a new order fits -------------


def order_margin(account: Account, open_orders: Iterable[Order]) -> Decimal:
    total = ZERO
    for order in open_orders:
        if order.reduce_only or (order.is_conditional and order.status is OrderStatus.UNTRIGGERED):
            continue
        pos = account.position(order.symbol)
        total += opening_qty(pos, order.side, order.leaves_qty) * order.price / pos.leverage
    return total


def available_balance(account: Account, open_orders: Iterable[Order], marks: dict[str, Decimal]) -> Decimal:
    return account.equity(marks) - account.position_margin() - order_margin(account, open_orders)


def check_margin(
    account: Account,
    open_orders: Iterable[Order],
    marks: Callable[[], dict[str, Decimal]],
    order: Order,
    price: Decimal,
) -> None:
    """Refuse an order whose opening part (margin and taker fee at `price`) the account cannot carry."""
    pos = account.position(order.symbol)
    qty = opening_qty(pos, order.side, order.leaves_qty)
    if qty <= 0 or order.reduce_only:
        return
    need = qty * price / pos.leverage + qty * price * TAKER_FEE_RATE
    if need > available_balance(account, open_orders, marks()):
        raise ExchangeError(INSUFFICIENT_BALANCE, "ab not enough for new order")


def set_leverage(
    account: Account, inst: Instrument, request: SetLeverage, available: Callable[[], Decimal], now_ms: int
) -> None:
    """One leverage for both sides (one-way mode), refused if the margin it frees goes negative."""
    buy = request.buy_leverage
    if buy != request.sell_leverage:
        raise ExchangeError(BAD_PARAM, "params error: buyLeverage must equal sellLeverage in one-way mode")
    if not 1 <= buy <= inst.max_leverage:
        raise ExchangeError(BAD_PARAM, f"params error: leverage must be within [1, {inst.max_leverage}]")
    pos = account.position(inst.symbol)
    if buy == pos.leverage:
        raise ExchangeError(LEVERAGE_NOT_MODIFIED, "leverage not modified")
    old = pos.leverage
    pos.leverage = buy
    if available() < 0:
        pos.leverage = old
        raise ExchangeError(INSUFFICIENT_BALANCE, "ab not enough for new leverage")
    pos.updated_ms = now_ms
