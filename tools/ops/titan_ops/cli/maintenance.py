"""`titan maintenance show|add|weekend`: the maintenance schedule, kept in a file
(TITAN_MAINTENANCE_FILE, default <var>/maintenance.json: a list of windows, each
{"start", "end", "what", "owner"} with UTC ISO times). The runbook's
check-maintenance-schedule (Monday) and plan-weekend-maintenance (Friday)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from titan_common.settings import CommonSettings, load_settings

console = Console(soft_wrap=True)  # one line per result, whatever the width
maintenance_app = typer.Typer(help="The maintenance schedule.", no_args_is_help=True)
# what the runbook's procedures ask around a window: trading stopped cleanly, a backup, checks after
WINDOW_STEPS = (
    "before: titan checklist postmarket; ./scripts/check-backup-status.sh (a fresh verified backup)",
    'before: disarm (POST /api/console/master-arm {"enabled": false}) and confirm no open positions',
    "after: titan doctor; titan checklist premarket; arm only when every box holds",
)


class ScheduleError(ValueError):
    """The schedule file cannot be read; the message names the file and the entry."""


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    what: str
    owner: str

    def line(self) -> str:
        hours = (self.end - self.start).total_seconds() / 3600
        return f"{self.start:%a %Y-%m-%d %H:%M} -> {self.end:%a %H:%M} UTC ({hours:.1f} h) {self.what} [{self.owner}]"


def _instant(text: Any, where: str) -> datetime:
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        raise ScheduleError(f"{where}: {text!r} is not an ISO time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def schedule_path(settings: CommonSettings) -> Path:
    configured = os.environ.get("TITAN_MAINTENANCE_FILE")
    return Path(configured) if configured else settings.var_dir / "maintenance.json"


def read_schedule(path: Path) -> list[Window]:
    """The windows, by start; an absent file is an empty schedule."""
    if not path.exists():
        return []
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ScheduleError(f"{path}: not JSON ({exc})") from None
    if not isinstance(raw, list):
        raise ScheduleError(f"{path}: a list of windows is expected")
    windows = []
    for index, item in enumerate(raw):
        where = f"{path} entry {index}"
        if not isinstance(item, dict):
            raise ScheduleError(f"{where}: a window is an object")
        start, end = _instant(item.get("start"), where), _instant(item.get("end"), where)
        if end <= start:
            raise ScheduleError(f"{where}: it ends before it starts")
        windows.append(Window(start, end, str(item.get("what") or "maintenance"), str(item.get("owner") or "-")))
    return sorted(windows, key=lambda w: w.start)


def _load() -> tuple[Path, list[Window]]:
    path = schedule_path(load_settings(CommonSettings))
    try:
        return path, read_schedule(path)
    except ScheduleError as exc:
        console.print(f"FAIL {exc}", markup=False)
        raise typer.Exit(1) from None


@maintenance_app.command("show")
def maintenance_show(days: Annotated[int, typer.Option(help="how far ahead")] = 7) -> None:
    """Windows in progress and in the next --days; FAIL if the schedule cannot be read."""
    path, windows = _load()
    now = datetime.now(tz=UTC)
    ahead = [w for w in windows if w.end > now and w.start < now + timedelta(days=days)]
    console.print(f"schedule {path}: {len(windows)} window(s)", markup=False)
    for w in ahead:
        state = "IN PROGRESS" if w.start <= now else f"in {(w.start - now).total_seconds() / 3600:.0f} h"
        console.print(f"  {state:<12} {w.line()}", markup=False)
    if not ahead:
        console.print(f"  nothing scheduled in the next {days} days", markup=False)
    console.print("OK", markup=False)


@maintenance_app.command("add")
def maintenance_add(
    start: Annotated[str, typer.Option(help="UTC ISO time")],
    end: Annotated[str, typer.Option(help="UTC ISO time")],
    what: Annotated[str, typer.Option(help="what will be done")],
    owner: Annotated[str, typer.Option(help="who does it")] = "-",
) -> None:
    """Add a window to the schedule."""
    path, windows = _load()
    try:
        window = Window(_instant(start, "--start"), _instant(end, "--end"), what, owner)
    except ScheduleError as exc:
        console.print(f"FAIL {exc}", markup=False)
        raise typer.Exit(2) from None
    if window.end <= window.start:
        console.print("FAIL --end must come after --start", markup=False)
        raise typer.Exit(2)
    rows = [{"start": w.start.isoformat(), "end": w.end.isoformat(), "what": w.what, "owner": w.owner}
            for w in sorted([*windows, window], key=lambda w: w.start)]  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    console.print(f"added: {window.line()}", markup=False)


@maintenance_app.command("weekend")
def maintenance_weekend() -> None:
    """The coming weekend's windows (Friday 20:00 to Monday 06:00 UTC) and the steps around each."""
    _path, windows = _load()
    now = datetime.now(tz=UTC)
    friday = (now + timedelta(days=(4 - now.weekday()) % 7)).replace(hour=20, minute=0, second=0, microsecond=0)
    if friday + timedelta(days=2, hours=10) < now:
        friday += timedelta(days=7)
    monday = friday + timedelta(days=2, hours=10)
    weekend = [w for w in windows if w.start < monday and w.end > friday]
    console.print(f"weekend {friday:%a %Y-%m-%d %H:%M} -> {monday:%a %Y-%m-%d %H:%M} UTC", markup=False)
    if not weekend:
        console.print("  no maintenance planned: nothing to prepare", markup=False)
    for w in weekend:
        console.print(f"  {w.line()}", markup=False)
        for step in WINDOW_STEPS:
            console.print(f"    - {step}", markup=False)
    console.print("OK", markup=False)
