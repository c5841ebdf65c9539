"""MEXC private endpoints: the spot account, orders, trades and the coin list."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from titan_sim.api.mexc import shapes, spot_requests
from titan_sim.api.mexc.common import handle, int_param
from titan_sim.api.mexc.market import _symbol
from titan_sim.core.model import ZERO, ExchangeError
from titan_sim.core.spot import MAKER_FEE_RATE, MISSING_PARAM, TAKER_FEE_RATE, Quotes
from titan_sim.runtime.venue import Venue

router = APIRouter(prefix="/api/v3", tags=["mexc-trade"])
MAX_TIME = 2**62
NO_QUOTES = Quotes([], [], ZERO, trading=False)


def _required_symbol(venue: Venue, params: dict[str, Any]) -> str:
    symbol = _symbol(venue, params)
    assert symbol is not None
    return symbol


def place_order(venue: Venue, params: dict[str, Any]) -> dict[str, Any]:
    symbol = str(params.get("symbol") or "")
    # an unknown symbol gets no quotes: the account records the request, then refuses it
    quotes = venue.spot_quotes(symbol) if symbol in venue.spot.symbols else NO_QUOTES
    order = venue.run_spot(lambda spot, now: spot_requests.enter_order(spot, params, quotes, now))
    return shapes.order_ack(order, venue.spot.symbols[order.symbol])


def query_order(venue: Venue, params: dict[str, Any]) -> dict[str, Any]:
    order = venue.spot.find(spot_requests.order_ref(params))
    return shapes.order_row(order, venue.spot.symbols[order.symbol])


def cancel_order(venue: Venue, params: dict[str, Any]) -> dict[str, Any]:
    ref = spot_requests.order_ref(params)
    order = venue.run_spot(lambda spot, now: spot.cancel(ref, now))
    return shapes.cancelled(order, venue.spot.symbols[order.symbol])


def open_orders(venue: Venue, params: dict[str, Any]) -> list[dict[str, Any]]:
    names = [s for s in str(params.get("symbol") or "").split(",") if s]
    if not names:
        raise ExchangeError(MISSING_PARAM, "param cannot be null: symbol")
    rows = []
    for name in names[:5]:
        symbol = _required_symbol(venue, {"symbol": name})
        spec = venue.spot.symbols[symbol]
        rows += [shapes.order_row(o, spec) for o in venue.spot.list_open(symbol)]
    return rows


def cancel_open_orders(venue: Venue, params: dict[str, Any]) -> list[dict[str, Any]]:
    symbol = _required_symbol(venue, params)
    orders = venue.run_spot(lambda spot, now: spot.cancel_all(symbol, now))
    spec = venue.spot.symbols[symbol]
    return [shapes.cancelled(o, spec) for o in orders]


def all_orders(venue: Venue, params: dict[str, Any]) -> list[dict[str, Any]]:
    symbol = _required_symbol(venue, params)
    limit = int_param(params, "limit", 500, 1, 1000) or 500
    start = int_param(params, "startTime", None, 0, MAX_TIME)
    end = int_param(params, "endTime", None, 0, MAX_TIME)
    spec = venue.spot.symbols[symbol]
    return [shapes.order_row(o, spec) for o in venue.spot.list_orders(symbol, start, end, limit)]


def my_trades(venue: Venue, params: dict[str, Any]) -> list[dict[str, Any]]:
    symbol = _required_symbol(venue, params)
    limit = int_param(params, "limit", 100, 1, 100) or 100
    start = int_param(params, "startTime", None, 0, MAX_TIME)
    end = int_param(params, "endTime", None, 0, MAX_TIME)
    order_id = str(params.get("orderId") or "") or None
    return [shapes.my_trade(t) for t in venue.spot.list_trades(symbol, order_id, start, end, limit)]


def account(venue: Venue, _params: dict[str, Any]) -> dict[str, Any]:
    return shapes.account(venue.spot, venue.mexc_wall_ms())


def coins(venue: Venue, _params: dict[str, Any]) -> list[dict[str, Any]]:
    assets = {"USDT"} | {spec.base for spec in venue.spot.symbols.values()} | set(venue.spot.balances)
    return [shapes.coin(asset) for asset in sorted(assets)]


def trade_fee(venue: Venue, params: dict[str, Any]) -> dict[str, Any]:
    _required_symbol(venue, params)
    return {
        "data": {"makerCommission": float(MAKER_FEE_RATE), "takerCommission": float(TAKER_FEE_RATE)},
        "code": 0,
        "msg": "success",
        "timestamp": venue.mexc_wall_ms(),
    }


def _route(fn: Any, *, order_limited: bool = False, holds_on_drop: bool = False) -> Any:
    async def endpoint(request: Request) -> Response:
        return await handle(request, fn, signed=True, order_limited=order_limited, holds_on_drop=holds_on_drop)

    endpoint.__name__ = f"mexc_{fn.__name__}"
    return endpoint


router.add_api_route("/order", _route(place_order, order_limited=True, holds_on_drop=True), methods=["POST"])
router.add_api_route("/order", _route(query_order), methods=["GET"])
router.add_api_route("/order", _route(cancel_order, order_limited=True, holds_on_drop=True), methods=["DELETE"])
router.add_api_route("/openOrders", _route(open_orders), methods=["GET"])
router.add_api_route(
    "/openOrders", _route(cancel_open_orders, order_limited=True, holds_on_drop=True), methods=["DELETE"]
)
router.add_api_route("/allOrders", _route(all_orders), methods=["GET"])
router.add_api_route("/myTrades", _route(my_trades), methods=["GET"])
router.add_api_route("/account", _route(account), methods=["GET"])
router.add_api_route("/capital/config/getall", _route(coins), methods=["GET"])
router.add_api_route("/tradeFee", _route(trade_fee), methods=["GET"])
