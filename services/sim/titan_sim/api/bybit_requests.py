"""The Bybit face's requests: wire fields (camelCase, decimals as strings) into the core's
typed requests, refused with Bybit's retCodes and messages when malformed."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from titan_sim.core.exchange import Exchange
from titan_sim.core.model import ZERO, ExchangeError, Order, OrderType, Side, TimeInForce
from titan_sim.core.requests import AmendOrder, CancelAll, OrderRef, PlaceOrder, SetLeverage, TradingStop
from titan_sim.core.ret_codes import BAD_PARAM


def parse_decimal(params: dict[str, Any], key: str, *, required: bool = False) -> Decimal | None:
    raw = params.get(key)
    if raw is None or raw == "":
        if required:
            raise ExchangeError(BAD_PARAM, f"params error: {key} is required")
        return None
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise ExchangeError(BAD_PARAM, f"params error: {key} is not a number") from None
    if not value.is_finite() or value < 0:
        raise ExchangeError(BAD_PARAM, f"params error: {key} must be a non-negative number")
    return value


def _required_decimal(params: dict[str, Any], key: str) -> Decimal:
    value = parse_decimal(params, key, required=True)
    assert value is not None
    return value


def parse_bool(params: dict[str, Any], key: str) -> bool:
    raw = params.get(key, False)
    if isinstance(raw, bool):
        return raw
    if str(raw).lower() in ("true", "1"):
        return True
    if str(raw).lower() in ("false", "0", ""):
        return False
    raise ExchangeError(BAD_PARAM, f"params error: {key} must be a boolean")


def parse_int(params: dict[str, Any], key: str) -> int:
    raw = params.get(key) or 0
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise ExchangeError(BAD_PARAM, f"params error: {key} must be an integer") from None


def _text(params: dict[str, Any], key: str) -> str:
    raw = params.get(key)
    return str(raw) if raw else ""


def place_order(params: dict[str, Any]) -> PlaceOrder:
    """POST /v5/order/create (and the trade stream's order.create)."""
    try:
        side = Side(str(params.get("side")))
        order_type = OrderType(str(params.get("orderType")))
    except ValueError:
        raise ExchangeError(BAD_PARAM, "params error: side or orderType invalid") from None
    raw_tif = params.get("timeInForce")
    try:
        time_in_force = TimeInForce(raw_tif) if raw_tif else None
    except ValueError:
        raise ExchangeError(BAD_PARAM, "params error: timeInForce invalid") from None
    position_idx = parse_int(params, "positionIdx")
    qty = _required_decimal(params, "qty")
    price = _required_decimal(params, "price") if order_type is OrderType.LIMIT else ZERO
    reduce_only = parse_bool(params, "reduceOnly")
    close_on_trigger = parse_bool(params, "closeOnTrigger")
    trigger_price = parse_decimal(params, "triggerPrice") or ZERO
    return PlaceOrder(
        symbol=str(params.get("symbol", "")),
        side=side,
        order_type=order_type,
        qty=qty,
        price=price,
        time_in_force=time_in_force,
        position_idx=position_idx,
        order_link_id=_text(params, "orderLinkId"),
        reduce_only=reduce_only,
        close_on_trigger=close_on_trigger,
        trigger_price=trigger_price,
        take_profit=parse_decimal(params, "takeProfit") or ZERO,
        stop_loss=parse_decimal(params, "stopLoss") or ZERO,
        # only a conditional order reads its direction (a stray one elsewhere is ignored)
        trigger_direction=parse_int(params, "triggerDirection") if trigger_price > 0 else 0,
        tpsl_mode=_text(params, "tpslMode"),
    )


def enter_order(ex: Exchange, params: dict[str, Any], now_ms: int, *, source: str = "api") -> Order:
    """Parse and place one create request; a malformed one is refused and still recorded."""
    try:
        request = place_order(params)
    except ExchangeError as exc:
        ex.reject_received(params, now_ms, exc.code, exc.message, source=source)
        raise
    return ex.place_order(request, now_ms, source=source, sent=params)


def order_ref(params: dict[str, Any]) -> OrderRef:
    return OrderRef(_text(params, "orderId"), _text(params, "orderLinkId"), _text(params, "symbol"))


def amend_order(params: dict[str, Any]) -> AmendOrder:
    return AmendOrder(
        ref=order_ref(params),
        qty=parse_decimal(params, "qty"),
        price=parse_decimal(params, "price"),
        trigger_price=parse_decimal(params, "triggerPrice"),
        take_profit=parse_decimal(params, "takeProfit"),
        stop_loss=parse_decimal(params, "stopLoss"),
    )


def cancel_all(params: dict[str, Any]) -> CancelAll:
    symbol = _text(params, "symbol")
    if not symbol and not params.get("settleCoin") and not params.get("baseCoin"):
        raise ExchangeError(BAD_PARAM, "params error: symbol, baseCoin or settleCoin is required")
    return CancelAll(symbol)


def set_leverage(params: dict[str, Any]) -> SetLeverage:
    return SetLeverage(
        symbol=str(params.get("symbol", "")),
        buy_leverage=_required_decimal(params, "buyLeverage"),
        sell_leverage=_required_decimal(params, "sellLeverage"),
    )


def trading_stop(params: dict[str, Any]) -> TradingStop:
    return TradingStop(
        symbol=str(params.get("symbol", "")),
        position_idx=parse_int(params, "positionIdx"),
        take_profit=parse_decimal(params, "takeProfit"),
        stop_loss=parse_decimal(params, "stopLoss"),
        trailing_stop=parse_decimal(params, "trailingStop"),
    )
