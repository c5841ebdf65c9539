"""`titan backtest` and `titan data`: thin commands over titan_backtest (tools/backtest),
imported only when one of them runs: the shared library does not depend on it."""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path
from types import ModuleType
from typing import Annotated

import typer
from rich.console import Console

console = Console(stderr=True)
data_app = typer.Typer(help="Recorded market data for replay and backtests.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command(name="backtest")(backtest)
    app.add_typer(data_app, name="data")


def _lab() -> ModuleType:
    try:
        return importlib.import_module("titan_backtest.cli")
    except ImportError as exc:
        console.print(f"[red]FAIL titan_backtest is not installed ({exc}); run make install[/red]")
        raise typer.Exit(2) from None


def backtest(
    sample: Annotated[bool, typer.Option("--sample", help="the replay sample under data/sample/")] = False,
    data: Annotated[Path | None, typer.Option(help="a klines CSV (.csv or .csv.gz), or a folder of them")] = None,
    start: Annotated[str | None, typer.Option("--from", help="first day (YYYY-MM-DD) or UTC ms")] = None,
    end: Annotated[str | None, typer.Option("--to", help="end, exclusive (YYYY-MM-DD) or UTC ms")] = None,
    config: Annotated[str | None, typer.Option(help="default, a config JSON file, or a saved version's tag")] = None,
    venue: Annotated[str, typer.Option(help="the venue the signals name")] = "bybit",
    report: Annotated[Path | None, typer.Option(help="also write an HTML report here")] = None,
) -> None:
    """Replay recorded klines through the live cores (traps, evaluate, sizing, breaker,
    filters) and print the result as JSON: the same input gives the same output."""
    lab = _lab()
    try:
        inputs = lab.gather_inputs(
            sample=sample, data=data, start=start, end=end, config=config,
            database_url=os.environ.get("DATABASE_URL") or os.environ.get("TITAN_DATABASE_URL"),
        )  # fmt: skip
    except lab.BacktestInputError as exc:
        console.print(f"[red]FAIL {exc}[/red]")
        raise typer.Exit(2) from None
    result = lab.run_backtest(inputs, venue=venue, report=report)
    print(json.dumps(result, indent=1))
    if report is not None:
        console.print(f"report written to {report}")


@data_app.command("sample")
def data_sample(
    out: Annotated[Path | None, typer.Option(help="where to write it (default data/sample/)")] = None,
    days: Annotated[int, typer.Option(min=1, max=60)] = 4,
    seed: Annotated[int, typer.Option()] = 42,
) -> None:
    """Make the replay sample from the seeded simulator: klines.csv.gz and instruments.json."""
    lab = _lab()
    made = lab.make_sample(out or lab.SAMPLE_DIR, days=days, seed=seed)
    print(json.dumps(made))
