"""The Bybit ExchangeAdapter: REST via pybit HTTP (thread pool), streams via pybit WebSocket."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Unpack

from pybit.unified_trading import WebSocket

from titan_common.exchanges import types as T
from titan_common.exchanges.bybit import constants as C
from titan_common.exchanges.bybit import parsing as P
from titan_common.exchanges.bybit.http import BybitHttp
from titan_common.exchanges.bybit.streams import bridge, on_reconnect, open_socket
from titan_common.exchanges.payloads import dec0
from titan_common.exchanges.protocol import RateLimitHealth


@dataclass(frozen=True)
class BybitConfig(T.RestAccess):
    """endpoint: the simulator (http://127.0.0.1:9100), or ENDPOINTS[testnet|demo|mainnet]."""

    trade_rate_per_s: float = C.GROUP_LIMITS["trade"]


class BybitAdapter(RateLimitHealth):
    name = "bybit"
    http: BybitHttp

    def __init__(self, config: BybitConfig) -> None:
        self.config = config
        self.http = BybitHttp(config, trade_rate_per_s=config.trade_rate_per_s)
        self._private_socket: WebSocket | None = None
        self._reconnects = 0
        self._reconnects_lock = threading.Lock()  # pybit's socket threads count into it

    # --- its own health ---

    @property
    def stream_reconnects(self) -> int:
        return self._reconnects

    def _count_reconnect(self) -> None:
        with self._reconnects_lock:
            self._reconnects += 1

    # --- reference data and account state ---

    async def server_time_ms(self) -> int:
        result = await self.http.call("get_server_time")
        return int(result["timeNano"]) // 1_000_000

    async def instruments(self) -> list[T.InstrumentFilters]:
        items = await self._paged("get_instruments_info", category=C.CATEGORY, limit=1000)
        return [P.instrument(item) for item in items]

    async def wallet(self) -> T.Wallet:
        result = await self.http.call("get_wallet_balance", accountType=C.ACCOUNT_TYPE)
        return P.wallet(result["list"][0])

    async def balances(self) -> dict[str, Decimal]:
        """Each coin's wallet balance on the unified account (a derivatives account: margin, not holdings)."""
        result = await self.http.call("get_wallet_balance", accountType=C.ACCOUNT_TYPE)
        return P.balances(result["list"][0])

    async def check_trading_allowed(self) -> None:
        """Bybit's linear perpetuals trade through the API: a key's rights show at its first order."""

    def watch_symbols(self, symbols: Iterable[str]) -> None:
        """Bybit's symbol-less queries cover every symbol (category=linear)."""

    async def last_price(self, symbol: str) -> Decimal:
        result = await self.http.call("get_tickers", category=C.CATEGORY, symbol=symbol)
        items = result.get("list", [])
        if not items:
            raise T.OrderNotFound(f"no ticker for {symbol}")
        return dec0(items[0].get("lastPrice"))

    async def positions(self) -> list[T.ExchangePosition]:
        items = await self._paged("get_positions", category=C.CATEGORY, settleCoin="USDT", limit=200)
        return [P.position(item) for item in items]

    async def open_orders(self, symbol: str | None = None) -> list[T.ExchangeOrder]:
        params: dict[str, Any] = {"category": C.CATEGORY, "limit": 50}
        params.update({"symbol": symbol} if symbol else {"settleCoin": "USDT"})
        return [P.order(item) for item in await self._paged("get_open_orders", **params)]

    async def order_by_client_id(self, symbol: str, client_order_id: str) -> T.ExchangeOrder | None:
        # realtime lookups by orderLinkId also find recently finished orders
        result = await self.http.call(
            "get_open_orders", category=C.CATEGORY, symbol=symbol, orderLinkId=client_order_id
        )
        items = result.get("list", [])
        if not items:
            history = await self.http.call(
                "get_order_history", category=C.CATEGORY, symbol=symbol, orderLinkId=client_order_id
            )
            items = history.get("list", [])
        return P.order(items[0]) if items else None

    async def executions_since(self, since_ms: int, symbol: str | None = None) -> list[T.Execution]:
        params: dict[str, Any] = {"category": C.CATEGORY, "startTime": since_ms, "limit": 100}
        if symbol:
            params["symbol"] = symbol
        return [P.execution(item) for item in await self._paged("get_executions", **params)]

    # --- public market data ---

    async def klines(
        self, symbol: str, interval: str, *, limit: int = 200, start_ms: int | None = None, end_ms: int | None = None
    ) -> list[T.Kline]:
        params: dict[str, Any] = {"category": C.CATEGORY, "symbol": symbol, "interval": interval, "limit": limit}
        if start_ms is not None:
            params["start"] = start_ms
        if end_ms is not None:
            params["end"] = end_ms
        result = await self.http.call("get_kline", **params)
        return P.klines(result.get("list", []))

    async def tickers(self, symbol: str | None = None) -> list[T.Ticker]:
        params: dict[str, Any] = {"category": C.CATEGORY}
        if symbol:
            params["symbol"] = symbol
        result = await self.http.call("get_tickers", **params)
        return [P.ticker(item) for item in result.get("list", [])]

    async def funding_history(self, symbol: str, *, limit: int = 20) -> list[T.FundingRate]:
        result = await self.http.call("get_funding_rate_history", category=C.CATEGORY, symbol=symbol, limit=limit)
        return sorted((P.funding_rate(item) for item in result.get("list", [])), key=lambda f: f.ts_ms)

    async def open_interest(self, symbol: str, *, interval: str = "5min", limit: int = 50) -> list[T.OpenInterest]:
        result = await self.http.call(
            "get_open_interest", category=C.CATEGORY, symbol=symbol, intervalTime=interval, limit=limit
        )
        return sorted((P.open_interest(symbol, item) for item in result.get("list", [])), key=lambda o: o.ts_ms)

    # --- trading ---

    async def place_order(self, order: T.PlaceOrder) -> T.OrderAck:
        params: dict[str, Any] = {
            "category": C.CATEGORY,
            "symbol": order.symbol,
            "side": order.side.value,
            "orderType": order.order_type.value,
            "qty": P.decimal_str(order.qty),
            "orderLinkId": order.client_order_id,
            "positionIdx": 0,
        }
        if order.price is not None:
            params["price"] = P.decimal_str(order.price)
        if order.time_in_force:
            params["timeInForce"] = C.TIME_IN_FORCE[order.time_in_force]
        if order.reduce_only:
            params["reduceOnly"] = True
        if order.close_on_trigger:
            params["closeOnTrigger"] = True
        if order.stop_loss is not None:
            params["stopLoss"] = P.decimal_str(order.stop_loss)
        if order.take_profit is not None:
            params["takeProfit"] = P.decimal_str(order.take_profit)
        if order.stop_loss is not None or order.take_profit is not None:
            params["tpslMode"] = "Full"
        if order.trigger_price is not None:
            params["triggerPrice"] = P.decimal_str(order.trigger_price)
            params["triggerDirection"] = order.trigger_direction
        result = await self.http.call("place_order", **params)
        return T.OrderAck(
            order_id=result["orderId"], client_order_id=result.get("orderLinkId") or order.client_order_id
        )

    async def cancel_order(
        self, symbol: str, *, client_order_id: str | None = None, order_id: str | None = None
    ) -> None:
        if not (client_order_id or order_id):
            raise ValueError("cancel_order needs client_order_id or order_id")
        params: dict[str, Any] = {"category": C.CATEGORY, "symbol": symbol}
        params.update({"orderLinkId": client_order_id} if client_order_id else {"orderId": order_id})
        try:
            await self.http.call("cancel_order", **params)
        except T.OrderNotFound:
            raise
        except Exception as exc:
            # an order that already finished cannot be cancelled: the goal is met
            if getattr(exc, "code", None) == C.ORDER_ALREADY_FINISHED:
                return
            raise

    async def cancel_all(self, symbol: str | None = None) -> int:
        params: dict[str, Any] = {"category": C.CATEGORY}
        params.update({"symbol": symbol} if symbol else {"settleCoin": "USDT"})
        result = await self.http.call("cancel_all_orders", **params)
        return len(result.get("list", []))

    async def amend_order(self, symbol: str, client_order_id: str, **changes: Unpack[T.OrderChanges]) -> None:
        params: dict[str, Any] = {"category": C.CATEGORY, "symbol": symbol, "orderLinkId": client_order_id}
        for field, key in C.AMEND_FIELDS.items():
            value = changes.get(field)
            if value is not None:
                params[key] = P.decimal_str(value)
        await self.http.call("amend_order", **params)

    async def set_leverage(self, symbol: str, leverage: int) -> None:
        await self.http.call(
            "set_leverage",
            category=C.CATEGORY,
            symbol=symbol,
            buyLeverage=str(leverage),
            sellLeverage=str(leverage),
        )

    async def set_trading_stop(
        self, symbol: str, *, stop_loss: Decimal | None = None, take_profit: Decimal | None = None
    ) -> None:
        params: dict[str, Any] = {"category": C.CATEGORY, "symbol": symbol, "tpslMode": "Full", "positionIdx": 0}
        if stop_loss is not None:
            params["stopLoss"] = P.decimal_str(stop_loss)
        if take_profit is not None:
            params["takeProfit"] = P.decimal_str(take_profit)
        await self.http.call("set_trading_stop", **params)

    # --- streams ---

    async def private_events(self) -> AsyncIterator[T.PrivateEvent]:
        def connect(callback: Callable[[dict[str, Any]], None]) -> WebSocket:
            socket = open_socket(
                self.config.endpoint, "private", api_key=self.config.api_key, api_secret=self.config.api_secret
            )
            socket.order_stream(callback)
            socket.execution_stream(callback)
            socket.position_stream(callback)
            socket.wallet_stream(callback)
            on_reconnect(socket, self._count_reconnect)
            self._private_socket = socket
            return socket

        async for message in bridge(connect):
            event = private_event(message)
            if event is not None:
                yield event

    async def public_events(self, symbols: Sequence[str], topics: Sequence[str]) -> AsyncIterator[T.PublicEvent]:
        def connect(callback: Callable[[dict[str, Any]], None]) -> WebSocket:
            socket = open_socket(self.config.endpoint, "linear")
            for topic in topics:
                if topic == "trade":
                    socket.trade_stream(list(symbols), callback)
                elif topic == "ticker":
                    socket.ticker_stream(list(symbols), callback)
                elif topic.startswith("kline."):
                    socket.kline_stream(int(topic.split(".", 1)[1]), list(symbols), callback)
                else:
                    raise ValueError(f"unsupported public topic {topic!r}")
            on_reconnect(socket, self._count_reconnect)
            return socket

        async for message in bridge(connect):
            event = public_event(message)
            if event is not None:
                yield event

    def private_stream_connected(self) -> bool | None:
        """None before the private stream was opened; then whether its socket is up now."""
        socket = self._private_socket
        return None if socket is None else bool(socket.is_connected())

    async def close(self) -> None:
        self.http.close()

    async def _paged(self, method: str, **params: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor = ""
        for _ in range(100):  # a hard stop on runaway pagination
            result = await self.http.call(method, **params, **({"cursor": cursor} if cursor else {}))
            items += result.get("list", [])
            cursor = result.get("nextPageCursor") or ""
            if not cursor:
                break
        return items


def private_event(message: dict[str, Any]) -> T.PrivateEvent | None:
    topic = message.get("topic", "")
    data = message.get("data") or []
    if topic == "order":
        return T.PrivateEvent(topic="order", orders=tuple(P.order(item) for item in data))
    if topic == "execution":
        return T.PrivateEvent(topic="execution", executions=tuple(P.execution(item) for item in data))
    if topic == "position":
        return T.PrivateEvent(topic="position", positions=tuple(P.position(item) for item in data))
    if topic == "wallet" and data:
        return T.PrivateEvent(topic="wallet", wallet=P.wallet(data[0]))
    return None


def public_event(message: dict[str, Any]) -> T.PublicEvent | None:
    topic = str(message.get("topic", ""))
    head, _, symbol = topic.rpartition(".")
    ts_ms = int(message.get("ts") or 0)
    if topic.startswith("publicTrade."):
        return T.PublicEvent(topic, "trade", symbol, ts_ms, P.public_trades(message.get("data")))
    if topic.startswith("tickers."):
        return T.PublicEvent(topic, "ticker", symbol, ts_ms, P.ticker_update(message.get("data")))
    if topic.startswith("kline."):
        return T.PublicEvent(topic, "kline", symbol, ts_ms, P.live_bars(message.get("data")))
    if head.startswith("orderbook."):
        return T.PublicEvent(topic=topic, kind="orderbook", symbol=symbol, ts_ms=ts_ms, data=message.get("data"))
    return None
