"""Each venue's entries are gated on its own processes' heartbeats (no I/O)."""

from __future__ import annotations

from titan_brain.core.venue_gate import venue_modes
from titan_common.system_state import Mode, SystemState

NOW = 1_800_000_000_000
OWN = SystemState(mode=Mode.NORMAL, since_ms=NOW)


def beat(mode: str, *reasons: str) -> dict[str, object]:
    return {"mode": mode, "reasons": list(reasons), "since_ms": NOW - 1000}


def test_one_venues_scavenger_paused_stops_that_venue_alone() -> None:
    modes = venue_modes(
        OWN,
        [beat("NORMAL")],  # the console
        {"bybit": [beat("NORMAL"), beat("NORMAL")], "mexc": [beat("NORMAL"), beat("PAUSE", "WS_DOWN")]},
        NOW,
    )
    assert modes == {"bybit": Mode.NORMAL, "mexc": Mode.PAUSE}


def test_a_venue_whose_execution_is_silent_is_paused_and_the_other_trades() -> None:
    modes = venue_modes(OWN, [], {"bybit": [beat("NORMAL")], "mexc": [None]}, NOW)
    assert modes == {"bybit": Mode.NORMAL, "mexc": Mode.PAUSE}  # no beat: SERVICE_DOWN


def test_a_shared_service_or_the_brain_itself_gates_every_venue() -> None:
    venues = {"bybit": [beat("NORMAL")], "mexc": [beat("NORMAL")]}
    assert venue_modes(OWN, [beat("DEGRADE", "API_LAG")], venues, NOW) == {"bybit": Mode.DEGRADE, "mexc": Mode.DEGRADE}
    degraded = SystemState(mode=Mode.DEGRADE, since_ms=NOW)
    assert venue_modes(degraded, [], venues, NOW) == {"bybit": Mode.DEGRADE, "mexc": Mode.DEGRADE}
