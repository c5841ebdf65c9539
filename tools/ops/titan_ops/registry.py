"""The service registry: which processes make up Titan and where their code lives. The
supervisor (`titan up`), `titan preflight` and the deploy checks read it. Import strings,
so that loading the CLI does not import every service."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    package: str
    settings: str  # "module:Class"
    app_factory: str  # "module:function(settings) -> FastAPI"


SERVICES: dict[str, ServiceSpec] = {
    spec.name: spec
    for spec in (
        ServiceSpec("simulator", "titan_sim", "titan_sim.settings:SimSettings", "titan_sim.api.app:create_app"),
        ServiceSpec("brain", "titan_brain", "titan_brain.settings:BrainSettings", "titan_brain.api.app:create_app"),
        ServiceSpec(
            "execution",
            "titan_execution",
            "titan_execution.settings:ExecutionSettings",
            "titan_execution.api.app:create_app",
        ),
        ServiceSpec(
            "scavenger",
            "titan_scavenger",
            "titan_scavenger.settings:ScavengerSettings",
            "titan_scavenger.api.app:create_app",
        ),
        ServiceSpec(
            "console", "titan_console", "titan_console.settings:ConsoleSettings", "titan_console.api.app:create_app"
        ),
    )
}

# The simulator first (execution connects to it), the console last (it aggregates the rest).
START_ORDER: tuple[str, ...] = ("simulator", "brain", "execution", "scavenger", "console")


def import_string(path: str) -> Any:
    module_name, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module_name), attribute)
