"""Public market data: /v5/market/*."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from titan_sim.api import shapes
from titan_sim.api.common import Group, handle, int_param, opt_int, require_linear
from titan_sim.core.klines import INTERVALS
from titan_sim.core.model import ExchangeError, Side
from titan_sim.runtime.venue import Venue

router = APIRouter(prefix="/v5/market", tags=["market"])
MARKET = Group("market", "public")


def _symbol(venue: Venue, params: dict[str, Any], *, required: bool = True) -> str | None:
    symbol = params.get("symbol")
    if not symbol:
        if required:
            raise ExchangeError(10001, "params error: symbol is required")
        return None
    venue.engine.instrument(str(symbol))
    return str(symbol)


def server_time(venue: Venue, _params: dict[str, Any]) -> dict[str, Any]:
    now = venue.server_wall_ms()
    return {"timeSecond": str(now // 1000), "timeNano": str(now * 1_000_000)}


def instruments_info(venue: Venue, params: dict[str, Any]) -> dict[str, Any]:
    require_linear(params)
    ex = venue.engine
    symbol = _symbol(venue, params, required=False)
    wanted_status = params.get("status")
    base = params.get("baseCoin")
    rows = []
    for name, inst in ex.instruments.items():
        status = ex.markets[name].status
        if (symbol and name != symbol) or (base and inst.base_coin != base):
            continue
        if wanted_status and status != wanted_status:
            continue
        rows.append(shapes.instrument(inst, status, venue.config.seed))
    limit = int_param(params, "limit", 500, 1, 1000)
    start = int(str(params.get("cursor") or "0")) if str(params.get("cursor") or "0").isdigit() else 0
    page = rows[start : start + limit]
    cursor = str(start + limit) if start + limit < len(rows) else ""
    return {"category": "linear", "list": page, "nextPageCursor": cursor}


def tickers(venue: Venue, params: dict[str, Any]) -> dict[str, Any]:
    require_linear(params)
    symbol = _symbol(venue, params, required=False)
    now = venue.now_ms()
    names = [symbol] if symbol else list(venue.engine.instruments)
    return {"category": "linear", "list": [shapes.ticker(venue.engine, s, now) for s in names]}


def kline(venue: Venue, params: dict[str, Any]) -> dict[str, Any]:
    require_linear(params)
    symbol = _symbol(venue, params)
    assert symbol is not None
    interval = str(params.get("interval", ""))
    if interval not in INTERVALS:
        raise ExchangeError(10001, f"params error: interval must be one of {', '.join(INTERVALS)}")
    limit = int_param(params, "limit", 200, 1, 1000)
    bars = venue.engine.klines[symbol].query(interval, opt_int(params, "start"), opt_int(params, "end"), limit)
    inst = venue.engine.instruments[symbol]
    return {"category": "linear", "symbol": symbol, "list": [shapes.kline_row(b, inst) for b in bars]}


def orderbook(venue: Venue, params: dict[str, Any]) -> dict[str, Any]:
    require_linear(params)
    symbol = _symbol(venue, params)
    assert symbol is not None
    limit = int_param(params, "limit", 25, 1, 500)
    inst = venue.engine.instruments[symbol]
    book = venue.engine.books[symbol]
    now = venue.now_ms()
    return {
        "s": symbol,
        "b": [[inst.fmt_price(p), inst.fmt_qty(q)] for p, q in book.depth(Side.BUY, limit)],
        "a": [[inst.fmt_price(p), inst.fmt_qty(q)] for p, q in book.depth(Side.SELL, limit)],
        "ts": now,
        "u": book.version,
        "seq": book.version,
        "cts": now,
    }


def recent_trade(venue: Venue, params: dict[str, Any]) -> dict[str, Any]:
    require_linear(params)
    symbol = _symbol(venue, params)
    assert symbol is not None
    limit = int_param(params, "limit", 500, 1, 1000)
    inst = venue.engine.instruments[symbol]
    trades = list(venue.engine.recent_trades[symbol])[-limit:][::-1]
    return {"category": "linear", "list": [shapes.recent_trade(t, inst) for t in trades]}


def funding_history(venue: Venue, params: dict[str, Any]) -> dict[str, Any]:
    require_linear(params)
    symbol = _symbol(venue, params)
    assert symbol is not None
    limit = int_param(params, "limit", 200, 1, 200)
    start, end = opt_int(params, "startTime"), opt_int(params, "endTime")
    rows = []
    for record in reversed(venue.engine.funding_history[symbol]):
        if (end is not None and record.time_ms > end) or (start is not None and record.time_ms < start):
            continue
        rows.append(
            {"symbol": symbol, "fundingRate": shapes.num(record.rate), "fundingRateTimestamp": str(record.time_ms)}
        )
        if len(rows) == limit:
            break
    return {"category": "linear", "list": rows}


def open_interest(venue: Venue, params: dict[str, Any]) -> dict[str, Any]:
    require_linear(params)
    symbol = _symbol(venue, params)
    assert symbol is not None
    market = venue.engine.markets[symbol]
    now = venue.now_ms()
    row = {"openInterest": f"{market.open_interest:.3f}", "timestamp": str(now // 300_000 * 300_000)}
    return {"category": "linear", "symbol": symbol, "list": [row], "nextPageCursor": ""}


_ROUTES = {
    "/time": server_time,
    "/instruments-info": instruments_info,
    "/tickers": tickers,
    "/kline": kline,
    "/orderbook": orderbook,
    "/recent-trade": recent_trade,
    "/funding/history": funding_history,
    "/open-interest": open_interest,
}


def _route(fn: Any) -> Any:
    async def endpoint(request: Request) -> Response:
        return await handle(request, MARKET, fn, signed=False)

    endpoint.__name__ = fn.__name__
    return endpoint


for _path, _fn in _ROUTES.items():
    router.add_api_route(_path, _route(_fn), methods=["GET"])
