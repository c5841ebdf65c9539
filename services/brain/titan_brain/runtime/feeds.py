"""What flows into the brain's state besides signals: execution's events, execution's
wallet endpoint, Postgres at start, and public market data.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from decimal import Decimal

from pydantic import ValidationError

from titan_brain.core.types import Instrument, OpenPosition
from titan_brain.runtime.state import BrainState
from titan_common.events import EventType, OrderFilled, PositionUpdate, TradeClosed, WalletUpdate, parse_payload
from titan_common.exchanges import ExchangeAdapter, ExchangeError
from titan_common.exchanges.registry import venue
from titan_common.messages import Event

log = logging.getLogger(__name__)


class Change:
    """What an event changed, so the caller knows which checks to run."""

    def __init__(self) -> None:
        self.equity = False
        self.trade = False
        self.price = False
        self.positions = False


def apply_event(state: BrainState, event: Event) -> Change:
    """Fold one event from titan:events into the state (events of other accounts are ignored)."""
    change = Change()
    try:
        payload = parse_payload(event)
    except ValidationError as exc:
        log.warning("malformed %s payload ignored: %s", event.event_type, str(exc)[:200])
        return change
    settings = state.settings
    primary = settings.exchange  # NAV, phases and the drawdown follow this account
    running = set(settings.accounts)
    if isinstance(payload, WalletUpdate) and payload.exchange in running:
        state.spendable[settings.venue_of(payload.exchange)] = payload.available_balance
        if payload.exchange == primary:
            state.observe_equity(
                payload.equity, event.ts_ms, wallet_balance=payload.wallet_balance,
                unrealised_pnl=payload.unrealised_pnl, available_balance=payload.available_balance,
            )  # fmt: skip
            change.equity = True
    elif isinstance(payload, PositionUpdate) and payload.exchange in running:
        state.observe_position(position_of(payload, settings.venue_of(payload.exchange)), payload.symbol,
                               settings.venue_of(payload.exchange))  # fmt: skip
        change.positions = True
        if payload.mark_price is not None and payload.mark_price > 0 and payload.exchange == primary:
            state.observe_price(payload.symbol, event.ts_ms, payload.mark_price)
            change.price = True
    elif isinstance(payload, OrderFilled) and payload.exchange == primary and payload.price > 0:
        state.observe_price(payload.symbol, payload.ts_ms, payload.price)
        change.price = True
    elif isinstance(payload, TradeClosed) and payload.exchange in running:
        state.observe_trade(payload.closed_ms, payload.pnl)
        change.trade = True
    elif event.event_type == EventType.MASTER_ARM_CHANGE.value:
        state.master_armed = bool(event.payload.get("master_arm"))
    return change


def spot_venues(names: Sequence[str]) -> frozenset[str]:
    """The spot venues among `names` (long-only, leverage 1), by the registry's traits."""
    return frozenset(name for name in names if venue(name).spot)


def position_of(update: PositionUpdate, venue: str) -> OpenPosition | None:
    if update.side is None or update.size <= 0:
        return None
    return OpenPosition(
        symbol=update.symbol,
        side=update.side,
        size=update.size,
        entry_price=update.avg_entry,
        mark_price=update.mark_price,
        exchange=venue,
    )


def wallet_from(body: dict[str, object]) -> WalletUpdate | None:
    """Execution's GET /wallet answer (the WalletUpdate fields), or None if it is not one."""
    try:
        return WalletUpdate.model_validate(body)
    except ValidationError:
        return None


async def load_instruments(adapter: ExchangeAdapter, symbols: set[str]) -> dict[str, Instrument]:
    found = {}
    for filters in await adapter.instruments():
        if filters.symbol in symbols:
            found[filters.symbol] = Instrument(
                symbol=filters.symbol,
                min_notional=filters.min_notional,
                qty_step=filters.qty_step,
                min_qty=filters.min_qty,
                max_leverage=filters.max_leverage,
                trading=filters.trading,
            )
    return found


async def poll_prices(
    adapter: ExchangeAdapter, symbols: list[str], problems: dict[str, str] | None = None
) -> dict[str, Decimal]:
    """Last prices; each symbol without one is named in `problems` with why."""
    prices = {}
    for symbol in symbols:
        try:
            price = await adapter.last_price(symbol)
        except ExchangeError as exc:
            log.debug("no price for %s: %s", symbol, exc)
            if problems is not None:
                problems[symbol] = str(exc)[:200]
            continue
        if price > 0:
            prices[symbol] = price
        elif problems is not None:
            problems[symbol] = f"price {price}"
    return prices
