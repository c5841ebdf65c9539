"""/ws/console: CONNECTED, then STATE_UPDATE every second and the events of titan:events.

Same auth rule as the API: a session cookie or HTTP Basic, or nobody from loopback (as a
viewer). The Origin must be this console's own (a cookie alone must never let another
site's page listen in). Clients may send PING (JSON {"type":"PING"} or the text "ping")
and get PONG.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from titan_common.clock import now_ms
from titan_common.request_guard import same_origin
from titan_console.api.deps import identify
from titan_console.core.access import Caller, decide, is_local
from titan_console.runtime import console_of
from titan_console.runtime.authenticator import LOCAL_VIEWER, AuthFailed
from titan_console.runtime.hub import Client

router = APIRouter()

CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403


async def console_socket(websocket: WebSocket) -> None:
    console = console_of(websocket.app.state.runtime)
    peer = websocket.client.host if websocket.client else None
    if not same_origin(websocket.headers.get("origin"), websocket.headers.get("host")):
        await websocket.close(code=CLOSE_FORBIDDEN)
        return
    try:
        principal = await identify(console, websocket.headers, websocket.cookies, peer)
    except AuthFailed:
        await websocket.close(code=CLOSE_UNAUTHORIZED)
        return
    local = is_local(peer, websocket.headers, console.settings.trusted)
    verdict = decide(None, "GET", Caller(role=principal.role if principal else None, local=local))
    if not verdict.allowed:
        await websocket.close(code=CLOSE_UNAUTHORIZED)
        return
    await websocket.accept()
    client = Client(
        websocket=websocket,
        username=principal.username if principal else LOCAL_VIEWER,
        role=principal.role.value if principal else "viewer",
    )
    console.hub.add(client)
    interval_ms = int(console.settings.state_interval_s * 1000)
    hello = {"user": client.username, "role": client.role, "interval_ms": interval_ms}
    console.hub.send(client, {"type": "CONNECTED", "ts_ms": now_ms(), "data": hello})
    console.hub.send(client, console.state.state_message(console.settings.system_mode.value))
    sender = asyncio.create_task(console.hub.pump(client))
    try:
        while True:
            receive = asyncio.create_task(websocket.receive_text())
            done, _ = await asyncio.wait({receive, sender}, return_when=asyncio.FIRST_COMPLETED)
            if sender in done:
                receive.cancel()
                break
            text = receive.result()
            if _is_ping(text):
                console.hub.send(client, {"type": "PONG", "ts_ms": now_ms()})
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        console.hub.remove(client)
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sender


def _is_ping(text: str) -> bool:
    if text.strip().lower() == "ping":
        return True
    try:
        message = json.loads(text)
    except ValueError:
        return False
    return isinstance(message, dict) and str(message.get("type", "")).upper() == "PING"


router.add_api_websocket_route("/ws/console", console_socket)
router.add_api_websocket_route("/ws", console_socket)
