"""MEXC public market data (/api/v3/...) and the contract listing ccxt's load_markets reads."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from titan_sim.api.mexc import shapes
from titan_sim.api.mexc.common import handle, int_param
from titan_sim.core.model import ExchangeError, Side
from titan_sim.core.spot import BAD_PARAM, BAD_SYMBOL, MISSING_PARAM
from titan_sim.runtime.venue import Venue

router = APIRouter(prefix="/api/v3", tags=["mexc-market"])
contract_router = APIRouter(prefix="/api/v1/contract", tags=["mexc-contract"])


def _symbol(venue: Venue, params: dict[str, Any], *, required: bool = True) -> str | None:
    symbol = str(params.get("symbol") or "")
    if not symbol:
        if required:
            raise ExchangeError(MISSING_PARAM, "param cannot be null: symbol")
        return None
    if symbol not in venue.spot.symbols:
        raise ExchangeError(BAD_SYMBOL, "Invalid symbol.")
    return symbol


def _symbols(venue: Venue, params: dict[str, Any]) -> list[str]:
    one = _symbol(venue, params, required=False)
    if one:
        return [one]
    many = [s for s in str(params.get("symbols") or "").split(",") if s]
    for name in many:
        if name not in venue.spot.symbols:
            raise ExchangeError(BAD_SYMBOL, "Invalid symbol.")
    return many or list(venue.spot.symbols)


def ping(_venue: Venue, _params: dict[str, Any]) -> dict[str, Any]:
    return {}


def server_time(venue: Venue, _params: dict[str, Any]) -> dict[str, Any]:
    return {"serverTime": venue.mexc_wall_ms()}


def exchange_info(venue: Venue, params: dict[str, Any]) -> dict[str, Any]:
    rows = [
        shapes.exchange_symbol(venue.spot.symbols[s], venue.engine.markets[s].status == "Trading")
        for s in _symbols(venue, params)
    ]
    return {
        "timezone": "CST",
        "serverTime": venue.mexc_wall_ms(),
        "rateLimits": [],
        "exchangeFilters": [],
        "symbols": rows,
    }


def depth(venue: Venue, params: dict[str, Any]) -> dict[str, Any]:
    symbol = _symbol(venue, params)
    assert symbol is not None
    limit = int_param(params, "limit", 100, 1, 5000) or 100
    inst = venue.engine.instruments[symbol]
    book = venue.engine.books[symbol]
    return {
        "lastUpdateId": book.version,
        "bids": [[inst.fmt_price(p), inst.fmt_qty(q)] for p, q in book.depth(Side.BUY, limit)],
        "asks": [[inst.fmt_price(p), inst.fmt_qty(q)] for p, q in book.depth(Side.SELL, limit)],
        "timestamp": venue.now_ms(),
    }


def _recent(venue: Venue, params: dict[str, Any]) -> list[Any]:
    symbol = _symbol(venue, params)
    assert symbol is not None
    limit = int_param(params, "limit", 500, 1, 1000) or 500
    start, end = int_param(params, "startTime", None, 0, 2**62), int_param(params, "endTime", None, 0, 2**62)
    trades = [
        t
        for t in venue.engine.recent_trades[symbol]
        if (start is None or t.time_ms >= start) and (end is None or t.time_ms <= end)
    ]
    return trades[-limit:]


def trades(venue: Venue, params: dict[str, Any]) -> list[dict[str, Any]]:
    return [shapes.public_trade(t) for t in _recent(venue, params)]


def agg_trades(venue: Venue, params: dict[str, Any]) -> list[dict[str, Any]]:
    return [shapes.agg_trade(t) for t in _recent(venue, params)]


def klines(venue: Venue, params: dict[str, Any]) -> list[list[Any]]:
    symbol = _symbol(venue, params)
    assert symbol is not None
    word = str(params.get("interval") or "")
    interval = shapes.KLINE_INTERVALS.get(word)
    if interval is None:
        raise ExchangeError(BAD_PARAM, f"param is error: interval must be one of {', '.join(shapes.KLINE_INTERVALS)}")
    limit = int_param(params, "limit", 500, 1, 1000) or 500
    start = int_param(params, "startTime", None, 0, 2**62)
    end = int_param(params, "endTime", None, 0, 2**62)
    step = shapes.KLINE_MS[word]
    if end is not None:
        end -= 1  # MEXC's endTime is exclusive
    if start is not None:
        # from startTime on, oldest first: the window holds at most `limit` bars
        first_bar_end = start + limit * step - 1
        end = first_bar_end if end is None else min(end, first_bar_end)
    bars = venue.engine.klines[symbol].query(interval, start, end, limit)
    inst = venue.engine.instruments[symbol]
    return [shapes.kline(b, inst, step) for b in reversed(bars)]


def _one_or_all(venue: Venue, params: dict[str, Any], row: Any) -> Any:
    symbol = _symbol(venue, params, required=False)
    if symbol:
        return row(symbol)
    return [row(s) for s in venue.spot.symbols]


def ticker_24hr(venue: Venue, params: dict[str, Any]) -> Any:
    now = venue.now_ms()
    return _one_or_all(venue, params, lambda s: shapes.ticker_24hr(venue.engine, s, now))


def ticker_price(venue: Venue, params: dict[str, Any]) -> Any:
    def row(symbol: str) -> dict[str, str]:
        inst = venue.engine.instruments[symbol]
        return {"symbol": symbol, "price": inst.fmt_price(venue.engine.markets[symbol].last_price)}

    return _one_or_all(venue, params, row)


def book_ticker(venue: Venue, params: dict[str, Any]) -> Any:
    return _one_or_all(venue, params, lambda s: shapes.book_ticker(venue.engine, s))


def avg_price(venue: Venue, params: dict[str, Any]) -> dict[str, Any]:
    symbol = _symbol(venue, params)
    assert symbol is not None
    inst = venue.engine.instruments[symbol]
    return {"mins": 5, "price": inst.fmt_price(venue.engine.markets[symbol].mark)}


def contract_detail(venue: Venue, params: dict[str, Any]) -> dict[str, Any]:
    """Every simulated perpetual, listed as MEXC lists contracts: none API-tradable."""
    rows = {shapes.contract(inst)["symbol"]: shapes.contract(inst) for inst in venue.engine.instruments.values()}
    wanted = str(params.get("symbol") or "")
    if wanted:
        if wanted not in rows:
            return {"success": False, "code": 1001, "message": "contract not exists"}
        return {"success": True, "code": 0, "data": rows[wanted]}
    return {"success": True, "code": 0, "data": list(rows.values())}


def contract_ping(venue: Venue, _params: dict[str, Any]) -> dict[str, Any]:
    return {"success": True, "code": 0, "data": venue.mexc_wall_ms()}


_ROUTES = {
    "/ping": ping,
    "/time": server_time,
    "/exchangeInfo": exchange_info,
    "/depth": depth,
    "/trades": trades,
    "/aggTrades": agg_trades,
    "/klines": klines,
    "/avgPrice": avg_price,
    "/ticker/24hr": ticker_24hr,
    "/ticker/price": ticker_price,
    "/ticker/bookTicker": book_ticker,
}


def _route(fn: Any) -> Any:
    async def endpoint(request: Request) -> Response:
        return await handle(request, fn, signed=False)

    endpoint.__name__ = f"mexc_{fn.__name__}"
    return endpoint


for _path, _fn in _ROUTES.items():
    router.add_api_route(_path, _route(_fn), methods=["GET"])
contract_router.add_api_route("/detail", _route(contract_detail), methods=["GET"])
contract_router.add_api_route("/ping", _route(contract_ping), methods=["GET"])
