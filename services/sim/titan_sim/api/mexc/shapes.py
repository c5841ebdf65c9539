"""MEXC spot v3 JSON shapes (field names from MEXC's docs and what ccxt's parsers read)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from titan_sim.api.shapes import num
from titan_sim.core.exchange import Exchange
from titan_sim.core.instruments import Instrument
from titan_sim.core.klines import Candle
from titan_sim.core.model import ZERO, PublicTrade, Side
from titan_sim.core.spot import (
    MAKER_FEE_RATE,
    MIN_NOTIONAL,
    TAKER_FEE_RATE,
    TIME_IN_FORCE,
    SpotAccount,
    SpotOrder,
    SpotSymbol,
    SpotTrade,
    SpotType,
)

# MEXC's kline words -> the series' intervals (minutes, D, W, M)
KLINE_INTERVALS = {
    "1m": "1",
    "5m": "5",
    "15m": "15",
    "30m": "30",
    "60m": "60",
    "4h": "240",
    "1d": "D",
    "1W": "W",
    "1M": "M",
}
KLINE_MS = {"1m": 60_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000, "60m": 3_600_000, "4h": 14_400_000,
            "1d": 86_400_000, "1W": 604_800_000, "1M": 2_678_400_000}  # fmt: skip
# a contract's maker/taker fees as the contract detail lists them (not tradable here anyway)
CONTRACT_MAKER_FEE = Decimal("0.0002")
CONTRACT_TAKER_FEE = Decimal("0.0006")


def exchange_symbol(spec: SpotSymbol, trading: bool) -> dict[str, Any]:
    """One entry of exchangeInfo's `symbols`. `status` "1" is online (ccxt: active)."""
    return {
        "symbol": spec.symbol,
        "status": "1" if trading else "2",
        "baseAsset": spec.base,
        "baseAssetPrecision": spec.qty_decimals,
        "quoteAsset": spec.quote,
        "quotePrecision": spec.price_decimals,
        "quoteAssetPrecision": spec.price_decimals,
        "baseCommissionPrecision": spec.qty_decimals,
        "quoteCommissionPrecision": spec.price_decimals,
        "orderTypes": [t.value for t in SpotType],
        "quoteOrderQtyMarketAllowed": True,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "quoteAmountPrecision": num(MIN_NOTIONAL),
        "baseSizePrecision": num(spec.qty_step),
        "permissions": ["SPOT"],
        "filters": [],
        "maxQuoteAmount": "5000000",
        "makerCommission": num(MAKER_FEE_RATE),
        "takerCommission": num(TAKER_FEE_RATE),
        "quoteAmountPrecisionMarket": num(MIN_NOTIONAL),
        "maxQuoteAmountMarket": "100000",
        "tradeSideType": "1" if trading else "4",
    }


def order_ack(order: SpotOrder, spec: SpotSymbol) -> dict[str, Any]:
    """POST /api/v3/order's answer: the order as placed (no status: query it)."""
    return {
        "symbol": order.symbol,
        "orderId": order.order_id,
        "orderListId": -1,
        "price": _price(order.price, spec),
        "origQty": num(order.orig_qty),
        "type": order.order_type.value,
        "side": order.side.value,
        "transactTime": order.time_ms,
    }


def order_row(order: SpotOrder, spec: SpotSymbol) -> dict[str, Any]:
    """An order as GET /order, openOrders and allOrders answer it."""
    return {
        "symbol": order.symbol,
        "orderId": order.order_id,
        "orderListId": -1,
        "clientOrderId": order.client_order_id or None,
        "price": _price(order.price, spec),
        "origQty": num(order.orig_qty),
        "executedQty": num(order.executed_qty),
        "cummulativeQuoteQty": num(order.cummulative_quote_qty),
        "status": order.status.value,
        "timeInForce": TIME_IN_FORCE[order.order_type],
        "type": order.order_type.value,
        "side": order.side.value,
        "stopPrice": "0",
        "icebergQty": "0",
        "time": order.time_ms,
        "updateTime": order.update_ms,
        "isWorking": order.is_open,
        "origQuoteOrderQty": num(order.orig_quote_qty),
    }


def cancelled(order_: SpotOrder, spec: SpotSymbol) -> dict[str, Any]:
    """DELETE /order and /openOrders answer the order with its original client id."""
    body = order_row(order_, spec)
    body["origClientOrderId"] = order_.client_order_id or None
    return body


def my_trade(trade: SpotTrade) -> dict[str, Any]:
    return {
        "symbol": trade.symbol,
        "id": trade.trade_id,
        "orderId": trade.order_id,
        "orderListId": -1,
        "price": num(trade.price),
        "qty": num(trade.qty),
        "quoteQty": num(trade.quote_qty),
        "commission": num(trade.commission),
        "commissionAsset": trade.commission_asset,
        "time": trade.time_ms,
        "isBuyer": trade.side.value == "BUY",
        "isMaker": trade.is_maker,
        "isBestMatch": True,
        "isSelfTrade": False,
        "clientOrderId": trade.client_order_id or None,
    }


def account(spot: SpotAccount, now_ms: int) -> dict[str, Any]:
    balances = [
        {"asset": asset, "free": num(held.free), "locked": num(held.locked)}
        for asset, held in sorted(spot.balances.items())
        if held.free or held.locked or asset == "USDT"
    ]
    return {
        "makerCommission": None,
        "takerCommission": None,
        "buyerCommission": None,
        "sellerCommission": None,
        "canTrade": True,
        "canWithdraw": False,
        "canDeposit": False,
        "updateTime": now_ms,
        "accountType": "SPOT",
        "balances": balances,
        "permissions": ["SPOT"],
    }


def coin(asset: str) -> dict[str, Any]:
    """capital/config/getall: the simulator has no chains, so nothing is deposit/withdrawable."""
    network = {
        "coin": asset,
        "depositDesc": None,
        "depositEnable": False,
        "minConfirm": 0,
        "name": asset,
        "network": asset,
        "netWork": asset,
        "withdrawEnable": False,
        "withdrawFee": "0",
        "withdrawIntegerMultiple": None,
        "withdrawMax": "0",
        "withdrawMin": "0",
        "sameAddress": False,
        "contract": "",
        "withdrawTips": None,
        "depositTips": None,
    }
    return {"coin": asset, "name": asset, "networkList": [network]}


def public_trade(t: PublicTrade) -> dict[str, Any]:
    return {
        "id": None,
        "price": t.price_text,
        "qty": t.size_text,
        "quoteQty": num(t.price * t.size),
        "time": t.time_ms,
        "isBuyerMaker": t.taker_side is Side.SELL,
        "isBestMatch": True,
    }


def agg_trade(t: PublicTrade) -> dict[str, Any]:
    return {
        "a": None,
        "f": None,
        "l": None,
        "p": t.price_text,
        "q": t.size_text,
        "T": t.time_ms,
        "m": t.taker_side is Side.SELL,
        "M": True,
    }


def kline(c: Candle, inst: Instrument, interval_ms: int) -> list[Any]:
    return [
        c.start,
        inst.fmt_price(c.open),
        inst.fmt_price(c.high),
        inst.fmt_price(c.low),
        inst.fmt_price(c.close),
        num(c.volume),
        c.start + interval_ms,
        num(c.turnover),
    ]


def ticker_24hr(ex: Exchange, symbol: str, now_ms: int) -> dict[str, Any]:
    inst = ex.instruments[symbol]
    market = ex.markets[symbol]
    book = ex.books[symbol]
    day = ex.klines[symbol].window(now_ms - 86_400_000 + 60_000)
    last = market.last_price
    prev = day[0].open if day else last
    bid = book.depth(Side.BUY, 1)
    ask = book.depth(Side.SELL, 1)
    change = last - prev
    return {
        "symbol": symbol,
        "priceChange": inst.fmt_price(change),
        "priceChangePercent": num((change / prev).quantize(Decimal("0.00000001")) if prev else ZERO),
        "prevClosePrice": inst.fmt_price(prev),
        "lastPrice": inst.fmt_price(last),
        "bidPrice": inst.fmt_price(bid[0][0]) if bid else "0",
        "bidQty": inst.fmt_qty(bid[0][1]) if bid else "0",
        "askPrice": inst.fmt_price(ask[0][0]) if ask else "0",
        "askQty": inst.fmt_qty(ask[0][1]) if ask else "0",
        "openPrice": inst.fmt_price(prev),
        "highPrice": inst.fmt_price(max((c.high for c in day), default=last)),
        "lowPrice": inst.fmt_price(min((c.low for c in day), default=last)),
        "volume": num(sum((c.volume for c in day), ZERO)),
        "quoteVolume": num(sum((c.turnover for c in day), ZERO).quantize(Decimal("0.01"))),
        "openTime": day[0].start if day else now_ms,
        "closeTime": now_ms,
        "count": None,
    }


def book_ticker(ex: Exchange, symbol: str) -> dict[str, Any]:
    inst = ex.instruments[symbol]
    book = ex.books[symbol]
    bid = book.depth(Side.BUY, 1)
    ask = book.depth(Side.SELL, 1)
    return {
        "symbol": symbol,
        "bidPrice": inst.fmt_price(bid[0][0]) if bid else "0",
        "bidQty": inst.fmt_qty(bid[0][1]) if bid else "0",
        "askPrice": inst.fmt_price(ask[0][0]) if ask else "0",
        "askQty": inst.fmt_qty(ask[0][1]) if ask else "0",
    }


def contract(inst: Instrument) -> dict[str, Any]:
    """One entry of GET /api/v1/contract/detail. `apiAllowed: false`: like real MEXC since
    July 2022, no key may trade contracts through the API."""
    base = inst.base_coin
    return {
        "symbol": f"{base}_USDT",
        "displayName": f"{base}_USDT PERPETUAL",
        "displayNameEn": f"{base}_USDT PERPETUAL",
        "positionOpenType": 3,
        "baseCoin": base,
        "quoteCoin": "USDT",
        "settleCoin": "USDT",
        "contractSize": float(inst.qty_step),
        "minLeverage": 1,
        "maxLeverage": int(inst.max_leverage),
        "priceScale": _decimals(inst.tick_size),
        "volScale": 0,
        "amountScale": 4,
        "priceUnit": float(inst.tick_size),
        "volUnit": 1,
        "minVol": 1,
        "maxVol": int(inst.max_qty / inst.qty_step),
        "bidLimitPriceRate": 0.1,
        "askLimitPriceRate": 0.1,
        "takerFeeRate": float(CONTRACT_TAKER_FEE),
        "makerFeeRate": float(CONTRACT_MAKER_FEE),
        "maintenanceMarginRate": 0.004,
        "initialMarginRate": 0.008,
        "state": 0,
        "isNew": False,
        "isHot": False,
        "isHidden": False,
        "apiAllowed": False,
        "futureType": 1,
    }


def _price(price: Decimal, spec: SpotSymbol) -> str:
    return str(price.quantize(spec.tick_size)) if price else "0"


def _decimals(step: Decimal) -> int:
    exponent = step.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0
