"""Clock drift against the exchange: CLOCK_DRIFT (DEGRADE in PAPER) while the venue's clock
is 3 s ahead, and NORMAL again once it is back."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.integration.execution.conftest import Sim, execution_env
from tests.integration.execution.test_crash_recovery import redis_db
from tests.processes import free_ports, start_service, terminate, wait_for_health

pytestmark = pytest.mark.integration


def wait_for_reasons(url: str, predicate: object, timeout: float = 20) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    body: dict[str, object] = {}
    while time.monotonic() < deadline:
        body = httpx.get(f"{url}/health", timeout=5).json()
        if predicate(body):  # type: ignore[operator]
            return body
        time.sleep(0.2)
    raise AssertionError(f"health never matched: {body}")


def test_clock_drift_degrades_then_recovers(clean_sim: Sim, database_url: str, redis_url: str, tmp_path: Path) -> None:
    port = free_ports(["execution"])["execution"]
    env = execution_env(clean_sim, database_url, redis_db(redis_url, 14), tmp_path, port)
    env["TITAN_CLOCK_CHECK_S"] = "0.3"
    url = f"http://127.0.0.1:{port}"
    process = start_service("execution", env, tmp_path / "execution.out")
    try:
        wait_for_health(url, timeout=60)
        clean_sim.control("POST", "/faults", {"clock_skew_ms": 3000})
        drifted = wait_for_reasons(url, lambda b: "CLOCK_DRIFT" in b["reasons"])
        assert drifted["mode"] == "DEGRADE"  # PAPER; LIVE would PAUSE
        clean_sim.control("DELETE", "/faults")
        recovered = wait_for_reasons(url, lambda b: b["mode"] == "NORMAL")
        assert recovered["reasons"] == []
    finally:
        clean_sim.control("DELETE", "/faults")
        terminate(process)
