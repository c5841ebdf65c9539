"""Shadow positions from fills: one position per symbol (one-way mode), pure Decimal math.

A fill in the position's direction (or on a flat book) adds at a size-weighted average
entry. A fill against it closes up to the open size, realising (exit - entry) x qty x
direction; any remainder opens the other way at the fill price (a flip). When a position
returns to zero (or flips), the round trip is emitted as a ClosedTrade with its PnL,
fees, R multiple and what closed it. Every execution type changes the position (a
liquidation, an ADL, a delivery close it like a trade would) except funding: its fee is
charged to the position and nothing else changes.

Fills are idempotent by exec_id: the same execution seen on the WebSocket and over REST
is applied once.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal

from titan_common.exchanges.types import ExecType
from titan_common.messages import Side

ZERO = Decimal(0)


@dataclass(frozen=True)
class Fill:
    exec_id: str
    symbol: str
    side: Side
    qty: Decimal
    price: Decimal
    fee: Decimal  # positive = paid, negative = rebate
    ts_ms: int
    exec_type: ExecType = ExecType.TRADE


@dataclass(frozen=True)
class Position:
    symbol: str
    side: Side | None = None  # None when flat
    size: Decimal = ZERO
    avg_entry: Decimal = ZERO
    realised_pnl: Decimal = ZERO  # gross, over the position's life
    fees: Decimal = ZERO
    opened_ms: int | None = None
    stop_loss: Decimal | None = None
    leverage: int | None = None  # what Titan set on the venue for it; None when not Titan's decision
    # the round trip in progress
    trip_entry_value: Decimal = ZERO
    trip_max_size: Decimal = ZERO
    trip_exit_qty: Decimal = ZERO
    trip_exit_value: Decimal = ZERO
    trip_pnl: Decimal = ZERO
    trip_fees: Decimal = ZERO
    trip_initial_stop: Decimal | None = None

    @property
    def is_flat(self) -> bool:
        return self.size == 0

    @property
    def direction(self) -> int:
        return 0 if self.side is None else (1 if self.side is Side.BUY else -1)

    def unrealised_pnl(self, mark_price: Decimal) -> Decimal:
        return (mark_price - self.avg_entry) * self.size * self.direction

    def notional(self, mark_price: Decimal) -> Decimal:
        return self.size * mark_price


@dataclass(frozen=True)
class ClosedTrade:
    symbol: str
    side: Side
    qty: Decimal  # the largest size held during the trip
    entry_price: Decimal
    exit_price: Decimal
    pnl: Decimal  # gross
    fees: Decimal
    r_multiple: Decimal | None
    opened_ms: int
    closed_ms: int
    closed_by: ExecType = ExecType.TRADE  # the execution type of the fill that closed it

    @property
    def net_pnl(self) -> Decimal:
        return self.pnl - self.fees


TRIP_FIELDS = ("trip_entry_value", "trip_max_size", "trip_exit_qty", "trip_exit_value", "trip_pnl", "trip_fees")


def trip_of(position: Position) -> dict[str, str | None]:
    """The round trip in progress, as decimal strings (what the positions table keeps)."""
    trip: dict[str, str | None] = {name: str(getattr(position, name)) for name in TRIP_FIELDS}
    stop = position.trip_initial_stop
    trip["trip_initial_stop"] = None if stop is None else str(stop)
    return trip


def with_trip(position: Position, trip: dict[str, str | None] | None) -> Position:
    """`position` with its recorded round trip restored (none recorded: as if it had just
    been opened at its entry, so a close still has its real qty and entry)."""
    if not trip:
        return adopt(position, position.side, position.size, position.avg_entry, position.stop_loss)
    values: dict[str, Decimal | None] = {name: Decimal(trip.get(name) or 0) for name in TRIP_FIELDS}
    stop = trip.get("trip_initial_stop")
    values["trip_initial_stop"] = None if stop is None else Decimal(stop)
    return replace(position, **values)  # type: ignore[arg-type]


def adopt(
    current: Position, side: Side | None, size: Decimal, avg_entry: Decimal, stop_loss: Decimal | None
) -> Position:
    """The venue's position taken into the book (an adoption or a resize): its round trip,
    when none is under way, starts at the venue's entry and size."""
    position = replace(current, side=side, size=size, avg_entry=avg_entry, stop_loss=stop_loss)
    if size <= 0 or current.trip_max_size > 0:
        return position
    return replace(
        position,
        trip_entry_value=avg_entry * size,
        trip_max_size=size,
        trip_initial_stop=stop_loss,
    )


def apply_fill(position: Position, fill: Fill) -> tuple[Position, ClosedTrade | None]:
    """The position after one fill, and the round trip it completed, if any."""
    if fill.symbol != position.symbol:
        raise ValueError(f"fill for {fill.symbol} applied to {position.symbol}")
    if not fill.exec_type.changes_position:
        return replace(position, fees=position.fees + fill.fee, trip_fees=position.trip_fees + fill.fee), None
    if fill.qty <= 0:
        raise ValueError("fill qty must be positive")
    if position.is_flat or fill.side is position.side:
        return _add(position, fill), None
    return _reduce(position, fill)


def adds_risk(before: Position, fill: Fill) -> bool:
    """Whether a fill opened or grew exposure: on a flat book, on the position's side, or a
    flip. A venue's stop-out, filled in pieces without a Titan orderLinkId, only reduces."""
    if not fill.exec_type.changes_position:
        return False
    return before.is_flat or fill.side is before.side or fill.qty > before.size


def _add(position: Position, fill: Fill) -> Position:
    size = position.size + fill.qty
    avg = (position.avg_entry * position.size + fill.price * fill.qty) / size
    opening = position.is_flat
    return replace(
        position,
        side=fill.side,
        size=size,
        avg_entry=avg,
        fees=position.fees + fill.fee,
        opened_ms=fill.ts_ms if opening else position.opened_ms,
        trip_entry_value=position.trip_entry_value + fill.price * fill.qty,
        trip_max_size=max(position.trip_max_size, size),
        trip_fees=position.trip_fees + fill.fee,
        trip_initial_stop=position.stop_loss if opening else position.trip_initial_stop,
    )


def _reduce(position: Position, fill: Fill) -> tuple[Position, ClosedTrade | None]:
    closing = min(fill.qty, position.size)
    pnl = (fill.price - position.avg_entry) * closing * position.direction
    # the fee is split pro rata between the closing part and any flip remainder
    closing_fee = fill.fee * closing / fill.qty
    remaining = position.size - closing
    reduced = replace(
        position,
        size=remaining,
        realised_pnl=position.realised_pnl + pnl,
        fees=position.fees + closing_fee,
        trip_exit_qty=position.trip_exit_qty + closing,
        trip_exit_value=position.trip_exit_value + fill.price * closing,
        trip_pnl=position.trip_pnl + pnl,
        trip_fees=position.trip_fees + closing_fee,
    )
    if remaining > 0:
        return reduced, None
    trade = _close_trip(reduced, fill.ts_ms, fill.exec_type)
    flat = Position(
        symbol=position.symbol,
        realised_pnl=reduced.realised_pnl,
        fees=reduced.fees,
    )
    flip_qty = fill.qty - closing
    if flip_qty > 0:
        flip = replace(fill, qty=flip_qty, fee=fill.fee - closing_fee)
        return _add(flat, flip), trade
    return flat, trade


def _close_trip(position: Position, closed_ms: int, closed_by: ExecType) -> ClosedTrade:
    assert position.side is not None
    qty = position.trip_max_size
    entry_price = position.trip_entry_value / qty if qty else ZERO
    exit_price = position.trip_exit_value / position.trip_exit_qty if position.trip_exit_qty else ZERO
    r_multiple = None
    stop = position.trip_initial_stop
    if stop is not None and entry_price != stop and qty > 0:
        risk = abs(entry_price - stop) * qty
        r_multiple = (position.trip_pnl - position.trip_fees) / risk
    return ClosedTrade(
        symbol=position.symbol,
        side=position.side,
        qty=qty,
        entry_price=entry_price,
        exit_price=exit_price,
        pnl=position.trip_pnl,
        fees=position.trip_fees,
        r_multiple=r_multiple,
        opened_ms=position.opened_ms or closed_ms,
        closed_ms=closed_ms,
        closed_by=closed_by,
    )


def write_off(position: Position, ts_ms: int) -> tuple[Position, ClosedTrade | None]:
    """A remainder too small to sell (spot dust: under the venue's minimum after a fee taken
    in the coin) leaves Titan's inventory unsold: the round trip ends with what was exited."""
    flat = Position(symbol=position.symbol, realised_pnl=position.realised_pnl, fees=position.fees)
    if position.is_flat or position.trip_exit_qty <= 0:
        return flat, None
    return flat, _close_trip(position, ts_ms, ExecType.TRADE)


SEEN_EXEC_IDS_MAX = 100_000  # days of fills; older duplicates are stopped by the fills table


class RecentIds:
    """The last `limit` ids seen, oldest forgotten first: a bounded duplicate guard."""

    def __init__(self, limit: int = SEEN_EXEC_IDS_MAX) -> None:
        self.limit = limit
        self._ids: dict[str, None] = {}  # insertion-ordered

    def __contains__(self, item: object) -> bool:
        return item in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, item: str) -> None:
        self._ids[item] = None
        while len(self._ids) > self.limit:
            del self._ids[next(iter(self._ids))]


@dataclass
class ShadowBook:
    """Positions by symbol, fed by fills from any source, each exec_id applied once (the
    fills table is the lasting record; this guard remembers the recent ones)."""

    positions: dict[str, Position] = field(default_factory=dict)
    seen_exec_ids: RecentIds = field(default_factory=RecentIds)

    def position(self, symbol: str) -> Position:
        return self.positions.get(symbol) or Position(symbol=symbol)

    def apply(self, fill: Fill) -> tuple[bool, ClosedTrade | None]:
        """(applied, closed trade). A fill already seen is ignored: (False, None)."""
        if fill.exec_id in self.seen_exec_ids:
            return False, None
        updated, trade = apply_fill(self.position(fill.symbol), fill)
        self.positions[fill.symbol] = updated
        self.seen_exec_ids.add(fill.exec_id)
        return True, trade

    def write_off(self, symbol: str, ts_ms: int) -> ClosedTrade | None:
        self.positions[symbol], trade = write_off(self.position(symbol), ts_ms)
        return trade

    def set_stop(self, symbol: str, stop_loss: Decimal | None) -> None:
        self.positions[symbol] = replace(self.position(symbol), stop_loss=stop_loss)

    def set_leverage(self, symbol: str, leverage: int) -> None:
        self.positions[symbol] = replace(self.position(symbol), leverage=leverage)

    def open_positions(self) -> list[Position]:
        return [p for p in self.positions.values() if not p.is_flat]
