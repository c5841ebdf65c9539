"""The MEXC ExchangeAdapter: spot v3 REST through ccxt's async client, public data REST-polled.

A spot account holds coins, not positions: long-only, leverage 1, no venue-side stops. So
`positions()` is empty (Titan's position is its own inventory from its own fills; execution
compares it with `balances()`), stops are refused rather than dropped, and there is no
private stream (fills come from polling `executions_since`). With `market="swap"` the
adapter only reads the contract list and refuses to trade (see `check_trading_allowed`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, Unpack

from titan_common.exchanges import types as T
from titan_common.exchanges.mexc import constants as C
from titan_common.exchanges.mexc import parsing as P
from titan_common.exchanges.mexc.http import MexcHttp
from titan_common.exchanges.mexc.streams import PublicPoller
from titan_common.exchanges.protocol import RateLimitHealth
from titan_common.messages import OrderType, Side


class TradingNotAllowed(T.OrderRejected):
    """The venue does not let this key trade this market (MEXC's contract API: apiAllowed false)."""


@dataclass(frozen=True)
class MexcConfig(T.RestAccess):
    """endpoint: the simulator's MEXC face (http://127.0.0.1:9101), or https://api.mexc.com."""

    market: Literal["spot", "swap"] = "spot"
    symbols: tuple[str, ...] = field(default=())  # always covered by symbol-less queries


class MexcAdapter(RateLimitHealth):
    name = "mexc"
    http: MexcHttp
    spot = True  # long-only, leverage 1, no venue-side stops (registry.Venue.spot says the same)

    def __init__(self, config: MexcConfig) -> None:
        self.config = config
        self.http = MexcHttp(config)
        # MEXC answers open orders and trades per symbol only: symbol-less queries cover these
        self._symbols_seen: dict[str, None] = dict.fromkeys(config.symbols)
        self._pollers: list[PublicPoller] = []
        self._last_public_ms = 0

    # --- its own health ---

    @property
    def stream_reconnects(self) -> int:
        return 0  # no socket: the feed is REST-polled, a failed poll is simply tried again

    @property
    def public_feed(self) -> str:
        return "rest-poll"  # for /health: MEXC's public data is polled once a second, not streamed

    @property
    def last_public_ms(self) -> int:
        """When the REST-polled public feed last brought data (UTC ms; 0: never)."""
        return max([self._last_public_ms, *(p.last_public_ms for p in self._pollers)])

    @property
    def known_symbols(self) -> list[str]:
        """The symbols symbol-less queries cover: settings.symbols and every symbol traded or asked about."""
        return list(self._symbols_seen)

    def watch_symbols(self, symbols: Iterable[str]) -> None:
        """Add symbols symbol-less queries must cover (execution passes the symbols of its own
        open intents and inventory at start: after a restart the adapter remembers none)."""
        for symbol in symbols:
            self._note(symbol)

    def _note(self, symbol: str) -> str:
        self._symbols_seen.setdefault(symbol, None)
        return symbol

    async def _spot(self, method: str, path: str, params: dict[str, Any] | None = None, *, private: bool) -> Any:
        return await self.http.call("spot", "private" if private else "public", method, path, params)

    # --- reference data and account state ---

    async def server_time_ms(self) -> int:
        return P.server_time_ms(await self._spot("GET", "time", private=False))

    async def instruments(self) -> list[T.InstrumentFilters]:
        if self.config.market == "swap":
            return [c.filters for c in await self.contracts()]
        payload = await self._spot("GET", "exchangeInfo", private=False)
        return [P.instrument(item) for item in payload.get("symbols") or () if item.get("symbol")]

    async def balances(self) -> dict[str, Decimal]:
        """Each asset's total (free + locked) on the spot account; assets at zero left out."""
        return P.balances(await self._spot("GET", "account", private=True))

    async def wallet(self) -> T.Wallet:
        """USDT only: equity = free + locked USDT; other coins are not valued (see parsing.wallet)."""
        return P.wallet(await self._spot("GET", "account", private=True))

    async def last_price(self, symbol: str) -> Decimal:
        payload = await self._spot("GET", "ticker/price", {"symbol": symbol}, private=False)
        items = payload if isinstance(payload, list) else [payload]
        for item in items:
            if isinstance(item, dict) and item.get("symbol") == symbol and P.price_or_none(item.get("price")):
                return P.dec0(item["price"])
        raise T.OrderNotFound(f"no price for {symbol}")

    async def positions(self) -> list[T.ExchangePosition]:
        return []  # a spot account has holdings (balances()), not positions

    async def open_orders(self, symbol: str | None = None) -> list[T.ExchangeOrder]:
        symbols = [self._note(symbol)] if symbol else self.known_symbols
        orders: list[T.ExchangeOrder] = []
        for each in symbols:
            payload = await self._spot("GET", "openOrders", {"symbol": each}, private=True)
            orders += [P.order(item) for item in payload or ()]
        return orders

    async def order_by_client_id(self, symbol: str, client_order_id: str) -> T.ExchangeOrder | None:
        """The order with this client id (open or finished); None when MEXC says it knows none."""
        try:
            item = await self._spot(
                "GET", "order", {"symbol": self._note(symbol), "origClientOrderId": client_order_id}, private=True
            )
        except T.OrderNotFound:
            return None
        return P.order(item) if isinstance(item, dict) and item.get("orderId") else None

    async def executions_since(self, since_ms: int, symbol: str | None = None) -> list[T.Execution]:
        """myTrades from `since_ms` on, oldest first. MEXC needs a symbol: for None, every symbol
        this adapter has traded or been asked about, plus settings.symbols."""
        symbols = [self._note(symbol)] if symbol else self.known_symbols
        items: list[dict[str, Any]] = []
        for each in symbols:
            start = since_ms
            for _ in range(50):  # a hard stop on runaway pagination
                page = await self._spot(
                    "GET", "myTrades", {"symbol": each, "startTime": start, "limit": 100}, private=True
                )
                page = [item for item in page or () if isinstance(item, dict)]
                items += page
                if len(page) < 100:
                    break
                newest = max(int(item.get("time") or 0) for item in page)
                if newest <= start:
                    break  # 100 trades in one millisecond: MEXC gives no cursor past them
                start = newest  # the edge millisecond again; duplicates are dropped by id
        return P.executions(items)

    # --- public market data ---

    async def klines(
        self, symbol: str, interval: str, *, limit: int = 200, start_ms: int | None = None, end_ms: int | None = None
    ) -> list[T.Kline]:
        mexc_interval = P.kline_interval(interval)
        params: dict[str, Any] = {"symbol": symbol, "interval": mexc_interval, "limit": min(limit, 1000)}
        # MEXC takes startTime and endTime together only
        span = C.KLINE_INTERVALS_MS[mexc_interval] * limit
        if start_ms is not None:
            params["startTime"], params["endTime"] = start_ms, end_ms if end_ms is not None else start_ms + span
        elif end_ms is not None:
            params["startTime"], params["endTime"] = end_ms - span, end_ms
        return P.klines(await self._spot("GET", "klines", params, private=False))

    async def tickers(self, symbol: str | None = None) -> list[T.Ticker]:
        return P.tickers(await self._spot("GET", "ticker/24hr", {"symbol": symbol} if symbol else {}, private=False))

    async def funding_history(self, symbol: str, *, limit: int = 20) -> list[T.FundingRate]:
        return []  # spot has no funding

    async def open_interest(self, symbol: str, *, interval: str = "5min", limit: int = 50) -> list[T.OpenInterest]:
        return []  # spot has no open interest

    # --- the contract market: read, never traded ---

    async def contracts(self) -> list[P.Contract]:
        """MEXC's perpetuals with their `apiAllowed` flag (GET /api/v1/contract/detail)."""
        return P.contracts(await self.http.call("contract", "public", "GET", "detail"))

    async def check_trading_allowed(self) -> None:
        """Raise TradingNotAllowed, with one clear message, when this adapter must not trade;
        execution calls it at start. Spot: when the account says it cannot trade. Swap: always
        (MEXC's contract API is closed to API keys, and Titan implements spot orders only)."""
        if self.config.market != "swap":
            account = await self._spot("GET", "account", private=True)
            if isinstance(account, dict) and account.get("canTrade") is False:
                raise TradingNotAllowed(
                    "MEXC says this account cannot trade (canTrade=false): check the key's permissions"
                )
            return
        await self._refuse_contracts()

    async def _refuse_contracts(self) -> None:
        listed = await self.contracts()
        wanted = [c for c in listed if not self.config.symbols or c.symbol in self.config.symbols]
        closed = [c.contract_symbol for c in wanted if not c.api_allowed]
        if closed or not wanted:
            raise TradingNotAllowed(
                "MEXC's contract API does not accept orders from API keys (apiAllowed=false for "
                f"{', '.join(closed[:5]) or 'every listed contract'}; closed to API users since July 2022): "
                "Titan does not trade MEXC futures; use TITAN_MEXC_MARKET=spot"
            )
        raise TradingNotAllowed(
            "MEXC contracts report apiAllowed=true, but Titan's MEXC adapter implements spot orders only: "
            "it does not trade MEXC futures; use TITAN_MEXC_MARKET=spot"
        )

    # --- trading ---

    async def place_order(self, order: T.PlaceOrder) -> T.OrderAck:
        if order.stop_loss is not None or order.take_profit is not None or order.trigger_price is not None:
            # fail closed: a stop the caller asked for is never silently dropped
            raise T.OrderRejected(C.NO_STOPS)
        if self.config.market == "swap":
            try:
                await self._refuse_contracts()
            except TradingNotAllowed:
                raise
            except T.ExchangeError as exc:  # the listing could not be read: refused all the same
                raise TradingNotAllowed(f"Titan does not trade MEXC futures (contract list unread: {exc})") from exc
        if order.reduce_only and order.side is Side.BUY:
            # long-only: a buy never reduces; sending it would grow the holding instead
            raise T.OrderRejected("MEXC spot is long-only: a reduce-only buy cannot reduce anything")
        params: dict[str, Any] = {
            "symbol": self._note(order.symbol),
            "side": "BUY" if order.side is Side.BUY else "SELL",
            # a market buy by base quantity too (not quoteOrderQty): Titan sizes in the base coin
            "quantity": P.decimal_str(order.qty),
            "newClientOrderId": order.client_order_id,
        }
        if order.order_type is OrderType.MARKET:
            params["type"] = C.MARKET
        else:
            if order.price is None:
                raise T.OrderRejected("a LIMIT order needs a price")
            tif = order.time_in_force
            params["type"] = C.ORDER_TYPE_FOR_TIME_IN_FORCE[tif] if tif else C.LIMIT
            params["price"] = P.decimal_str(order.price)
        # reduce_only / close_on_trigger have no meaning on spot: a sell can only sell coins held
        result = await self._spot("POST", "order", params, private=True)
        return T.OrderAck(
            order_id=str(result["orderId"]),
            client_order_id=str(result.get("clientOrderId") or order.client_order_id),
        )

    async def cancel_order(
        self, symbol: str, *, client_order_id: str | None = None, order_id: str | None = None
    ) -> None:
        if not (client_order_id or order_id):
            raise ValueError("cancel_order needs client_order_id or order_id")
        params: dict[str, Any] = {"symbol": self._note(symbol)}
        params.update({"origClientOrderId": client_order_id} if client_order_id else {"orderId": order_id})
        await self._spot("DELETE", "order", params, private=True)

    async def cancel_all(self, symbol: str | None = None) -> int:
        """Cancel every open order of `symbol` (for None: of every symbol with open orders)."""
        with_open = [self._note(symbol)] if symbol else [o.symbol for o in await self.open_orders()]
        symbols = list(dict.fromkeys(with_open))
        cancelled = 0
        for each in symbols:
            result = await self._spot("DELETE", "openOrders", {"symbol": each}, private=True)
            cancelled += len(result) if isinstance(result, list) else 0
        return cancelled

    async def amend_order(self, symbol: str, client_order_id: str, **changes: Unpack[T.OrderChanges]) -> None:
        stops = changes.get("stop_loss") is not None or changes.get("take_profit") is not None
        raise T.OrderRejected(C.NO_STOPS if stops else "MEXC spot cannot amend an order: cancel it and place a new one")

    async def set_leverage(self, symbol: str, leverage: int) -> None:
        if leverage != 1:
            raise T.OrderRejected(f"MEXC spot trades without leverage: leverage {leverage} refused (only 1)")

    async def set_trading_stop(
        self, symbol: str, *, stop_loss: Decimal | None = None, take_profit: Decimal | None = None
    ) -> None:
        raise T.OrderRejected(C.NO_STOPS)

    # --- streams ---

    async def private_events(self) -> AsyncIterator[T.PrivateEvent]:
        """Nothing: Titan opens no private MEXC stream; fills come from polling executions_since."""
        return
        yield  # an async generator that ends at once

    async def public_events(self, symbols: Sequence[str], topics: Sequence[str]) -> AsyncIterator[T.PublicEvent]:
        """REST-polled (once a second per symbol), yielding what the Bybit streams yield."""
        poller = PublicPoller(self.http.call, symbols, topics)
        self._pollers.append(poller)
        try:
            async for event in poller.events():
                yield event
        finally:
            self._last_public_ms = max(self._last_public_ms, poller.last_public_ms)
            self._pollers.remove(poller)

    def private_stream_connected(self) -> bool | None:
        return None  # there is no private stream

    async def close(self) -> None:
        await self.http.close()
