"""The /sim control API: not Bybit. Tests, benchmarks and demos steer the venue here."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from titan_common.service import error_body
from titan_sim.api import bybit_requests
from titan_sim.api.mexc.app import MexcFace
from titan_sim.api.publisher import publisher_of
from titan_sim.core.model import ExchangeError, Side
from titan_sim.runtime.faults import Faults
from titan_sim.runtime.venue import Venue

router = APIRouter(prefix="/sim", tags=["control"])
DAY_MS = 86_400_000
VenueName = Literal["bybit", "mexc"]
# which face a control call is about: Bybit unless `?venue=mexc` (or a body's `venue`) says so
VenueQuery = Annotated[VenueName, Query()]


class FaultsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    latency_ms: int | None = Field(default=None, ge=0, le=120_000)
    jitter_ms: int | None = Field(default=None, ge=0, le=60_000)
    error_rate: float | None = Field(default=None, ge=0, le=1)
    http_status: int | None = Field(default=None, ge=100, le=599)
    ret_code: int | None = Field(default=None, ge=-(2**31), le=2**31 - 1)
    rate_limit_per_s: int | None = Field(default=None, ge=0, le=1_000_000)
    drop_response: bool | None = None
    ws_disconnect: bool | None = None
    clock_skew_ms: int | None = Field(default=None, ge=-DAY_MS, le=DAY_MS)
    reject_symbol: str | None = Field(default=None, max_length=32)
    fail_paths: list[Annotated[str, Field(max_length=200)]] | None = Field(default=None, max_length=50)
    venue: VenueName | None = None  # the face these faults are for (also `?venue=`)


# Bounds keep one control call short: the venue is one event loop, and a burst or noise
# run that took minutes would stall every client (the benchmarks use 5,000 trades).
class BurstBody(BaseModel):
    pct: float = Field(gt=-90, lt=1000)
    trades: int = Field(default=60, ge=1, le=20_000)
    window_ms: int = Field(default=100, ge=0, le=600_000)


class StatusBody(BaseModel):
    status: Literal["Trading", "Closed"]


class PositionBody(BaseModel):
    symbol: str
    side: Literal["Buy", "Sell"]
    size: str


class ClockBody(BaseModel):
    time_scale: float | None = Field(default=None, ge=0, le=10_000)
    paused: bool | None = None
    advance_ms: int | None = Field(default=None, ge=0, le=400 * DAY_MS)


class NoiseBody(BaseModel):
    updates: int = Field(default=1000, ge=1, le=50_000)


class SpotBalanceBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    asset: str = Field(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9]+$")
    free: str = Field(min_length=1, max_length=40)


class ServingBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    serving: bool


def _venue(request: Request) -> Venue:
    venue: Venue = request.app.state.venue
    return venue


def _mexc_face(request: Request) -> MexcFace:
    face: MexcFace = request.app.state.mexc_face
    return face


def _faults_of(venue: Venue, name: VenueName) -> Faults:
    return venue.mexc_faults if name == "mexc" else venue.faults


def _refused(exc: ExchangeError) -> JSONResponse:
    return JSONResponse(error_body(400, "SIM_REFUSED", exc.message, {"retCode": exc.code}), status_code=400)


@router.get("/health")
async def sim_health(request: Request) -> dict[str, Any]:
    venue = _venue(request)
    face = _mexc_face(request)
    return {
        "status": "ok",
        "symbols": list(venue.engine.instruments),
        "seed": venue.config.seed,
        "clock": venue.clock_state(),
        "replay": venue.replay_state(),
        "faults": venue.faults.as_dict(),
        "connections": {
            "public": len(venue.public.connections),
            "private": len(venue.private.connections),
            "trade": len(venue.trade_ws.connections),
        },
        "requests": venue.requests,
        "tradesPushed": publisher_of(venue).trades_pushed,
        "heldResponses": venue.held_responses,
        "faces": {
            "bybit": {"port": venue.settings.simulator_port, "serving": True},
            "mexc": {
                "port": face.port,
                "serving": face.serving,
                "requests": venue.mexc_requests,
                "heldResponses": venue.mexc_held_responses,
                "faults": venue.mexc_faults.as_dict(),
                "openOrders": len(venue.spot.open_orders),
            },
        },
    }


@router.get("/faults")
async def get_faults(request: Request, venue: VenueQuery = "bybit") -> dict[str, Any]:
    return _faults_of(_venue(request), venue).as_dict()


@router.post("/faults")
async def set_faults(body: FaultsBody, request: Request, venue: VenueQuery = "bybit") -> dict[str, Any]:
    state = _venue(request)
    changes = body.model_dump(exclude_unset=True)
    chosen: VenueName = changes.pop("venue", None) or venue
    faults = _faults_of(state, chosen)
    faults.update({k: v for k, v in changes.items() if k != "ws_disconnect"})
    dropped = 0
    if changes.get("ws_disconnect") and chosen == "bybit":  # the MEXC face has no sockets
        dropped = sum(hub.abort_all() for hub in (state.public, state.private, state.trade_ws))
    return {**faults.as_dict(), "ws_disconnected": dropped}


@router.delete("/faults")
async def clear_faults(request: Request, venue: VenueQuery = "bybit") -> dict[str, Any]:
    faults = _faults_of(_venue(request), venue)
    faults.update(Faults().as_dict())
    return faults.as_dict()


@router.post("/market/{symbol}/burst", response_model=None)
async def burst(symbol: str, body: BurstBody, request: Request) -> dict[str, Any] | JSONResponse:
    try:
        return _venue(request).start_burst(symbol, body.pct, body.trades, body.window_ms)
    except ExchangeError as exc:
        return _refused(exc)


@router.post("/market/{symbol}/status", response_model=None)
async def market_status(symbol: str, body: StatusBody, request: Request) -> dict[str, Any] | JSONResponse:
    try:
        _venue(request).engine.set_status(symbol, body.status)
    except ExchangeError as exc:
        return _refused(exc)
    return {"symbol": symbol, "status": body.status}


@router.post("/market/{symbol}/book-noise", response_model=None)
async def book_noise(symbol: str, body: NoiseBody, request: Request) -> dict[str, Any] | JSONResponse:
    """Random changes to the crowd's quotes, each flushed as its own orderbook delta."""
    try:
        done = await _venue(request).book_noise(symbol, body.updates)
    except ExchangeError as exc:
        return _refused(exc)
    return {"symbol": symbol, "updates": done}


@router.get("/orders")
async def received_orders(
    request: Request,
    orderLinkId: str | None = None,
    clientOrderId: str | None = None,
    venue: VenueQuery = "bybit",
) -> dict[str, Any]:
    if venue == "mexc":
        return _received_spot_orders(_venue(request), clientOrderId if clientOrderId is not None else orderLinkId)
    state = _venue(request)
    rows = []
    for record in state.engine.received:
        link_id = str(record.sent.get("orderLinkId") or "")
        if orderLinkId is not None and link_id != orderLinkId:
            continue
        order = record.order
        rows.append(
            {
                "seq": record.seq,
                "receivedTime": record.received_ms,
                "source": record.source,
                "orderLinkId": link_id,
                "orderId": order.order_id if order else "",
                "symbol": record.sent.get("symbol"),
                "side": record.sent.get("side"),
                "orderType": record.sent.get("orderType"),
                "qty": record.sent.get("qty"),
                "price": record.sent.get("price"),
                "retCode": record.ret_code,
                "retMsg": record.ret_msg,
                "orderStatus": order.status.value if order else "Rejected",
            }
        )
    return {"count": len(rows), "list": rows}


def _received_spot_orders(venue: Venue, client_order_id: str | None) -> dict[str, Any]:
    """Every POST /api/v3/order the MEXC face received (with that newClientOrderId)."""
    rows = []
    for record in venue.spot.received:
        client_id = str(record.sent.get("newClientOrderId") or "")
        if client_order_id is not None and client_id != client_order_id:
            continue
        order = record.order
        rows.append(
            {
                "seq": record.seq,
                "receivedTime": record.received_ms,
                "clientOrderId": client_id,
                "orderId": order.order_id if order else "",
                "symbol": record.sent.get("symbol"),
                "side": record.sent.get("side"),
                "type": record.sent.get("type"),
                "quantity": record.sent.get("quantity"),
                "quoteOrderQty": record.sent.get("quoteOrderQty"),
                "price": record.sent.get("price"),
                "code": record.code,
                "msg": record.message,
                "status": order.status.value if order else "REJECTED",
            }
        )
    return {"count": len(rows), "list": rows}


@router.post("/mexc/balance", response_model=None)
async def set_mexc_balance(body: SpotBalanceBody, request: Request) -> dict[str, Any] | JSONResponse:
    """What the MEXC spot account held before Titan: sets `free` of `asset` (locked unchanged)."""
    try:
        return _venue(request).set_spot_balance(body.asset, body.free)
    except ExchangeError as exc:
        return _refused(exc)


@router.post("/faces/mexc")
async def mexc_serving(body: ServingBody, request: Request) -> dict[str, Any]:
    """Stop serving the MEXC face (its port refuses connections: the venue is down) or serve again."""
    face = _mexc_face(request)
    if body.serving:
        await face.start()
    else:
        await face.stop()
    return {"venue": "mexc", "port": face.port, "serving": face.serving}


@router.post("/positions", response_model=None)
async def open_position(body: PositionBody, request: Request) -> dict[str, Any] | JSONResponse:
    """A position opened outside the API, as if a human clicked on the exchange's site."""
    try:
        side, qty = Side(body.side), Decimal(body.size)
    except (ValueError, ArithmeticError):
        return _refused(ExchangeError(10001, "params error: side must be Buy/Sell and size a number"))
    sent = {"category": "linear", "symbol": body.symbol, "side": side.value, "orderType": "Market", "qty": str(qty)}
    try:
        order = _venue(request).run(lambda ex, now: bybit_requests.enter_order(ex, sent, now, source="manual"))
    except ExchangeError as exc:
        return _refused(exc)
    return {"orderId": order.order_id, "orderStatus": order.status.value, "cumExecQty": str(order.cum_exec_qty)}


@router.post("/clock", response_model=None)
async def clock(body: ClockBody, request: Request) -> dict[str, Any] | JSONResponse:
    try:
        return _venue(request).set_clock(body.time_scale, body.paused, body.advance_ms)
    except ExchangeError as exc:
        return _refused(exc)


class ResetBody(BaseModel):
    paused: bool = False  # start frozen: same seed + same order flow then gives the same fills


@router.post("/reset")
async def reset(request: Request, body: ResetBody | None = None) -> dict[str, Any]:
    venue = _venue(request)
    venue.reset()
    await _mexc_face(request).start()  # a fresh venue serves both faces
    if body is not None and body.paused:
        venue.set_clock(None, True, None)
    return {"status": "reset", "clock": venue.clock_state()}
