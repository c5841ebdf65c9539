"""The MEXC face's requests: wire fields into the spot account's typed requests, refused with
MEXC's codes and messages when malformed."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, TypeVar

from titan_sim.core.model import ExchangeError
from titan_sim.core.spot import (
    BAD_ORDER_TYPE,
    BAD_PARAM,
    MISSING_PARAM,
    Quotes,
    SpotAccount,
    SpotOrder,
    SpotOrderRef,
    SpotPlaceOrder,
    SpotSide,
    SpotType,
)

E = TypeVar("E", bound=StrEnum)


def required(params: dict[str, Any], key: str) -> str:
    value = params.get(key)
    if value is None or value == "":
        raise ExchangeError(MISSING_PARAM, f"param cannot be null: {key}")
    return str(value)


def _enum(kind: type[E], raw: str, code: int, name: str) -> E:
    try:
        return kind(raw.upper())
    except ValueError:
        raise ExchangeError(code, f"param is error: {name} {raw!r}") from None


def _decimal(params: dict[str, Any], key: str) -> Decimal | None:
    raw = params.get(key)
    if raw is None or raw == "":
        return None
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise ExchangeError(BAD_PARAM, f"param is error: {key} is not a number") from None
    if not value.is_finite():
        raise ExchangeError(BAD_PARAM, f"param is error: {key} is not a number")
    return value


def place_order(params: dict[str, Any]) -> SpotPlaceOrder:
    """POST /api/v3/order."""
    return SpotPlaceOrder(
        symbol=required(params, "symbol"),
        side=_enum(SpotSide, required(params, "side"), BAD_PARAM, "side"),
        order_type=_enum(SpotType, required(params, "type"), BAD_ORDER_TYPE, "type"),
        client_order_id=str(params.get("newClientOrderId") or ""),
        quantity=_decimal(params, "quantity"),
        quote_order_qty=_decimal(params, "quoteOrderQty"),
        price=_decimal(params, "price"),
    )


def enter_order(spot: SpotAccount, params: dict[str, Any], quotes: Quotes, now_ms: int) -> SpotOrder:
    """Parse and place one order request; a malformed one is refused and still recorded."""
    try:
        request = place_order(params)
    except ExchangeError as exc:
        spot.reject_received(params, now_ms, exc.code, exc.message)
        raise
    return spot.place(request, quotes, now_ms, sent=params)


def order_ref(params: dict[str, Any]) -> SpotOrderRef:
    """GET and DELETE /api/v3/order: the symbol, and the order by id or client id."""
    return SpotOrderRef(
        symbol=required(params, "symbol"),
        order_id=str(params.get("orderId") or ""),
        client_order_id=str(params.get("origClientOrderId") or ""),
    )
