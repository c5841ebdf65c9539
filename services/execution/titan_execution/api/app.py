"""The execution's FastAPI app."""

from __future__ import annotations

from fastapi import FastAPI

from titan_common.service import create_service_app
from titan_execution import runtime
from titan_execution.api.routes import router
from titan_execution.settings import ExecutionSettings


def create_app(settings: ExecutionSettings) -> FastAPI:
    return create_service_app(settings.service_name, settings, routers=[router], setup=runtime.setup)
