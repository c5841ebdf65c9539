"""Clock drift against the exchange: CLOCK_DRIFT (DEGRADE in PAPER) while the venue's clock
is 3 s ahead, and NORMAL again once it is back."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.execution.conftest import Sim, running_execution

pytestmark = pytest.mark.integration


def wait_for_health_body(url: str, predicate: Callable[[dict[str, Any]], bool], timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = httpx.get(f"{url}/health", timeout=5).json()
        if predicate(body):
            return body
        time.sleep(0.2)
    raise AssertionError(f"health never matched: {body}")


async def test_clock_drift_degrades_then_recovers(
    clean_sim: Sim, database_url: str, redis_url: str, tmp_path: Path
) -> None:
    async with running_execution(
        clean_sim, database_url, redis_url, tmp_path, redis_db_index=14, TITAN_CLOCK_CHECK_S="0.3"
    ) as execution:
        clean_sim.control("POST", "/faults", {"clock_skew_ms": 3000})
        drifted = wait_for_health_body(execution.url, lambda b: "CLOCK_DRIFT" in b["reasons"])
        assert drifted["mode"] == "DEGRADE"  # PAPER; LIVE would PAUSE
        clean_sim.control("DELETE", "/faults")
        recovered = wait_for_health_body(execution.url, lambda b: b["mode"] == "NORMAL")
        assert recovered["reasons"] == []
