"""`titan capacity update|plan|review`: a day's capacity reading kept in
<var>/status/capacity.json, and the projection of when each figure crosses its limit.
The runbook's update-capacity-metrics, update-capacity-plan and capacity-planning-review."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from titan_common.clock import now_ms, utc_day
from titan_common.settings import CommonSettings, load_settings
from titan_ops.capacity import project
from titan_ops.checklist import Readings
from titan_ops.cli.checklist import read_machine, read_stores

console = Console(soft_wrap=True)  # one line per result, whatever the width
capacity_app = typer.Typer(help="Capacity: daily readings and the plan they project.", no_args_is_help=True)


def history_path(settings: CommonSettings) -> Path:
    return settings.var_dir / "status" / "capacity.json"


def load_history(path: Path) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


@capacity_app.command("update")
def capacity_update() -> None:
    """Record today's database size, Redis memory, disk and memory use (one reading a day,
    the latest kept). FAIL when Postgres or Redis cannot be read."""
    settings = load_settings(CommonSettings)
    readings = Readings()
    read_machine(settings, readings)
    read_stores(settings, readings)
    missing = [name for name, ok in (("Postgres", readings.postgres_ok), ("Redis", readings.redis_ok)) if not ok]
    if missing:
        console.print(f"FAIL cannot read {' and '.join(missing)}: no capacity reading recorded", markup=False)
        raise typer.Exit(1)
    path = history_path(settings)
    history = load_history(path)
    today = utc_day(now_ms())
    history[today] = {
        "db_bytes": readings.db_size_bytes,
        "db_connections": readings.db_connections,
        "redis_mb": readings.redis_memory_mb,
        "disk_used_pct": None if readings.disk_free_pct is None else round(100 - readings.disk_free_pct, 2),
        "memory_pct": readings.memory_pct,
        "load_1m": readings.load_1m,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dict(sorted(history.items())[-400:]), indent=1), encoding="utf-8")
    console.print(f"recorded {today}: {json.dumps(history[today])}", markup=False)
    console.print(f"OK {len(history)} day(s) of readings in {path}", markup=False)


def _plan(horizon_days: int) -> tuple[list[str], list[str]]:
    settings = load_settings(CommonSettings)
    history = load_history(history_path(settings))
    if not history:
        console.print(f"FAIL no capacity readings in {history_path(settings)}: run `titan capacity update` first",
                      markup=False)  # fmt: skip
        raise typer.Exit(1)
    lines = [p.line() for p in project(history)]
    soon = [p.figure for p in project(history) if p.days_left is not None and p.days_left <= horizon_days]
    return lines, soon


@capacity_app.command("plan")
def capacity_plan(
    horizon: Annotated[int, typer.Option(help="days ahead that need action now")] = 30,
    out: Annotated[Path | None, typer.Option(help="also write the plan here (markdown)")] = None,
) -> None:
    """Project each figure along its trend; FAIL when one reaches its limit within --horizon days."""
    lines, soon = _plan(horizon)
    for line in lines:
        console.print(line, markup=False)
    settings = load_settings(CommonSettings)
    target = out or settings.var_dir / "status" / "capacity-plan.md"
    target.parent.mkdir(parents=True, exist_ok=True)
    body = "\n".join(f"- {line}" for line in lines)
    target.write_text(f"# Capacity plan ({utc_day(now_ms())})\n\n{body}\n", encoding="utf-8")
    console.print(f"plan written to {target}", markup=False)
    if soon:
        console.print(f"FAIL within {horizon} days at the current trend: {', '.join(soon)}", markup=False)
        raise typer.Exit(1)
    console.print(f"OK nothing reaches its limit within {horizon} days", markup=False)


@capacity_app.command("review")
def capacity_review(horizon: Annotated[int, typer.Option(help="days ahead")] = 90) -> None:
    """The readings so far and the projection over a quarter (the monthly review)."""
    settings = load_settings(CommonSettings)
    for day, reading in sorted(load_history(history_path(settings)).items())[-31:]:
        console.print(f"{day}  {json.dumps(reading)}", markup=False)
    lines, soon = _plan(horizon)
    for line in lines:
        console.print(line, markup=False)
    if soon:
        console.print(f"FAIL within {horizon} days at the current trend: {', '.join(soon)}", markup=False)
        raise typer.Exit(1)
    console.print(f"OK nothing reaches its limit within {horizon} days", markup=False)
