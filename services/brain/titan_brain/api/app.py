"""The brain's FastAPI app."""

from __future__ import annotations

from fastapi import FastAPI

from titan_brain import runtime
from titan_brain.api.routes import router
from titan_brain.settings import BrainSettings
from titan_common.service import create_service_app


def create_app(settings: BrainSettings) -> FastAPI:
    return create_service_app("brain", settings, routers=[router], setup=runtime.setup)
