"""The trading config: read, edit (risk, phase risk, whitelist), versions and rollback."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from titan_common.config import RiskTuner, TradingConfig
from titan_common.db.models import ConfigVersion
from titan_console.api import answers, bodies
from titan_console.api.answers import route
from titan_console.api.deps import authorize, current_user, get_console
from titan_console.core import config_edit
from titan_console.runtime import config_store
from titan_console.runtime.authenticator import Principal
from titan_console.runtime.context import Console

router = APIRouter(dependencies=[Depends(authorize)])


@router.get("/api/console/config", **route(answers.ConfigAnswer))
async def get_config(console: Console = Depends(get_console)) -> dict[str, Any]:
    return await config_store.current(console)


@router.post("/api/console/config/risk", **route(answers.ConfigAnswer, body=RiskTuner))
async def post_risk(
    request: Request, who: Principal = Depends(current_user), console: Console = Depends(get_console)
) -> dict[str, Any]:
    changes = await bodies.raw_json(request)
    changes.pop("operator_id", None)

    def edit(config: TradingConfig, _history: list[ConfigVersion]) -> tuple[TradingConfig, str | None]:
        return config_edit.apply_risk(config, changes), None

    return await config_store.change(console, who, action="CONFIG_RISK", request=changes, edit=edit)


@router.post("/api/console/config/phase-risk", **route(answers.ConfigAnswer, body=bodies.PhaseRiskBody))
async def post_phase_risk(
    request: Request, who: Principal = Depends(current_user), console: Console = Depends(get_console)
) -> dict[str, Any]:
    body = await bodies.read(request, bodies.PhaseRiskBody)

    def edit(config: TradingConfig, _history: list[ConfigVersion]) -> tuple[TradingConfig, str | None]:
        return config_edit.apply_phase_risk(config, body.phase, body.risk_pct), None

    request_record = {"phase": body.phase, "risk_pct": str(body.risk_pct)}
    return await config_store.change(console, who, action="CONFIG_PHASE_RISK", request=request_record, edit=edit)


@router.post("/api/console/config/whitelist", **route(answers.ConfigAnswer, body=bodies.WhitelistBody))
async def post_whitelist(
    request: Request, who: Principal = Depends(current_user), console: Console = Depends(get_console)
) -> dict[str, Any]:
    body = await bodies.read(request, bodies.WhitelistBody)

    def edit(config: TradingConfig, _history: list[ConfigVersion]) -> tuple[TradingConfig, str | None]:
        return config_edit.apply_whitelist(config, body.action, body.symbol), None

    return await config_store.change(console, who, action="CONFIG_WHITELIST", request=body.model_dump(), edit=edit)


@router.get("/api/config/versions", **route(answers.Listing))
async def get_versions(console: Console = Depends(get_console), limit: int = Query(50, ge=1, le=500)) -> dict[str, Any]:
    return await config_store.versions(console, limit)


@router.post("/api/config/rollback", **route(answers.ConfigAnswer, body=bodies.RollbackBody))
async def post_rollback(
    request: Request, who: Principal = Depends(current_user), console: Console = Depends(get_console)
) -> dict[str, Any]:
    body = await bodies.read(request, bodies.RollbackBody)
    return await config_store.change(
        console,
        who,
        action="CONFIG_ROLLBACK",
        request=body.model_dump(),
        edit=config_store.rollback_edit(body.version_tag),
        needs_history=True,
    )
