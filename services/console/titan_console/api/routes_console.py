"""The operator API from the runbooks: master arm, emergency actions, positions, lists."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from titan_common.api_types import row_id_path
from titan_console.api import answers, bodies
from titan_console.api.answers import route
from titan_console.api.deps import authorize, body_label, current_user, get_console
from titan_console.core import config_edit
from titan_console.core.access import Access
from titan_console.errors import ConsoleError
from titan_console.runtime import actions, proposals, reads
from titan_console.runtime.authenticator import Principal
from titan_console.runtime.context import Console

router = APIRouter(dependencies=[Depends(authorize)])


# --- master arm -------------------------------------------------------------------------


@router.get("/api/console/master-arm", **route(answers.MasterArmState))
async def get_master_arm(console: Console = Depends(get_console)) -> dict[str, Any]:
    await console.state.refresh_flags()
    armed = console.state.master_arm
    return {
        "master_arm": armed is True,
        "enabled": armed is True,
        "status": "ARMED" if armed else ("DISARMED" if armed is False else "UNKNOWN"),
        "kill_switch": bool(console.state.kill_switch.get("engaged")),
    }


@router.post("/api/console/master-arm", **route(answers.MasterArmChange, body=bodies.MasterArmBody))
async def post_master_arm(
    request: Request, who: Principal = Depends(current_user), console: Console = Depends(get_console)
) -> dict[str, Any]:
    body = await bodies.read(request, bodies.MasterArmBody)
    return await actions.master_arm(console, who, body.enabled, body.operator_id)


# --- emergency actions ------------------------------------------------------------------


async def _flatten(request: Request, who: Principal, console: Console) -> dict[str, Any]:
    label = body_label(await bodies.raw_json(request))
    return await actions.emergency(console, who, "FLATTEN_ALL", "/positions/flatten", label)


@router.post("/api/console/flatten-all", **route(answers.Action, body=bodies.LabelBody))
async def flatten_all(
    request: Request, who: Principal = Depends(current_user), console: Console = Depends(get_console)
) -> dict[str, Any]:
    return await _flatten(request, who, console)


@router.post("/api/emergency/flatten", **route(answers.Action, body=bodies.LabelBody))
async def emergency_flatten(
    request: Request, who: Principal = Depends(current_user), console: Console = Depends(get_console)
) -> dict[str, Any]:
    return await _flatten(request, who, console)


@router.post("/api/console/cancel-all", **route(answers.Action, body=bodies.LabelBody))
async def cancel_all(
    request: Request, who: Principal = Depends(current_user), console: Console = Depends(get_console)
) -> dict[str, Any]:
    label = body_label(await bodies.raw_json(request))
    return await actions.emergency(console, who, "CANCEL_ALL", "/orders/cancel-all", label)


@router.post("/api/console/positions/{symbol}/close", **route(answers.Action, body=bodies.LabelBody))
async def close_position(
    symbol: str,
    request: Request,
    venue: str | None = Query(None, max_length=32, description="close it on this venue only (default: every venue)"),
    who: Principal = Depends(current_user),
    console: Console = Depends(get_console),
) -> dict[str, Any]:
    label = body_label(await bodies.raw_json(request))
    name = config_edit.normalise_symbol(symbol) if config_edit.SYMBOL_RE.match(symbol.upper()) else None
    if name is None:
        raise ConsoleError(422, "INVALID_REQUEST", "symbol must be a USDT perpetual such as BTCUSDT")
    path = f"/positions/{name}/close"
    return await actions.emergency(console, who, "CLOSE_POSITION", path, label, venue=venue)


@router.get("/api/console/kill-switch", **route(answers.KillSwitchState))
async def kill_switch_state(console: Console = Depends(get_console)) -> dict[str, Any]:
    await console.state.refresh_flags()
    flag = console.state.kill_switch
    return {"engaged": bool(flag.get("engaged")), **{k: v for k, v in flag.items() if k != "engaged"}}


@router.post(
    "/api/console/kill-switch",
    **route(None, body=bodies.KillSwitchBody),
    response_model=None,
    responses={200: {"model": answers.Action}, 202: {"model": answers.Answer}},
)
async def kill_switch(
    request: Request, who: Principal = Depends(current_user), console: Console = Depends(get_console)
) -> dict[str, Any] | JSONResponse:
    """Two calls: without `confirmation_code` the console issues one (202); with it, the
    switch runs: flatten, cancel all, disarm, pause the scavenger, PAUSE/KILL_SWITCH."""
    body = await bodies.read(request, bodies.KillSwitchBody)
    if not body.confirmation_code:
        return JSONResponse(actions.issue_code(console, who), status_code=202)
    return await actions.engage_kill_switch(console, who, body.confirmation_code, body.reason or body.operator_id)


@router.post("/api/console/kill-switch/recover", **route(answers.Action, body=bodies.ReasonBody, level=Access.ADMIN))
async def kill_switch_recover(
    request: Request, who: Principal = Depends(current_user), console: Console = Depends(get_console)
) -> dict[str, Any]:
    body = await bodies.read(request, bodies.ReasonBody)
    return await actions.recover_kill_switch(console, who, body.reason)


@router.post(
    "/api/console/protection-failed/clear", **route(answers.Action, body=bodies.ReasonBody, level=Access.ADMIN)
)
async def protection_failed_clear(
    request: Request, who: Principal = Depends(current_user), console: Console = Depends(get_console)
) -> dict[str, Any]:
    """After a review (admin): execution clears PROTECTION_FAILED and checks every stop again."""
    body = await bodies.read(request, bodies.ReasonBody)
    return await actions.clear_protection_failed(console, who, body.reason)


@router.post("/api/circuit-breaker/reset", **route(answers.Action, body=bodies.ReasonBody))
async def breaker_reset(
    request: Request, who: Principal = Depends(current_user), console: Console = Depends(get_console)
) -> dict[str, Any]:
    body = await bodies.read(request, bodies.ReasonBody)
    return await actions.reset_breaker(console, who, body.reason)


# --- positions and reconciliation (execution is the owner; the console forwards) -------


@router.get("/positions", **route(answers.Passthrough))
async def positions(console: Console = Depends(get_console)) -> Any:
    return await reads.positions(console)


@router.get("/api/state/positions", **route(answers.Passthrough))
async def state_positions(console: Console = Depends(get_console)) -> Any:
    return await reads.positions(console)


@router.get("/api/console/orders", **route(answers.Passthrough))
async def open_orders(console: Console = Depends(get_console), limit: int = Query(100, ge=1, le=1000)) -> Any:
    return await reads.orders(console, limit)


@router.post("/api/state/reconcile", **route(answers.Passthrough, body=bodies.LabelBody))
async def reconcile(
    request: Request, who: Principal = Depends(current_user), console: Console = Depends(get_console)
) -> Any:
    label = body_label(await bodies.raw_json(request))
    body = await console.upstream.json("execution", "POST", "/api/state/reconcile", operator_id=who.username)
    await console.record("RECONCILE", who.username, {"label": label}, {"status": body.get("status")}, True)
    return body


@router.get("/api/state/reconciliation-status", **route(answers.Passthrough))
async def reconciliation_status(console: Console = Depends(get_console)) -> Any:
    return await console.upstream.json("execution", "GET", "/api/state/reconciliation-status")


# --- lists ------------------------------------------------------------------------------


@router.get("/api/console/trades", **route(answers.Listing))
async def trades(console: Console = Depends(get_console), limit: int = Query(50, ge=1, le=1000)) -> dict[str, Any]:
    return await reads.trades(console, limit)


@router.get("/api/console/signals", **route(answers.Listing))
async def signals(
    console: Console = Depends(get_console),
    limit: int = Query(50, ge=1, le=1000),
    status: str | None = Query(None, max_length=16),
) -> dict[str, Any]:
    return await reads.signals(console, limit, status)


@router.get("/api/proposals/pending", **route(answers.Listing))
async def proposals_pending(console: Console = Depends(get_console)) -> dict[str, Any]:
    return await reads.proposals_pending(console)


@router.post("/api/proposals/{proposal_id}/approve", **route(answers.ConfigAnswer, body=bodies.LabelBody))
async def approve_proposal(
    proposal_id: int = row_id_path("the proposal's id"),
    who: Principal = Depends(current_user),
    console: Console = Depends(get_console),
) -> dict[str, Any]:
    return await proposals.approve(console, who, proposal_id)


@router.post("/api/proposals/{proposal_id}/reject", **route(answers.Action, body=bodies.ReasonBody))
async def reject_proposal(
    request: Request,
    proposal_id: int = row_id_path("the proposal's id"),
    who: Principal = Depends(current_user),
    console: Console = Depends(get_console),
) -> dict[str, Any]:
    body = await bodies.read(request, bodies.ReasonBody)
    return await proposals.reject(console, who, proposal_id, body.reason)


@router.get("/api/console/equity", **route(answers.Answer))
async def equity_curve(
    console: Console = Depends(get_console), hours: float = Query(24.0, gt=0, le=24 * 30)
) -> dict[str, Any]:
    return await reads.equity_curve(console, hours)


@router.get("/api/console/traps", **route(answers.Passthrough))
async def traps(console: Console = Depends(get_console)) -> Any:
    """Every venue's trap map (one scavenger per venue), each trap naming its venue."""
    return await reads.traps(console)


@router.get("/api/console/alerts", **route(answers.Listing))
async def alerts(console: Console = Depends(get_console)) -> dict[str, Any]:
    items = await reads.alerts(console)
    return {"count": len(items), "alerts": items}


@router.post("/api/console/alerts/{alert_id}/ack", **route(answers.Action))
async def ack_alert(
    alert_id: int = row_id_path("the alert's id"),
    who: Principal = Depends(current_user),
    console: Console = Depends(get_console),
) -> dict[str, Any]:
    return await reads.acknowledge_alert(console, alert_id, who.username)
