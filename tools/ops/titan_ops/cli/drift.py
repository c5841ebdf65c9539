"""`titan config drift`: is what runs what was approved? Three comparisons, one line each:

1. the brain runs the active config version (a reload that did not arrive is drift);
2. the active config against the approved file (`--file`, or TITAN_APPROVED_CONFIG: a
   trading config JSON kept in the deployment's repository), field by field;
3. the deployed code against governance.lock (the locked files' hashes).

Exit 1 with one FAIL line naming every drift, or when the console cannot be read."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console

from titan_common.config import TradingConfig, config_diff
from titan_common.settings import CommonSettings, load_settings
from titan_ops.cli import governance

console = Console(soft_wrap=True)  # one line per result, whatever the width


def config_drift(
    file: Annotated[Path | None, typer.Option(help="the approved trading config (JSON)")] = None,
) -> None:
    """The running config against the active version, the approved file and the lock."""
    settings = load_settings(CommonSettings)
    approved_file = file or (
        Path(os.environ["TITAN_APPROVED_CONFIG"]) if os.environ.get("TITAN_APPROVED_CONFIG") else None
    )
    drift: list[str] = []
    try:
        active = httpx.get(settings.url_of("console") + "/api/console/config", timeout=10).raise_for_status().json()
    except (httpx.HTTPError, ValueError) as exc:
        console.print(f"FAIL the console's active config is unreadable: {type(exc).__name__}: {exc}", markup=False)
        raise typer.Exit(1) from None
    tag = str(active.get("version_tag"))
    console.print(f"active config   {tag} (by {active.get('changed_by')})", markup=False)

    try:
        health = httpx.get(settings.url_of("brain") + "/health", timeout=10).json()
        running = (health.get("checks", {}).get("brain") or {}).get("config_version")
    except (httpx.HTTPError, ValueError):
        running = None
    if running == tag:
        console.print(f"✓ the brain runs {running}", markup=False)
    else:
        drift.append(f"the brain runs {running or 'an unknown version'}, not {tag}")
        console.print(f"✗ the brain runs {running or 'an unknown version'}", markup=False)

    if approved_file is None:
        console.print("- no approved config file given (--file or TITAN_APPROVED_CONFIG): not compared", markup=False)
    else:
        try:
            approved = TradingConfig.model_validate_json(approved_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            console.print(f"FAIL {approved_file} is not a trading config: {str(exc).splitlines()[0]}", markup=False)
            raise typer.Exit(1) from None
        body: dict[str, Any] = {k: v for k, v in active.items() if k in TradingConfig.model_fields}
        changes = config_diff(
            approved.model_dump(mode="json", by_alias=True),
            TradingConfig.model_validate(body).model_dump(mode="json", by_alias=True),
        )
        if changes:
            drift.append(f"{len(changes)} field(s) differ from {approved_file.name}")
            console.print(f"✗ {len(changes)} field(s) differ from {approved_file}:", markup=False)
            for change in changes:
                console.print(f"    {change['path']}: approved {json.dumps(change['before'])}, "
                              f"active {json.dumps(change['after'])}", markup=False)  # fmt: skip
        else:
            console.print(f"✓ the active config matches {approved_file}", markup=False)

    try:
        lock = governance.check_lock(governance.repo_root())
        if lock.ok:
            console.print(f"✓ the {len(lock.locked)} locked files match governance.lock", markup=False)
        else:
            drift.append(f"{len(lock.problems)} locked file problem(s)")
            for problem in lock.problems:
                console.print(f"✗ {problem}", markup=False)
    except (OSError, ValueError) as exc:
        drift.append(f"governance.lock unreadable ({exc})")

    if drift:
        console.print("FAIL config drift: " + "; ".join(drift), markup=False)
        raise typer.Exit(1)
    console.print("OK no drift", markup=False)
