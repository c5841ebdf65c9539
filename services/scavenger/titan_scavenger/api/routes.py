"""The scavenger's HTTP and WebSocket routes: thin. Reads are open; running a cycle needs an operator."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, ConfigDict

from titan_common.auth.http import Operator, require_role
from titan_common.auth.roles import Role
from titan_common.clock import now_ms
from titan_common.events import EventType, payload_of
from titan_common.logging import best_effort
from titan_common.messages import Event
from titan_common.service import ServiceRuntime, get_runtime
from titan_scavenger.runtime import Scavenger

log = logging.getLogger(__name__)

router = APIRouter()
operator = require_role(Role.OPERATOR)


def _scavenger(runtime: ServiceRuntime) -> Scavenger:
    scavenger = runtime.components.get("scavenger")
    if not isinstance(scavenger, Scavenger):
        raise HTTPException(503, "STARTUP_RECOVER")
    return scavenger


@router.get("/traps")
async def traps(runtime: ServiceRuntime = Depends(get_runtime)) -> dict[str, Any]:
    """The live trap map, best first, with each trigger's distance from the latest price."""
    scavenger = _scavenger(runtime)
    view = scavenger.trap_map_payload()
    built = scavenger.trap_map.built_ms
    return {
        "cycle_id": view.cycle_id or None,
        "built_ms": built or None,
        "age_ms": now_ms() - built if built else None,
        "symbols": view.symbols,
        "proximity_pct": scavenger.proximity_pct,
        "emitting": scavenger.armed(),
        "count": len(view.traps),
        "traps": [trap.model_dump(mode="json") for trap in view.traps],
    }


class RunCycle(BaseModel):
    model_config = ConfigDict(extra="forbid")


@router.post("/scanner/run")
async def run_scanner(
    body: RunCycle | None = None, runtime: ServiceRuntime = Depends(get_runtime), who: Operator = Depends(operator)
) -> dict[str, Any]:
    """Run the breadth cycle of the current slot now (idempotent per slot)."""
    return await _scavenger(runtime).scanner.run_cycle(trigger=f"OPERATOR:{who.operator_id}")


@router.get("/scanner/cycles")
async def scanner_cycles(
    runtime: ServiceRuntime = Depends(get_runtime), limit: int = Query(20, ge=1, le=500)
) -> dict[str, Any]:
    cycles = await _scavenger(runtime).scanner.recent(limit)
    return {"count": len(cycles), "cycles": cycles}


@router.websocket("/ws/scavenger")
async def live(websocket: WebSocket) -> None:
    """TRAP_MAP_UPDATED, SENSOR_STATUS_UPDATED and TRAP_SPRUNG as they happen (current views first)."""
    runtime: ServiceRuntime = websocket.app.state.runtime
    scavenger = runtime.components.get("scavenger")
    await websocket.accept()
    if not isinstance(scavenger, Scavenger):
        await websocket.close(code=1013)
        return
    queue = scavenger.hub.subscribe()
    try:
        now = now_ms()
        for event_type, payload in (
            (EventType.SENSOR_STATUS_UPDATED, payload_of(scavenger.sensor_status(now))),
            (EventType.TRAP_MAP_UPDATED, payload_of(scavenger.trap_map_payload())),
        ):
            event = Event(ts_ms=now, service=runtime.name, event_type=event_type, payload=payload)
            await websocket.send_text(event.model_dump_json())
        receiver = asyncio.create_task(_drain(websocket))
        while not receiver.done():
            getter = asyncio.create_task(queue.get())
            done, _ = await asyncio.wait({getter, receiver}, return_when=asyncio.FIRST_COMPLETED)
            if getter in done:
                await websocket.send_text(getter.result())
            else:
                getter.cancel()
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        scavenger.hub.unsubscribe(queue)
        with best_effort(log, "closing a websocket", RuntimeError, OSError, WebSocketDisconnect, level=logging.DEBUG):
            await websocket.close()


async def _drain(websocket: WebSocket) -> None:
    """Read (and ignore) what the client sends, until it goes away."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            await websocket.receive_text()
