"""Waiting in the integration tests for something another process does."""

from __future__ import annotations

import asyncio
import time
from typing import Any


async def until(predicate: Any, timeout: float = 20.0, what: str = "condition", interval: float = 0.1) -> Any:
    """Poll a (sync or async) predicate until it returns something truthy, and return that."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"{what} not met within {timeout}s (last: {last!r})")
