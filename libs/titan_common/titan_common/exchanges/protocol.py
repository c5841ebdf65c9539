"""What every venue adapter provides. All methods are async and never block the loop."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from decimal import Decimal
from typing import Protocol

from titan_common.exchanges.types import (
    ExchangeOrder,
    ExchangePosition,
    Execution,
    FundingRate,
    InstrumentFilters,
    Kline,
    OpenInterest,
    OrderAck,
    PlaceOrder,
    PrivateEvent,
    PublicEvent,
    Ticker,
    Wallet,
)


class ExchangeAdapter(Protocol):
    name: str

    # --- its own health ---
    @property
    def last_rate_limited_ms(self) -> int:
        """When the venue last refused a request for rate (0: never)."""
        ...

    @property
    def rate_limit_hits(self) -> int: ...

    # --- reference data and account state (REST is the truth) ---
    async def server_time_ms(self) -> int: ...
    async def instruments(self) -> list[InstrumentFilters]: ...
    async def wallet(self) -> Wallet: ...
    async def balances(self) -> dict[str, Decimal]:
        """Each asset's total (free + locked) on the account; assets at zero may be left out.
        On a spot venue this is what the account holds (positions() is empty there)."""
        ...

    async def check_trading_allowed(self) -> None:
        """Raise OrderRejected with one clear message when this account must not trade here
        (MEXC's contract API, a key without trading rights); execution calls it at start."""
        ...

    def watch_symbols(self, symbols: Iterable[str]) -> None:
        """Symbols that symbol-less queries (open orders, executions) must cover, where the
        venue needs a symbol per query; execution passes its own at start."""
        ...

    async def last_price(self, symbol: str) -> Decimal: ...
    async def positions(self) -> list[ExchangePosition]: ...
    async def open_orders(self, symbol: str | None = None) -> list[ExchangeOrder]: ...
    async def order_by_client_id(self, symbol: str, client_order_id: str) -> ExchangeOrder | None: ...
    async def executions_since(self, since_ms: int, symbol: str | None = None) -> list[Execution]: ...

    # --- public market data (read-only; lists are oldest first) ---
    async def klines(
        self, symbol: str, interval: str, *, limit: int = 200, start_ms: int | None = None, end_ms: int | None = None
    ) -> list[Kline]: ...
    async def tickers(self, symbol: str | None = None) -> list[Ticker]: ...
    async def funding_history(self, symbol: str, *, limit: int = 20) -> list[FundingRate]: ...
    async def open_interest(self, symbol: str, *, interval: str = "5min", limit: int = 50) -> list[OpenInterest]: ...

    # --- trading ---
    async def place_order(self, order: PlaceOrder) -> OrderAck: ...
    async def cancel_order(
        self, symbol: str, *, client_order_id: str | None = None, order_id: str | None = None
    ) -> None: ...
    async def cancel_all(self, symbol: str | None = None) -> int: ...
    async def amend_order(
        self,
        symbol: str,
        client_order_id: str,
        *,
        qty: Decimal | None = None,
        price: Decimal | None = None,
        stop_loss: Decimal | None = None,
        take_profit: Decimal | None = None,
    ) -> None: ...
    async def set_leverage(self, symbol: str, leverage: int) -> None: ...
    async def set_trading_stop(
        self, symbol: str, *, stop_loss: Decimal | None = None, take_profit: Decimal | None = None
    ) -> None: ...

    # --- streams ---
    def private_events(self) -> AsyncIterator[PrivateEvent]: ...
    def public_events(self, symbols: Sequence[str], topics: Sequence[str]) -> AsyncIterator[PublicEvent]: ...

    def private_stream_connected(self) -> bool | None: ...

    @property
    def stream_reconnects(self) -> int:
        """How many times a stream came back by itself after a loss."""
        ...

    async def close(self) -> None: ...
