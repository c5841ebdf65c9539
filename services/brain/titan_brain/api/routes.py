"""The brain's HTTP routes: thin. Reads are open on loopback; mutations need an operator,
and an admin in LIVE for the resets (titan_common.auth.roles)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from titan_brain.runtime.brain import Brain
from titan_brain.runtime.breaker import BreakerNotRecorded
from titan_common.audit import WriterState
from titan_common.auth.http import Operator, require_role
from titan_common.auth.roles import Role
from titan_common.reasons import ReasonCode
from titan_common.service import ServiceRuntime, get_runtime

router = APIRouter()
# lifting a safety block raises risk: admin in LIVE, the console's rule for the same action
risk_raiser = require_role(Role.OPERATOR, raises_risk=True)


def _brain(runtime: ServiceRuntime) -> Brain:
    brain = runtime.components.get("brain")
    if not isinstance(brain, Brain) or not brain.ready.is_set() or brain.state is None:
        raise HTTPException(503, ReasonCode.STARTUP_RECOVER.value)
    return brain


def _audit_must_accept(runtime: ServiceRuntime) -> None:
    # no audit row, no action: a reset lifts a safety block, so it waits for the audit trail
    if runtime.audit is not None and runtime.audit.state is WriterState.FULL:
        raise HTTPException(503, ReasonCode.DB_WRITER_QUEUE_FULL.value)


class ResetRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, Field(min_length=1, max_length=500)]
    # a label only: the audit trail records the authenticated operator
    operator_id: Annotated[str | None, Field(max_length=64)] = None


@router.get("/dashboard")
async def get_dashboard(runtime: ServiceRuntime = Depends(get_runtime)) -> dict[str, Any]:
    return _brain(runtime).dashboard()


@router.get("/breaker")
async def get_breaker(runtime: ServiceRuntime = Depends(get_runtime)) -> dict[str, Any]:
    return await _brain(runtime).breaker_status()


@router.post("/breaker/reset")
async def reset_breaker(
    body: ResetRequest, runtime: ServiceRuntime = Depends(get_runtime), who: Operator = Depends(risk_raiser)
) -> dict[str, Any]:
    brain = _brain(runtime)
    _audit_must_accept(runtime)
    assert brain.breaker is not None
    try:
        result = await brain.breaker.reset(operator_id=who.operator_id, reason=body.reason, label=body.operator_id)
    except BreakerNotRecorded as exc:
        raise HTTPException(503, ReasonCode.DB_UNAVAILABLE.value) from exc
    status = await brain.breaker_status()
    return {
        "success": True,
        "was_active": result["was_active"],
        "operator_id": who.operator_id,
        "master_arm": result["master_arm"],
        "message": "breaker reset; master arm stays off until an operator arms it"
        if result["was_active"]
        else "breaker was not active",
        "breaker": status,
    }


@router.get("/phases/approval-rates")
async def approval_rates(
    runtime: ServiceRuntime = Depends(get_runtime),
    hours: float = Query(24.0, gt=0, le=24 * 90, description="window, in hours"),
) -> dict[str, Any]:
    return await _brain(runtime).approval_rates(hours)


@router.get("/decisions")
async def decisions(
    runtime: ServiceRuntime = Depends(get_runtime), limit: int = Query(50, ge=1, le=1000)
) -> dict[str, Any]:
    items = await _brain(runtime).decisions(limit)
    return {"count": len(items), "decisions": items}


class GateResetRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, Field(min_length=1, max_length=500)]


@router.post("/aigate/reset")
async def reset_aigate(
    body: GateResetRequest, runtime: ServiceRuntime = Depends(get_runtime), who: Operator = Depends(risk_raiser)
) -> dict[str, Any]:
    """Recover from an AI gate failure that paused the brain (LIVE, AI_DEC=2)."""
    brain = _brain(runtime)
    _audit_must_accept(runtime)
    return await brain.reset_aigate(who.operator_id, body.reason)
