"""Which venues may take new entries: each venue's mode, from the heartbeats that gate it. Pure.

Execution and the scavenger run one process per venue. A venue's entries are gated on the
brain's own state, the shared services' heartbeats (the console...) and that venue's own
processes only, so a venue that fails never stops another venue's entries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from titan_common.heartbeats import state_of_beat
from titan_common.system_state import Mode, SystemState, worst_of

Beat = Mapping[str, Any] | None


def venue_modes(
    own: SystemState,
    shared: Sequence[Beat],
    per_venue: Mapping[str, Sequence[Beat]],
    now_ms: int,
) -> dict[str, Mode]:
    """Each venue's mode: the worst of the brain's own state, every shared beat and the venue's
    own beats (a missing beat is SERVICE_DOWN, PAUSE)."""
    common = [own, *(state_of_beat(beat, now_ms) for beat in shared)]
    return {
        venue: worst_of(common + [state_of_beat(beat, now_ms) for beat in beats], now_ms).mode
        for venue, beats in per_venue.items()
    }
