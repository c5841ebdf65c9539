"""The simulator's FastAPI app."""

from __future__ import annotations

from fastapi import FastAPI

from titan_common.service import create_service_app
from titan_sim.settings import SimSettings


def create_app(settings: SimSettings) -> FastAPI:
    return create_service_app("simulator", settings, needs_db=False, needs_redis=False)
