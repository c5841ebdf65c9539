"""What every venue adapter provides. All methods are async and never block the loop."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from decimal import Decimal
from typing import Protocol, Unpack

from titan_common.exchanges import types as T


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
    async def instruments(self) -> list[T.InstrumentFilters]: ...
    async def wallet(self) -> T.Wallet: ...
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
    async def positions(self) -> list[T.ExchangePosition]: ...
    async def open_orders(self, symbol: str | None = None) -> list[T.ExchangeOrder]: ...
    async def order_by_client_id(self, symbol: str, client_order_id: str) -> T.ExchangeOrder | None: ...
    async def executions_since(self, since_ms: int, symbol: str | None = None) -> list[T.Execution]: ...

    # --- public market data (read-only; lists are oldest first) ---
    async def klines(
        self, symbol: str, interval: str, *, limit: int = 200, start_ms: int | None = None, end_ms: int | None = None
    ) -> list[T.Kline]: ...
    async def tickers(self, symbol: str | None = None) -> list[T.Ticker]: ...
    async def funding_history(self, symbol: str, *, limit: int = 20) -> list[T.FundingRate]: ...
    async def open_interest(self, symbol: str, *, interval: str = "5min", limit: int = 50) -> list[T.OpenInterest]: ...

    # --- trading ---
    async def place_order(self, order: T.PlaceOrder) -> T.OrderAck: ...
    async def cancel_order(
        self, symbol: str, *, client_order_id: str | None = None, order_id: str | None = None
    ) -> None: ...
    async def cancel_all(self, symbol: str | None = None) -> int: ...
    async def amend_order(self, symbol: str, client_order_id: str, **changes: Unpack[T.OrderChanges]) -> None: ...
    async def set_leverage(self, symbol: str, leverage: int) -> None: ...
    async def set_trading_stop(
        self, symbol: str, *, stop_loss: Decimal | None = None, take_profit: Decimal | None = None
    ) -> None: ...

    # --- streams ---
    def private_events(self) -> AsyncIterator[T.PrivateEvent]: ...
    def public_events(self, symbols: Sequence[str], topics: Sequence[str]) -> AsyncIterator[T.PublicEvent]: ...

    def private_stream_connected(self) -> bool | None: ...

    @property
    def stream_reconnects(self) -> int:
        """How many times a stream came back by itself after a loss."""
        ...

    async def close(self) -> None: ...


class RateLimitCounts(Protocol):
    last_rate_limited_ms: int
    rate_limit_hits: int


class RateLimitHealth:
    """The rate-limit half of an adapter's health, as its REST client (`http`) counts it."""

    http: RateLimitCounts

    @property
    def last_rate_limited_ms(self) -> int:
        return self.http.last_rate_limited_ms

    @property
    def rate_limit_hits(self) -> int:
        return self.http.rate_limit_hits
