"""The breadth scanner's scheduled trigger: ask the scavenger to run this slot's cycle.

The scavenger owns the cycle (OHLCV snapshot, breadth statistics, the execution_logs row);
its cycle id is the 15-minute slot, so a retried or duplicated trigger is a logged no-op
there ("IDEMPOTENCY: ALREADY RAN"), which is what makes retrying here safe.
"""

from __future__ import annotations

from typing import Any

from titan_common.internal import InternalClient, ServiceUnavailable
from titan_common.settings import CommonSettings

SCANNER_PATH = "/scanner/run"


class ScannerRefused(Exception):
    """The scavenger answered, but not with success; the message carries its status and body."""


class ScannerCycleFailed(Exception):
    """The scavenger could not record the cycle (its database): the slot is still free, retry."""


async def trigger_scanner(settings: CommonSettings, *, operator_id: str, timeout_s: float = 120.0) -> dict[str, Any]:
    """POST /scanner/run on every venue's scavenger as `operator_id`; returns the first venue's
    JSON answer, with each other venue's under `venues`.

    Every scavenger is asked even when one fails; then the first failure is raised:
    ServiceUnavailable when a scavenger does not answer, ScannerRefused on a 4xx/5xx,
    ScannerCycleFailed when a cycle could not be recorded (the two worth retrying; a retry
    is a no-op on the scavengers whose slot already ran)."""
    client = InternalClient(settings, timeout_s=timeout_s)
    answers: dict[str, dict[str, Any]] = {}
    failures: list[Exception] = []
    try:
        for venue, service in settings.scavenger_services.items():
            try:
                answers[venue] = await _trigger(client, service, operator_id)
            except (ServiceUnavailable, ScannerRefused, ScannerCycleFailed) as exc:
                failures.append(exc)
    finally:
        await client.close()
    if failures:
        raise failures[0]
    first, *others = settings.venues
    return {**answers[first], "venues": {venue: answers[venue] for venue in others}}


async def _trigger(client: InternalClient, service: str, operator_id: str) -> dict[str, Any]:
    response = await client.request(service, "POST", SCANNER_PATH, operator_id=operator_id)
    if response.status_code >= 400:
        raise ScannerRefused(f"{service} answered {response.status_code} to POST {SCANNER_PATH}: {response.text[:300]}")
    try:
        body = response.json()
    except ValueError:
        body = {"raw": response.text[:300]}
    if isinstance(body, dict) and body.get("status") == "FAILED":
        raise ScannerCycleFailed(f"cycle {body.get('cycle_id')} failed: {body.get('reason')}")
    return {"status": response.status_code, "body": body}


__all__ = ["SCANNER_PATH", "ScannerCycleFailed", "ScannerRefused", "ServiceUnavailable", "trigger_scanner"]
