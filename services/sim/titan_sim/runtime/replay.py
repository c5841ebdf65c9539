"""Replay mode's set-up: the settings' recording read into a `ReplayFeed` (blocking file I/O,
done once, before the venue serves anything)."""

from __future__ import annotations

from pathlib import Path

from titan_common.clock import utc_day_start_ms
from titan_common.replay import ReplayDataError, read_recording
from titan_sim.core.replay import DAY_MS, ReplayFeed, day_shift
from titan_sim.settings import SimSettings

# without sim_replay_from: enough history before the first played minute for a scavenger's
# 200 bars of 15 minutes
DEFAULT_HISTORY_MS = 50 * 3_600_000
# the automatic shift puts the first played minute at least this far ahead: time for the
# stack to start and build its first map before the replay's first minute comes round
LEAD_MS = 5 * 60_000


class ReplaySetupError(ValueError):
    """The replay cannot start: the message names the setting or the file at fault."""


def _moment(value: str | None, name: str) -> int | None:
    if value is None:
        return None
    try:
        return int(value) if value.isdigit() else utc_day_start_ms(value)
    except ValueError:
        raise ReplaySetupError(f"{name} takes a day (YYYY-MM-DD) or UTC ms, not {value!r}") from None


def load_feed(settings: SimSettings, now_ms: int) -> ReplayFeed:
    assert settings.sim_replay is not None
    path = Path(settings.sim_replay)
    try:
        recording = read_recording(path, end_ms=_moment(settings.sim_replay_to, "TITAN_SIM_REPLAY_TO"))
    except ReplayDataError as exc:
        raise ReplaySetupError(f"TITAN_SIM_REPLAY: {exc}") from None
    klines = recording.klines
    if not klines:
        raise ReplaySetupError(f"TITAN_SIM_REPLAY: {path} holds no klines before TITAN_SIM_REPLAY_TO")
    first, end = klines[0].start_ms, klines[-1].end_ms
    start = _moment(settings.sim_replay_from, "TITAN_SIM_REPLAY_FROM")
    if start is None:
        start = first + DEFAULT_HISTORY_MS if end - first > DEFAULT_HISTORY_MS + 3_600_000 else first
    if not first <= start < end:
        raise ReplaySetupError(f"TITAN_SIM_REPLAY_FROM {start} lies outside the recording [{first}, {end})")
    days = settings.sim_replay_shift_days
    shift = day_shift(start, now_ms + LEAD_MS) if days is None else days * DAY_MS
    return ReplayFeed.of(klines, start, shift, trades=recording.trades)
