"""Bybit v5 JSON shapes of the domain objects. Every number leaves as a string."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from titan_sim.core.account import Account, Position
from titan_sim.core.exchange import Exchange
from titan_sim.core.instruments import Instrument
from titan_sim.core.klines import Candle, bucket_end
from titan_sim.core.model import ZERO, Execution, Order, PublicTrade, Side

_MONEY = Decimal("1e-10")


def num(value: Decimal) -> str:
    """Plain notation, at most 10 decimals, no trailing zeros ("0" for zero)."""
    if value == 0:
        return "0"
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -10:
        value = value.quantize(_MONEY)
    text = f"{value:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def opt_price(inst: Instrument, value: Decimal) -> str:
    return inst.fmt_price(value) if value else "0"


def instrument(inst: Instrument, status: str, launch_ms: int) -> dict[str, Any]:
    return {
        "symbol": inst.symbol,
        "contractType": "LinearPerpetual",
        "status": status,
        "baseCoin": inst.base_coin,
        "quoteCoin": inst.quote_coin,
        "settleCoin": inst.quote_coin,
        "launchTime": str(launch_ms),
        "deliveryTime": "0",
        "deliveryFeeRate": "",
        "priceScale": str(max(0, -int(inst.tick_size.as_tuple().exponent))),
        "leverageFilter": {"minLeverage": "1", "maxLeverage": num(inst.max_leverage), "leverageStep": "0.01"},
        "priceFilter": {
            "minPrice": inst.fmt_price(inst.tick_size),
            "maxPrice": "1999999.8",
            "tickSize": str(inst.tick_size),
        },
        "lotSizeFilter": {
            "minOrderQty": str(inst.min_qty),
            "maxOrderQty": str(inst.max_qty),
            "qtyStep": str(inst.qty_step),
            "maxMktOrderQty": str(inst.max_mkt_qty),
            "minNotionalValue": num(inst.min_notional),
            "postOnlyMaxOrderQty": str(inst.max_qty),
        },
        "unifiedMarginTrade": True,
        "fundingInterval": inst.funding_interval_min,
        "settleCoinList": [inst.quote_coin],
        "copyTrading": "both",
        "upperFundingRate": "0.0075",
        "lowerFundingRate": "-0.0075",
        "isPreListing": False,
    }


def order(o: Order, inst: Instrument) -> dict[str, Any]:
    return {
        "orderId": o.order_id,
        "orderLinkId": o.order_link_id,
        "blockTradeId": "",
        "symbol": o.symbol,
        "price": opt_price(inst, o.price),
        "qty": inst.fmt_qty(o.qty),
        "side": o.side.value,
        "isLeverage": "",
        "positionIdx": 0,
        "orderStatus": o.status.value,
        "createType": o.create_type,
        "cancelType": o.cancel_type,
        "rejectReason": o.reject_reason,
        "avgPrice": num(o.avg_price) if o.cum_exec_qty else "",
        "leavesQty": inst.fmt_qty(o.leaves_qty),
        "leavesValue": num(o.leaves_qty * o.price),
        "cumExecQty": inst.fmt_qty(o.cum_exec_qty),
        "cumExecValue": num(o.cum_exec_value),
        "cumExecFee": num(o.cum_exec_fee),
        "timeInForce": o.time_in_force.value,
        "orderType": o.order_type.value,
        "stopOrderType": o.stop_order_type,
        "orderIv": "",
        "triggerPrice": opt_price(inst, o.trigger_price),
        "takeProfit": num(o.take_profit),
        "stopLoss": num(o.stop_loss),
        "tpslMode": o.tpsl_mode,
        "tpTriggerBy": "MarkPrice" if o.take_profit else "",
        "slTriggerBy": "MarkPrice" if o.stop_loss else "",
        "triggerDirection": o.trigger_direction,
        "triggerBy": "LastPrice" if o.trigger_price else "",
        "lastPriceOnCreated": "",
        "reduceOnly": o.reduce_only,
        "closeOnTrigger": o.close_on_trigger,
        "smpType": "None",
        "smpGroup": 0,
        "smpOrderId": "",
        "placeType": "",
        "createdTime": str(o.created_ms),
        "updatedTime": str(o.updated_ms),
    }


def execution(e: Execution, inst: Instrument) -> dict[str, Any]:
    return {
        "symbol": e.symbol,
        "orderId": e.order_id,
        "orderLinkId": e.order_link_id,
        "side": e.side.value,
        "orderPrice": opt_price(inst, e.order_price),
        "orderQty": inst.fmt_qty(e.order_qty) if e.order_qty else "0",
        "leavesQty": inst.fmt_qty(e.leaves_qty) if e.leaves_qty else "0",
        "createType": "",
        "orderType": e.order_type,
        "stopOrderType": e.stop_order_type,
        "execFee": num(e.exec_fee),
        "execId": e.exec_id,
        "execPrice": inst.fmt_price(e.exec_price),
        "execQty": inst.fmt_qty(e.exec_qty),
        "execType": e.exec_type,
        "execValue": num(e.exec_value),
        "execTime": str(e.exec_time),
        "feeCurrency": "USDT",
        "isMaker": e.is_maker,
        "feeRate": num(e.fee_rate),
        "tradeIv": "",
        "markIv": "",
        "markPrice": inst.fmt_price(e.exec_price),
        "indexPrice": "",
        "underlyingPrice": "",
        "blockTradeId": "",
        "closedSize": inst.fmt_qty(e.closed_size) if e.closed_size else "0",
        "seq": e.seq,
    }


def position(p: Position, inst: Instrument, mark: Decimal) -> dict[str, Any]:
    flat = p.side is None
    return {
        "positionIdx": 0,
        "riskId": 1,
        "riskLimitValue": "2000000",
        "symbol": p.symbol,
        "side": "" if p.side is None else p.side.value,
        "size": inst.fmt_qty(p.size),
        "avgPrice": "0" if flat else num(p.avg_price),
        "positionValue": "0" if flat else num(p.value),
        "tradeMode": 0,
        "positionStatus": "Normal",
        "autoAddMargin": 0,
        "adlRankIndicator": 0 if flat else 2,
        "leverage": num(p.leverage),
        "positionBalance": "0" if flat else num(p.initial_margin),
        "markPrice": inst.fmt_price(mark),
        "liqPrice": "" if flat else num(inst.round_price(p.bust_price())),
        "bustPrice": "" if flat else num(inst.round_price(p.bust_price())),
        "positionMM": "0",
        "positionIM": "0" if flat else num(p.initial_margin),
        "tpslMode": "Full",
        "takeProfit": num(p.take_profit),
        "stopLoss": num(p.stop_loss),
        "trailingStop": num(p.trailing_stop),
        "unrealisedPnl": "0" if flat else num(p.unrealised_pnl(mark)),
        "curRealisedPnl": num(p.cum_realised_pnl),
        "cumRealisedPnl": num(p.cum_realised_pnl),
        "seq": p.seq,
        "isReduceOnly": False,
        "createdTime": str(p.created_ms),
        "updatedTime": str(p.updated_ms),
    }


def wallet(account: Account, marks: dict[str, Decimal], order_margin: Decimal) -> dict[str, Any]:
    upl = account.unrealised_pnl(marks)
    equity = account.wallet_balance + upl
    position_im = account.position_margin()
    total_im = position_im + order_margin
    available = equity - total_im
    return {
        "accountType": "UNIFIED",
        "accountIMRate": num(total_im / equity) if equity > 0 else "0",
        "accountMMRate": "0",
        "accountLTV": "0",
        "totalEquity": num(equity),
        "totalWalletBalance": num(account.wallet_balance),
        "totalMarginBalance": num(equity),
        "totalAvailableBalance": num(available),
        "totalPerpUPL": num(upl),
        "totalInitialMargin": num(total_im),
        "totalMaintenanceMargin": "0",
        "coin": [
            {
                "coin": "USDT",
                "equity": num(equity),
                "usdValue": num(equity),
                "walletBalance": num(account.wallet_balance),
                "free": "",
                "locked": "0",
                "spotHedgingQty": "0",
                "borrowAmount": "0",
                "availableToWithdraw": num(max(available, ZERO)),
                "availableToBorrow": "",
                "accruedInterest": "0",
                "totalOrderIM": num(order_margin),
                "totalPositionIM": num(position_im),
                "totalPositionMM": "0",
                "unrealisedPnl": num(upl),
                "cumRealisedPnl": num(account.cum_realised_pnl),
                "bonus": "0",
                "marginCollateral": True,
                "collateralSwitch": True,
            }
        ],
    }


def public_trade(t: PublicTrade, inst: Instrument) -> dict[str, Any]:
    """Item of the publicTrade WebSocket topic."""
    return {
        "T": t.time_ms,
        "s": t.symbol,
        "S": t.taker_side.value,
        "v": t.size_text,
        "p": t.price_text,
        "L": t.tick_direction,
        "i": t.trade_id,
        "BT": False,
        "seq": t.seq,
    }


def recent_trade(t: PublicTrade, inst: Instrument) -> dict[str, Any]:
    return {
        "execId": t.trade_id,
        "symbol": t.symbol,
        "price": t.price_text,
        "size": t.size_text,
        "side": t.taker_side.value,
        "time": str(t.time_ms),
        "isBlockTrade": False,
        "isRPITrade": False,
        "seq": str(t.seq),
    }


def kline_row(c: Candle, inst: Instrument) -> list[str]:
    return [
        str(c.start),
        inst.fmt_price(c.open),
        inst.fmt_price(c.high),
        inst.fmt_price(c.low),
        inst.fmt_price(c.close),
        num(c.volume),
        num(c.turnover),
    ]


def kline_ws(c: Candle, inst: Instrument, interval: str, confirm: bool, now_ms: int) -> dict[str, Any]:
    return {
        "start": c.start,
        "end": bucket_end(interval, c.start),
        "interval": interval,
        "open": inst.fmt_price(c.open),
        "close": inst.fmt_price(c.close),
        "high": inst.fmt_price(c.high),
        "low": inst.fmt_price(c.low),
        "volume": num(c.volume),
        "turnover": num(c.turnover),
        "confirm": confirm,
        "timestamp": now_ms,
    }


def ticker(ex: Exchange, symbol: str, now_ms: int) -> dict[str, Any]:
    inst = ex.instruments[symbol]
    market = ex.markets[symbol]
    book = ex.books[symbol]
    day = ex.klines[symbol].window(now_ms - 86_400_000 + 60_000)
    volume = sum((c.volume for c in day), ZERO)
    turnover = sum((c.turnover for c in day), ZERO)
    high = max((c.high for c in day), default=market.last_price)
    low = min((c.low for c in day), default=market.last_price)
    prev = day[0].open if day else market.last_price
    bid = book.depth(Side.BUY, 1)
    ask = book.depth(Side.SELL, 1)
    pct = (market.last_price - prev) / prev if prev else ZERO
    return {
        "symbol": symbol,
        "lastPrice": inst.fmt_price(market.last_price),
        "indexPrice": inst.fmt_price(market.mark),
        "markPrice": inst.fmt_price(market.mark),
        "prevPrice24h": inst.fmt_price(prev),
        "price24hPcnt": num(pct.quantize(Decimal("0.000001"))),
        "highPrice24h": inst.fmt_price(high),
        "lowPrice24h": inst.fmt_price(low),
        "prevPrice1h": inst.fmt_price(day[-60].open if len(day) >= 60 else prev),
        "openInterest": num(Decimal(f"{market.open_interest:.3f}")),
        "openInterestValue": num(Decimal(f"{market.open_interest * market.mid:.2f}")),
        "turnover24h": num(turnover.quantize(Decimal("0.0001"))),
        "volume24h": num(volume),
        "fundingRate": num(ex.funding_rate(symbol)),
        "nextFundingTime": str(ex.next_funding_ms[symbol]),
        "predictedDeliveryPrice": "",
        "basisRate": "",
        "deliveryFeeRate": "",
        "deliveryTime": "0",
        "ask1Size": inst.fmt_qty(ask[0][1]) if ask else "0",
        "bid1Price": inst.fmt_price(bid[0][0]) if bid else "0",
        "ask1Price": inst.fmt_price(ask[0][0]) if ask else "0",
        "bid1Size": inst.fmt_qty(bid[0][1]) if bid else "0",
        "basis": "",
        "fundingIntervalHour": str(inst.funding_interval_min // 60),
        "fundingCap": "0.0075",
    }
