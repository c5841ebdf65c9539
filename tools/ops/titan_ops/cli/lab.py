"""`titan backtest` and `titan data`: thin commands over titan_backtest (tools/backtest),
imported only when one of them runs: the shared library does not depend on it."""

from __future__ import annotations

import importlib
import json
import os
from enum import StrEnum
from pathlib import Path
from types import ModuleType
from typing import Annotated

import typer
from rich.console import Console

console = Console(stderr=True)
data_app = typer.Typer(help="Recorded market data for replay and backtests.", no_args_is_help=True)
quant_app = typer.Typer(help="AI Quant: config proposals backed by backtests.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command(name="backtest")(backtest)
    app.add_typer(data_app, name="data")
    app.add_typer(quant_app, name="quant")


def _database_url() -> str | None:
    return os.environ.get("DATABASE_URL") or os.environ.get("TITAN_DATABASE_URL")


def _lab() -> ModuleType:
    try:
        return importlib.import_module("titan_backtest.cli")
    except ImportError as exc:
        console.print(f"[red]FAIL titan_backtest is not installed ({exc}); run make install[/red]")
        raise typer.Exit(2) from None


def backtest(
    sample: Annotated[bool, typer.Option("--sample", help="the replay sample under data/sample/")] = False,
    data: Annotated[Path | None, typer.Option(help="a klines CSV (.csv or .csv.gz), or a folder of them")] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="first day (YYYY-MM-DD) or UTC ms; the 50 h before only warm up")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="end, exclusive (YYYY-MM-DD) or UTC ms")] = None,
    config: Annotated[str | None, typer.Option(help="default, a config JSON file, or a saved version's tag")] = None,
    venue: Annotated[str, typer.Option(help="the venue the signals name")] = "bybit",
    report: Annotated[Path | None, typer.Option(help="also write an HTML report here")] = None,
    decisions: Annotated[Path | None, typer.Option(help="also write each signal and its decision (JSON lines)")] = None,
) -> None:
    """Replay recorded klines through the live cores (traps, evaluate, sizing, breaker,
    filters) and print the result as JSON: the same input gives the same output."""
    lab = _lab()
    try:
        inputs = lab.gather_inputs(
            sample=sample, data=data, start=start, end=end, config=config,
            database_url=_database_url(),
        )  # fmt: skip
    except lab.BacktestInputError as exc:
        console.print(f"[red]FAIL {exc}[/red]")
        raise typer.Exit(2) from None
    result = lab.run_backtest(inputs, venue=venue, report=report, decisions=decisions)
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


class ExportSource(StrEnum):
    VENUE = "venue"
    SNAPSHOTS = "snapshots"


@data_app.command("export")
def data_export(
    out: Annotated[Path, typer.Option(help="the CSV to write (.csv or .csv.gz)")],
    symbols: Annotated[str, typer.Option(help="comma-separated (snapshots: empty for all)")] = "BTCUSDT,ETHUSDT",
    days: Annotated[float, typer.Option(min=0.01, max=60)] = 3.0,
    endpoint: Annotated[str | None, typer.Option(help="a Bybit v5 REST base (default: the simulator)")] = None,
    source: Annotated[
        ExportSource,
        typer.Option(help="venue: 1-minute klines over REST; snapshots: the scavenger's stored 15-minute bars"),
    ] = ExportSource.VENUE,
    venue: Annotated[str, typer.Option(help="snapshots: whose bars (the scanner's exchange)")] = "bybit",
) -> None:
    """Export recorded bars of the last --days in the replay format, for `titan backtest
    --data` and AI Quant: the closed 1-minute klines of the simulator's history (or another
    Bybit v5 endpoint), or the scavenger's stored 15-minute bars (ohlcv_snapshots)."""
    from titan_common.clock import now_ms
    from titan_common.settings import CommonSettings, load_settings

    lab = _lab()
    names = [s.strip().upper() for s in symbols.split(",") if s.strip()]
    if source is ExportSource.SNAPSHOTS:
        database_url = _database_url()
        if not database_url:
            console.print("[red]FAIL the snapshots are read from Postgres: set DATABASE_URL[/red]")
            raise typer.Exit(2)
        try:
            made = lab.export_snapshots(database_url, names, venue=venue, days=days, out=out, now_ms=now_ms())
        except (lab.BacktestInputError, OSError) as exc:
            console.print(f"[red]FAIL {exc}[/red]")
            raise typer.Exit(1) from None
        print(json.dumps(made))
        return
    base = endpoint or load_settings(CommonSettings).url_of("simulator")
    try:
        made = lab.export_klines(base, names, days=days, out=out, now_ms=now_ms())
    except (lab.BacktestInputError, OSError) as exc:
        console.print(f"[red]FAIL {exc}[/red]")
        raise typer.Exit(1) from None
    except Exception as exc:  # the endpoint did not answer, or answered something else
        console.print(f"[red]FAIL the klines could not be read from {base}: {type(exc).__name__}: {exc}[/red]")
        raise typer.Exit(1) from None
    print(json.dumps(made))


@quant_app.command("propose")
def quant_propose(
    sample: Annotated[bool, typer.Option("--sample", help="search over the replay sample")] = False,
    data: Annotated[Path | None, typer.Option(help="search over these recorded klines")] = None,
    days: Annotated[int | None, typer.Option(min=1, help="only the data's last N days")] = None,
    config: Annotated[str | None, typer.Option(help="the config to improve (default: the active one)")] = None,
) -> None:
    """Backtest bounded variants of the active config and file the ones that beat it on a
    held-out part of the period as PENDING proposals (never applied without an operator)."""
    lab = _lab()
    try:
        from titan_common.settings import CommonSettings, SystemMode, load_settings

        live = load_settings(CommonSettings).system_mode is SystemMode.LIVE
        result = lab.quant_propose(
            sample=sample, data=data, days=days, config=config, database_url=_database_url(), live=live
        )
    except lab.BacktestInputError as exc:
        console.print(f"[red]FAIL {exc}[/red]")
        raise typer.Exit(2) from None
    print(json.dumps(result, indent=1))


@quant_app.command("review")
def quant_review() -> None:
    """The pending proposals with their evidence (from the console), for an operator to
    approve (POST /api/proposals/{id}/approve) or reject (.../reject with a reason)."""
    import httpx
    from rich.table import Table

    from titan_common.settings import CommonSettings, load_settings

    out = Console()
    url = load_settings(CommonSettings).url_of("console") + "/api/proposals/pending"
    try:
        response = httpx.get(url, timeout=10)
        response.raise_for_status()
        proposals = response.json()["proposals"]
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        console.print(f"[red]FAIL the console's proposals are unreadable at {url}: {exc}[/red]")
        raise typer.Exit(1) from None
    if not proposals:
        out.print("No pending AI Quant proposals.")
        return
    for p in proposals:
        evidence = p.get("evidence") or {}
        stale = " [yellow](stale: its base config is no longer active)[/yellow]" if p.get("stale") else ""
        out.print(f"[bold]#{p['id']} {p['title']}[/bold]{stale}")
        for change in p.get("diff") or []:
            out.print(f"  {change['path']}: {change['before']} -> {change['after']}")
        table = Table("", "search return %", "search max DD %", "held-out return %", "held-out max DD %", "trades")
        for side in ("baseline", "candidate"):
            figures = evidence.get(side) or {}
            search, held = figures.get("search") or {}, figures.get("held_out") or {}
            trades = f"{search.get('trades', '-')} / {held.get('trades', '-')}"
            table.add_row(side, *(str(x.get(k, "-")) for x, k in (
                (search, "return_pct"), (search, "max_drawdown_pct"), (held, "return_pct"), (held, "max_drawdown_pct"),
            )), trades)  # fmt: skip
        out.print(table)
        out.print(f"  {p.get('rationale') or ''}")
        out.print(
            f"  approve: POST /api/proposals/{p['id']}/approve   reject: POST /api/proposals/{p['id']}/reject "
            '{"reason": "..."}'
        )
