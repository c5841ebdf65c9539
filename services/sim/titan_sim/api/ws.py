"""WebSocket endpoints: public market streams, private account streams, order entry."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, WebSocket

from titan_sim.api import auth
from titan_sim.api.publisher import PRIVATE_TOPICS, dumps, parse_public_topic, publisher_of
from titan_sim.core.model import ExchangeError
from titan_sim.runtime.clock import wall_ms
from titan_sim.runtime.hub import Connection, Hub
from titan_sim.runtime.venue import Venue

log = logging.getLogger(__name__)
router = APIRouter(tags=["websocket"])
# pybit records a subscription's req_id and callback only after its send() returns, so an
# answer that arrives too early crashes its reader thread: ack after a beat, data after another.
ACK_DELAY_S = 0.03
FIRST_DATA_DELAY_S = 0.03

MessageHandler = Callable[[Venue, Connection, dict[str, Any]], Awaitable[None]]


async def _serve(websocket: WebSocket, hub_name: str, on_message: MessageHandler) -> None:
    venue: Venue = websocket.app.state.venue
    hub: Hub = getattr(venue, hub_name)
    await websocket.accept()
    conn = Connection(websocket, hub_name)
    hub.add(conn)
    writer = asyncio.get_running_loop().create_task(conn.writer())
    try:
        while not conn.closed:
            text = await websocket.receive_text()
            try:
                message = json.loads(text)
            except ValueError:
                continue
            if isinstance(message, dict):
                # one connection's messages are handled strictly in order (auth, then subscribe)
                await on_message(venue, conn, message)
    except Exception as exc:  # disconnects surface as several exception types
        log.debug("ws %s closed: %s", conn.id, exc)
    finally:
        hub.remove(conn)
        conn.closed = True
        with contextlib.suppress(asyncio.QueueFull):
            conn.queue.put_nowait(None)
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await writer


def _ack(conn: Connection, message: dict[str, Any], op: str) -> str:
    return dumps({"success": True, "ret_msg": "", "conn_id": conn.id, "req_id": message.get("req_id", ""), "op": op})


async def _subscribe(venue: Venue, conn: Connection, message: dict[str, Any], hub: Hub, private: bool) -> None:
    topics = [t for t in message.get("args") or [] if isinstance(t, str)]
    await asyncio.sleep(ACK_DELAY_S)
    conn.send(_ack(conn, message, "subscribe"))
    await asyncio.sleep(FIRST_DATA_DELAY_S)
    for topic in topics:
        if topic in conn.topics:
            continue
        if private:
            if conn.authed and topic.split(".")[0] in PRIVATE_TOPICS:
                hub.subscribe(conn, topic.split(".")[0])
            continue
        if parse_public_topic(topic, venue.engine.instruments) is None:
            log.info("ws %s: unknown topic %s ignored", conn.id, topic)
            continue
        first = publisher_of(venue).first_message(topic, conn)
        hub.subscribe(conn, topic)  # no await since the snapshot: no delta can slip in between
        if first is not None:
            conn.send(first)


def _unsubscribe(conn: Connection, message: dict[str, Any], hub: Hub) -> None:
    for topic in message.get("args") or []:
        if isinstance(topic, str):
            hub.unsubscribe(conn, topic.split(".")[0] if topic.split(".")[0] in PRIVATE_TOPICS else topic)
    conn.send(_ack(conn, message, "unsubscribe"))


async def _on_public(venue: Venue, conn: Connection, message: dict[str, Any]) -> None:
    op = message.get("op")
    if op == "ping":
        conn.send(
            dumps(
                {
                    "success": True,
                    "ret_msg": "pong",
                    "conn_id": conn.id,
                    "req_id": message.get("req_id", ""),
                    "op": "ping",
                }
            )
        )
    elif op == "subscribe":
        await _subscribe(venue, conn, message, venue.public, private=False)
    elif op == "unsubscribe":
        _unsubscribe(conn, message, venue.public)


def _auth(venue: Venue, conn: Connection, message: dict[str, Any]) -> str | None:
    return auth.verify_ws_auth(
        list(message.get("args") or []),
        api_key=venue.settings.sim_api_key,
        api_secret=venue.settings.sim_api_secret.get_secret_value(),
        server_now_ms=venue.server_wall_ms(),
    )


async def _on_private(venue: Venue, conn: Connection, message: dict[str, Any]) -> None:
    op = message.get("op")
    if op == "ping":
        conn.send(
            dumps({"req_id": message.get("req_id", ""), "op": "pong", "args": [str(wall_ms())], "conn_id": conn.id})
        )
    elif op == "auth":
        problem = _auth(venue, conn, message)
        conn.authed = problem is None
        body = {"success": conn.authed, "ret_msg": problem or "", "op": "auth", "conn_id": conn.id}
        if message.get("req_id"):
            body["req_id"] = message["req_id"]
        conn.send(dumps(body))
    elif op == "subscribe":
        await _subscribe(venue, conn, message, venue.private, private=True)
    elif op == "unsubscribe":
        _unsubscribe(conn, message, venue.private)


_TRADE_OPS = {"order.create": "create_order", "order.amend": "amend_order", "order.cancel": "cancel_order"}


async def _on_trade(venue: Venue, conn: Connection, message: dict[str, Any]) -> None:
    from titan_sim.api import rest_trade

    op = message.get("op")
    if op == "ping":
        conn.send(
            dumps({"req_id": message.get("req_id", ""), "op": "pong", "args": [str(wall_ms())], "conn_id": conn.id})
        )
        return
    if op == "auth":
        problem = _auth(venue, conn, message)
        conn.authed = problem is None
        conn.send(
            dumps(
                {
                    "retCode": 0 if conn.authed else 10004,
                    "retMsg": "OK" if conn.authed else problem,
                    "op": "auth",
                    "connId": conn.id,
                }
            )
        )
        return
    if op not in _TRADE_OPS:
        return
    req_id = message.get("reqId", "")
    header = message.get("header") or {}
    code, text, data = 0, "OK", {}
    try:
        if not conn.authed:
            raise ExchangeError(10003, "not authenticated")
        now = venue.server_wall_ms()
        timestamp = int(header.get("X-BAPI-TIMESTAMP", 0))
        recv_window = int(header.get("X-BAPI-RECV-WINDOW", 5000))
        if not now - recv_window <= timestamp < now + auth.FUTURE_TOLERANCE_MS:
            raise ExchangeError(auth.BAD_TIMESTAMP, "invalid request, please check your timestamp or recv_window")
        args = message.get("args") or [{}]
        handler = getattr(rest_trade, _TRADE_OPS[str(op)])
        data = handler(venue, dict(args[0]))
    except ExchangeError as exc:
        code, text = exc.code, exc.message
    except (TypeError, ValueError):
        code, text = 10001, "params error"
    reply = {
        "reqId": req_id,
        "retCode": code,
        "retMsg": text,
        "op": op,
        "data": data,
        "retExtInfo": {},
        "header": {"Timenow": str(venue.server_wall_ms())},
        "connId": conn.id,
    }
    # pybit registers the reqId's callback only after its send() returns
    asyncio.get_running_loop().call_later(ACK_DELAY_S, conn.send, dumps(reply))


@router.websocket("/v5/public/linear")
async def public_stream(websocket: WebSocket) -> None:
    await _serve(websocket, "public", _on_public)


@router.websocket("/v5/private")
async def private_stream(websocket: WebSocket) -> None:
    await _serve(websocket, "private", _on_private)


@router.websocket("/v5/trade")
async def trade_stream(websocket: WebSocket) -> None:
    await _serve(websocket, "trade_ws", _on_trade)
