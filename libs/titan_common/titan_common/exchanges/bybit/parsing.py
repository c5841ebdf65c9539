"""Pure conversion of Bybit v5 payloads (REST results and WS data) into shared types."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any, TypeVar

from titan_common.exchanges import types as T
from titan_common.exchanges.bybit.constants import EXEC_TYPES, ORDER_STATUSES
from titan_common.exchanges.payloads import dec, dec0, kline_row, oldest_first, price_or_none
from titan_common.messages import Side

log = logging.getLogger(__name__)
W = TypeVar("W")
# Bybit sends numbers as strings, and "" or "0" for absent prices: payloads.dec, dec0 and price_or_none


def side_of(value: Any) -> Side | None:
    return Side(value) if value in ("Buy", "Sell") else None


def instrument(item: dict[str, Any]) -> T.InstrumentFilters:
    price = item.get("priceFilter", {})
    lot = item.get("lotSizeFilter", {})
    lev = item.get("leverageFilter", {})
    return T.InstrumentFilters(
        symbol=item["symbol"],
        tick_size=dec0(price.get("tickSize")),
        qty_step=dec0(lot.get("qtyStep")),
        min_qty=dec0(lot.get("minOrderQty")),
        max_qty=dec0(lot.get("maxOrderQty")),
        min_notional=dec0(lot.get("minNotionalValue")),
        max_market_qty=dec(lot.get("maxMktOrderQty")),
        min_leverage=int(dec0(lev.get("minLeverage") or 1)),
        max_leverage=int(dec0(lev.get("maxLeverage") or 100)),
        trading=item.get("status") == "Trading",
    )


def wallet(account: dict[str, Any]) -> T.Wallet:
    return T.Wallet(
        equity=dec0(account.get("totalEquity")),
        wallet_balance=dec0(account.get("totalWalletBalance")),
        available_balance=dec0(account.get("totalAvailableBalance")),
        unrealised_pnl=dec0(account.get("totalPerpUPL")),
        initial_margin=dec0(account.get("totalInitialMargin")),
    )


def balances(account: dict[str, Any]) -> dict[str, Decimal]:
    """Each coin's walletBalance (free + locked) of a wallet-balance account; zeros left out."""
    totals: dict[str, Decimal] = {}
    for coin in account.get("coin") or ():
        total = dec0(coin.get("walletBalance"))
        if total and coin.get("coin"):
            totals[str(coin["coin"])] = total
    return totals


def position(item: dict[str, Any]) -> T.ExchangePosition:
    size = dec0(item.get("size"))
    return T.ExchangePosition(
        symbol=item["symbol"],
        side=side_of(item.get("side")) if size else None,
        size=size,
        avg_price=dec0(item.get("avgPrice")),
        mark_price=price_or_none(item.get("markPrice")),
        leverage=dec(item.get("leverage")),
        stop_loss=price_or_none(item.get("stopLoss")),
        take_profit=price_or_none(item.get("takeProfit")),
        unrealised_pnl=dec0(item.get("unrealisedPnl")),
        cum_realised_pnl=dec0(item.get("cumRealisedPnl")),
        updated_ms=int(item.get("updatedTime") or 0),
    )


def order(item: dict[str, Any]) -> T.ExchangeOrder:
    return T.ExchangeOrder(
        order_id=item["orderId"],
        client_order_id=item.get("orderLinkId") or None,
        symbol=item["symbol"],
        side=Side(item["side"]),
        order_type=item.get("orderType", ""),
        qty=dec0(item.get("qty")),
        price=price_or_none(item.get("price")),
        status=order_status(item.get("orderStatus") or ""),
        avg_price=price_or_none(item.get("avgPrice")),
        cum_exec_qty=dec0(item.get("cumExecQty")),
        leaves_qty=dec0(item.get("leavesQty")),
        reduce_only=bool(item.get("reduceOnly", False)),
        stop_loss=price_or_none(item.get("stopLoss")),
        take_profit=price_or_none(item.get("takeProfit")),
        trigger_price=price_or_none(item.get("triggerPrice")),
        created_ms=int(item.get("createdTime") or 0),
        updated_ms=int(item.get("updatedTime") or 0),
        reject_reason=item.get("rejectReason") or None,
    )


def execution(item: dict[str, Any]) -> T.Execution:
    return T.Execution(
        exec_id=item["execId"],
        order_id=item.get("orderId", ""),
        client_order_id=item.get("orderLinkId") or None,
        symbol=item["symbol"],
        side=Side(item["side"]),
        price=dec0(item.get("execPrice")),
        qty=dec0(item.get("execQty")),
        fee=dec0(item.get("execFee")),
        exec_type=exec_type(item.get("execType") or "Trade"),
        is_maker=bool(item.get("isMaker", False)),
        ts_ms=int(item.get("execTime") or 0),
    )


def _float(value: Any) -> float | None:
    if value in (None, ""):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def public_trades(items: Any) -> list[T.PublicTrade]:
    """publicTrade data: T time, S taker side, p price. A malformed item is skipped."""
    trades = []
    for item in items or ():
        try:
            trades.append(T.PublicTrade(int(item["T"]), item["S"] == "Buy", float(item["p"])))
        except (KeyError, TypeError, ValueError):
            continue
    return trades


def ticker_update(data: Any) -> T.TickerUpdate:
    """tickers data (pybit keeps the snapshot with the deltas merged in)."""
    get = data.get if isinstance(data, dict) else (lambda _key: None)
    return T.TickerUpdate(
        last_price=_float(get("lastPrice")),
        mark_price=_float(get("markPrice")),
        index_price=_float(get("indexPrice")),
        funding_rate=_float(get("fundingRate")),
        open_interest=_float(get("openInterest")),
    )


def live_bars(items: Any) -> list[T.LiveBar]:
    """kline data: start, open, high, low, close, volume. A malformed item is skipped."""
    bars = []
    for item in items if isinstance(items, list) else ():
        try:
            bars.append(
                T.LiveBar(int(item["start"]), float(item["open"]), float(item["high"]), float(item["low"]),
                        float(item["close"]), float(item["volume"]))
            )  # fmt: skip
        except (KeyError, TypeError, ValueError):
            continue
    return bars


def order_status(name: str) -> T.OrderStatus:
    return _titan_word(ORDER_STATUSES, name, T.OrderStatus.UNKNOWN, "orderStatus")


def exec_type(name: str) -> T.ExecType:
    return _titan_word(EXEC_TYPES, name, T.ExecType.OTHER, "execType (applied as a position change)")


def _titan_word(words: dict[str, W], name: str, unknown: W, what: str) -> W:
    """Bybit's name in Titan's words; a name this folder does not know is logged, never raised."""
    known = words.get(name)
    if known is None:
        log.warning("unknown Bybit %s %r", what, name)
        return unknown
    return known


def kline(row: list[Any]) -> T.Kline:
    """A REST kline row: [startTime, open, high, low, close, volume, turnover]."""
    return kline_row(row, turnover_at=6)


def klines(rows: list[list[Any]]) -> list[T.Kline]:
    """Bybit answers newest first; Titan keeps series oldest first."""
    return oldest_first(kline(row) for row in rows)


def ws_kline(item: dict[str, Any]) -> T.Kline:
    """An item of the kline.{interval}.{symbol} topic."""
    return T.Kline(
        start_ms=int(item["start"]),
        open=dec0(item.get("open")),
        high=dec0(item.get("high")),
        low=dec0(item.get("low")),
        close=dec0(item.get("close")),
        volume=dec0(item.get("volume")),
        turnover=dec0(item.get("turnover")),
    )


def ticker(item: dict[str, Any]) -> T.Ticker:
    """A REST ticker, or a tickers.{symbol} stream snapshot (pybit merges the deltas)."""
    next_funding = item.get("nextFundingTime")
    return T.Ticker(
        symbol=item["symbol"],
        last_price=dec0(item.get("lastPrice")),
        mark_price=price_or_none(item.get("markPrice")),
        index_price=price_or_none(item.get("indexPrice")),
        turnover_24h=dec0(item.get("turnover24h")),
        volume_24h=dec0(item.get("volume24h")),
        high_24h=price_or_none(item.get("highPrice24h")),
        low_24h=price_or_none(item.get("lowPrice24h")),
        funding_rate=dec(item.get("fundingRate")),
        next_funding_ms=int(next_funding) if next_funding and str(next_funding).isdigit() else None,
        open_interest=dec(item.get("openInterest")),
    )


def funding_rate(item: dict[str, Any]) -> T.FundingRate:
    return T.FundingRate(
        symbol=item["symbol"], rate=dec0(item.get("fundingRate")), ts_ms=int(item.get("fundingRateTimestamp") or 0)
    )


def open_interest(symbol: str, item: dict[str, Any]) -> T.OpenInterest:
    return T.OpenInterest(
        symbol=symbol, open_interest=dec0(item.get("openInterest")), ts_ms=int(item.get("timestamp") or 0)
    )


def decimal_str(value: Decimal) -> str:
    """Bybit wants plain decimal strings, never exponent notation."""
    return format(value, "f")
