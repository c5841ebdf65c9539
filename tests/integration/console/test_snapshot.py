"""The console answers its reads from a snapshot (issue 17): every service's /health is asked
by one background loop, never per request, and every answer says how old that is. What the
console knows first-hand (master arm after its own action, the kill switch, its own mode) is
never older than the request."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.console.conftest import auth_of
from tests.integration.console.stack import Stack

pytestmark = pytest.mark.integration


def test_every_read_says_how_old_its_snapshot_is(clean_state: Stack) -> None:
    operator = auth_of("operator-1")
    with httpx.Client(base_url=clean_state.console, timeout=30) as client:
        for path, auth in (("/health", None), ("/api/status", operator), ("/api/console/system-status", operator)):
            body = client.get(path, auth=auth).json()
            assert isinstance(body["as_of_ms"], int), path
            assert 0 <= body["age_ms"] <= 5_000, (path, body["age_ms"])  # the loop asks every second


def test_master_arm_is_never_stale_after_the_operators_own_action(clean_state: Stack) -> None:
    """Arm, then read /api/status at once, 100 times (disarm in between): never the old value."""
    with httpx.Client(base_url=clean_state.console, timeout=30, auth=auth_of("operator-1")) as client:
        for round_no in range(100):
            enabled = round_no % 2 == 0
            changed = client.post("/api/console/master-arm", json={"enabled": enabled})
            assert changed.status_code == 200, changed.text
            status = client.get("/api/status").json()
            assert status["masterArm"] is enabled, (round_no, status)
