"""Request bodies, read leniently: curl lines in the runbooks send JSON with or without a
Content-Type, and some send no body at all."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ConfigDict, ValidationError

from titan_console.errors import ConsoleError

M = TypeVar("M", bound=BaseModel)


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class MasterArmBody(Body):
    enabled: bool
    operator_id: str | None = None


class LabelBody(Body):
    operator_id: str | None = None


class KillSwitchBody(Body):
    confirmation_code: str | None = None
    reason: str | None = None
    operator_id: str | None = None


class ReasonBody(Body):
    reason: str
    operator_id: str | None = None


class WhitelistBody(Body):
    action: str
    symbol: str


class PhaseRiskBody(Body):
    phase: int
    risk_pct: Any


class RollbackBody(Body):
    version_tag: str


class LoginBody(Body):
    username: str
    password: str


async def raw_json(request: Request) -> dict[str, Any]:
    data = await request.body()
    if not data.strip():
        return {}
    try:
        parsed = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise ConsoleError(422, "INVALID_REQUEST", "the body must be a JSON object") from None
    if not isinstance(parsed, dict):
        raise ConsoleError(422, "INVALID_REQUEST", "the body must be a JSON object")
    return parsed


def parse(model: type[M], data: dict[str, Any]) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        details = [
            {"field": ".".join(str(p) for p in err.get("loc", ())) or "body", "problem": err.get("msg")}
            for err in exc.errors()
        ]
        fields = ", ".join(d["field"] for d in details)
        raise ConsoleError(422, "INVALID_REQUEST", f"invalid request: {fields}", details=details) from None


async def read(request: Request, model: type[M]) -> M:
    return parse(model, await raw_json(request))
