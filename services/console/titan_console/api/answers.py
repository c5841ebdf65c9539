"""What every console route answers, for its OpenAPI (client generators and the fuzzer).

The models name the fields an operator relies on and allow the rest: many answers carry
another service's body through unchanged, and that service's own OpenAPI describes it.
Fields a route did not set are left out (`exclude_unset`), so an answer never grows a null
the runbooks do not show. `route(...)` gives a decorator its response model, its request
body's schema (bodies are read leniently, so FastAPI cannot see them) and its access level.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from titan_console.api.deps import access
from titan_console.core.access import Access


class Answer(BaseModel):
    model_config = ConfigDict(extra="allow")


class Passthrough(Answer):
    """Another service's answer, forwarded as it is."""


class Listing(Answer):
    count: int | None = None


class Action(Answer):
    """An operator action's result; its audit row names `operator_id`."""

    success: bool | None = None
    operator_id: str | None = None
    message: str | None = None


class MasterArmState(Answer):
    master_arm: bool
    enabled: bool
    status: str
    kill_switch: bool


class MasterArmChange(Answer):
    master_arm: bool
    status: str
    previous_state: bool | None = None
    operator_id: str


class KillSwitchState(Answer):
    engaged: bool


class Who(Answer):
    user: str
    role: str


class Status(Answer):
    masterArm: bool
    bybitConnected: bool
    mexcConnected: bool | None = None  # when MEXC runs (TITAN_VENUES)
    mode: str
    as_of_ms: int  # when the services were last asked (the console's own parts are now)
    age_ms: int


class ConfigAnswer(Answer):
    """The trading config and its version."""


def route(
    answer: type[BaseModel] | None, *, body: type[BaseModel] | None = None, level: Access | None = None
) -> dict[str, Any]:
    """Keyword arguments for `@router.get/post(path, **route(...))`."""
    extra: dict[str, Any] = access(level) if level is not None else {}
    if body is not None:
        extra["requestBody"] = {
            "required": False,
            "content": {"application/json": {"schema": body.model_json_schema()}},
        }
    kwargs: dict[str, Any] = {"openapi_extra": extra or None}
    if answer is not None:
        kwargs.update(response_model=answer, response_model_exclude_unset=True)
    return kwargs
