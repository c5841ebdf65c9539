"""The brain's background loops and I/O wiring."""

from __future__ import annotations

from titan_common.service import ServiceRuntime


async def setup(runtime: ServiceRuntime) -> None:
    """Register the brain's loops on the runtime (called once, before start)."""
