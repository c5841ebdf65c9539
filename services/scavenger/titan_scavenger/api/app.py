"""The scavenger's FastAPI app."""

from __future__ import annotations

from fastapi import FastAPI

from titan_common.service import create_service_app
from titan_scavenger import runtime
from titan_scavenger.api.routes import router
from titan_scavenger.settings import ScavengerSettings


def create_app(settings: ScavengerSettings) -> FastAPI:
    return create_service_app(settings.service_name, settings, routers=[router], setup=runtime.setup)
