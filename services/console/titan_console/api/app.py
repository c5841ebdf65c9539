"""The console's FastAPI app."""

from __future__ import annotations

from fastapi import FastAPI

from titan_common.service import create_service_app
from titan_console import runtime
from titan_console.settings import ConsoleSettings


def create_app(settings: ConsoleSettings) -> FastAPI:
    return create_service_app("console", settings, setup=runtime.setup)
