"""Signed endpoints: orders, executions, positions, wallet."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from titan_sim.api import bybit_requests, shapes
from titan_sim.api.common import Group, cursor_out, cursor_param, handle, int_param, opt_int, require_linear
from titan_sim.core.model import ExchangeError
from titan_sim.core.requests import ExecutionQuery, OrderQuery
from titan_sim.runtime.venue import Venue

router = APIRouter(tags=["trade"])
SEVEN_DAYS_MS = 7 * 86_400_000


def create_order(venue: Venue, params: dict[str, Any]) -> dict[str, Any]:
    if params.get("category") != "linear":
        venue.engine.reject_received(params, venue.now_ms(), 10001, "params error: category must be linear")
        require_linear(params)
    rejected = venue.faults.reject_symbol
    if rejected and params.get("symbol") == rejected:
        message = f"params error: symbol {rejected} is rejected (reject_symbol fault)"
        venue.engine.reject_received(params, venue.now_ms(), 10001, message)
        raise ExchangeError(10001, message)
    order = venue.run(lambda ex, now: bybit_requests.enter_order(ex, params, now))
    return {"orderId": order.order_id, "orderLinkId": order.order_link_id}


def cancel_order(venue: Venue, params: dict[str, Any]) -> dict[str, Any]:
    require_linear(params)
    order = venue.run(lambda ex, now: ex.cancel_order(bybit_requests.order_ref(params), now))
    return {"orderId": order.order_id, "orderLinkId": order.order_link_id}


def cancel_all(venue: Venue, params: dict[str, Any]) -> dict[str, Any]:
    require_linear(params)
    orders = venue.run(lambda ex, now: ex.cancel_all(bybit_requests.cancel_all(params), now))
    return {"list": [{"orderId": o.order_id, "orderLinkId": o.order_link_id} for o in orders], "success": "1"}


def amend_order(venue: Venue, params: dict[str, Any]) -> dict[str, Any]:
    require_linear(params)
    order = venue.run(lambda ex, now: ex.amend_order(bybit_requests.amend_order(params), now))
    return {"orderId": order.order_id, "orderLinkId": order.order_link_id}


def _orders(venue: Venue, params: dict[str, Any], *, open_only: bool) -> dict[str, Any]:
    require_linear(params)
    ex = venue.engine
    symbol = params.get("symbol") or None
    if symbol:
        ex.instrument(symbol)
    elif open_only and not (params.get("settleCoin") or params.get("baseCoin") or params.get("orderId")
                            or params.get("orderLinkId")):  # fmt: skip
        raise ExchangeError(10001, "params error: symbol, baseCoin or settleCoin is required")
    start, end = opt_int(params, "startTime"), opt_int(params, "endTime")
    if not open_only and start is None:
        start = (end if end is not None else venue.now_ms()) - SEVEN_DAYS_MS
    query = OrderQuery(
        open_only=open_only and str(params.get("openOnly", "0")) == "0",
        symbol=symbol,
        order_id=params.get("orderId") or None,
        link_id=params.get("orderLinkId") or None,
        start_ms=start,
        end_ms=end,
        status=params.get("orderStatus") or None,
        stop_only=params.get("orderFilter") == "StopOrder",
        limit=int_param(params, "limit", 20, 1, 50),
        cursor=cursor_param(params),
    )
    orders, next_seq = ex.query_orders(query)
    rows = [shapes.order(o, ex.instruments[o.symbol]) for o in orders]
    return {"category": "linear", "list": rows, "nextPageCursor": cursor_out(next_seq)}


def open_orders(venue: Venue, params: dict[str, Any]) -> dict[str, Any]:
    return _orders(venue, params, open_only=True)


def order_history(venue: Venue, params: dict[str, Any]) -> dict[str, Any]:
    return _orders(venue, params, open_only=False)


def executions(venue: Venue, params: dict[str, Any]) -> dict[str, Any]:
    require_linear(params)
    ex = venue.engine
    symbol = params.get("symbol") or None
    if symbol:
        ex.instrument(symbol)
    start, end = opt_int(params, "startTime"), opt_int(params, "endTime")
    if start is None:
        start = (end if end is not None else venue.now_ms()) - SEVEN_DAYS_MS
    query = ExecutionQuery(
        symbol=symbol,
        order_id=params.get("orderId") or None,
        link_id=params.get("orderLinkId") or None,
        exec_type=params.get("execType") or None,
        start_ms=start,
        end_ms=end,
        limit=int_param(params, "limit", 50, 1, 100),
        cursor=cursor_param(params),
    )
    rows, next_seq = ex.query_executions(query)
    items = [shapes.execution(e, ex.instruments[e.symbol]) for e in rows]
    return {"category": "linear", "list": items, "nextPageCursor": cursor_out(next_seq)}


def positions(venue: Venue, params: dict[str, Any]) -> dict[str, Any]:
    require_linear(params)
    ex = venue.engine
    symbol = params.get("symbol") or None
    if symbol:
        ex.instrument(symbol)
        names = [symbol]
    elif params.get("settleCoin") == "USDT" or params.get("baseCoin"):
        base = params.get("baseCoin")
        names = [
            s
            for s, p in ex.account.positions.items()
            if p.side is not None and (not base or ex.instruments[s].base_coin == base)
        ]
    else:
        raise ExchangeError(10001, "params error: symbol or settleCoin is required")
    marks = ex.marks()
    limit = int_param(params, "limit", 20, 1, 200)
    start = cursor_param(params) or 0
    names = sorted(names)
    page = names[start : start + limit]
    rows = [shapes.position(ex.account.position(s), ex.instruments[s], marks[s]) for s in page]
    more = start + limit < len(names)
    return {"category": "linear", "list": rows, "nextPageCursor": cursor_out(start + limit if more else None)}


def set_leverage(venue: Venue, params: dict[str, Any]) -> dict[str, Any]:
    require_linear(params)
    venue.run(lambda ex, now: ex.set_leverage(bybit_requests.set_leverage(params), now))
    return {}


def trading_stop(venue: Venue, params: dict[str, Any]) -> dict[str, Any]:
    require_linear(params)
    venue.run(lambda ex, now: ex.trading_stop(bybit_requests.trading_stop(params), now))
    return {}


def wallet_balance(venue: Venue, params: dict[str, Any]) -> dict[str, Any]:
    if params.get("accountType") != "UNIFIED":
        raise ExchangeError(10001, "params error: accountType must be UNIFIED")
    ex = venue.engine
    return {"list": [shapes.wallet(ex.account, ex.marks(), ex.order_margin())]}


_TRADE = "trade"
_QUERY = "query"
ROUTES: list[tuple[str, str, Any, str, bool]] = [
    ("POST", "/v5/order/create", create_order, _TRADE, True),
    ("POST", "/v5/order/cancel", cancel_order, _TRADE, True),
    ("POST", "/v5/order/cancel-all", cancel_all, _TRADE, True),
    ("POST", "/v5/order/amend", amend_order, _TRADE, True),
    ("GET", "/v5/order/realtime", open_orders, _QUERY, False),
    ("GET", "/v5/order/history", order_history, _QUERY, False),
    ("GET", "/v5/execution/list", executions, _QUERY, False),
    ("GET", "/v5/position/list", positions, _QUERY, False),
    ("POST", "/v5/position/set-leverage", set_leverage, _TRADE, False),
    ("POST", "/v5/position/trading-stop", trading_stop, _TRADE, False),
    ("GET", "/v5/account/wallet-balance", wallet_balance, _QUERY, False),
]


def _route(path: str, fn: Any, kind: str, holds: bool) -> Any:
    group = Group(path, kind)

    async def endpoint(request: Request) -> Response:
        return await handle(request, group, fn, signed=True, holds_on_drop=holds)

    endpoint.__name__ = fn.__name__
    return endpoint


for _method, _path, _fn, _kind, _holds in ROUTES:
    router.add_api_route(_path, _route(_path, _fn, _kind, _holds), methods=[_method])
