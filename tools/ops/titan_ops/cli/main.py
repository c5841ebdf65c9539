"""`titan` CLI (typer). Each command is thin: it validates input and calls into the library."""

from __future__ import annotations

import asyncio
from decimal import Decimal, InvalidOperation
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.table import Table

from titan_common.settings import CommonSettings, load_settings
from titan_ops.cli import (
    capacity,
    checklist,
    docs,
    drift,
    lab,
    maintenance,
    ops,
    reviews,
    runbook,
    security,
    ssl_status,
)

app = typer.Typer(help="Titan: run, migrate, check and operate the stack.", no_args_is_help=True)
user_app = typer.Typer(help="Operator accounts.", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(runbook.positions_app, name="positions")
app.add_typer(runbook.reconcile_app, name="reconcile")
app.add_typer(runbook.perf_app, name="perf")
app.add_typer(runbook.status_app, name="status")
app.add_typer(runbook.keys_app, name="keys")
ops.register(app)  # doctor, preflight, governance, backup, report, nginx
lab.register(app)  # backtest, data, quant
app.command(name="checklist")(checklist.checklist)
ssl_app = typer.Typer(help="TLS: the certificate nginx serves.", no_args_is_help=True)
ssl_app.command(name="status")(ssl_status.ssl_status)
app.add_typer(ssl_app, name="ssl")
config_app = typer.Typer(help="The trading config as it runs.", no_args_is_help=True)
config_app.command(name="drift")(drift.config_drift)
app.add_typer(config_app, name="config")
app.add_typer(capacity.capacity_app, name="capacity")
app.add_typer(maintenance.maintenance_app, name="maintenance")
app.add_typer(reviews.review_app, name="review")
app.add_typer(docs.docs_app, name="docs")
app.add_typer(security.security_app, name="security")
app.add_typer(security.summary_app, name="summary")
console = Console()


def _settings() -> CommonSettings:
    return load_settings(CommonSettings)


def _setup_cli_logging(settings: CommonSettings, name: str) -> None:
    from titan_common.logging import setup_logging

    setup_logging(name, log_dir=settings.var_dir / "log", level=settings.log_level)


@app.command()
def up(
    services: Annotated[str, typer.Option(help="Comma-separated subset, e.g. brain,console (default: all)")] = "",
    live: Annotated[bool, typer.Option("--live", help="Required, with var/LIVE.ok, for SYSTEM_MODE=LIVE")] = False,
) -> None:
    """Start the whole stack (embedded Postgres/Redis when no URL is given). Ctrl-C stops it."""
    from titan_common.live import LiveRefused
    from titan_ops.cli.stores import open_stores
    from titan_ops.cli.up import run_up
    from titan_ops.registry import START_ORDER

    settings = _settings()
    chosen = [s.strip() for s in services.split(",") if s.strip()] or list(START_ORDER)
    unknown = sorted(set(chosen) - set(START_ORDER))
    if unknown:
        console.print(f"[red]unknown service(s): {', '.join(unknown)}[/red]; choose from {', '.join(START_ORDER)}")
        raise typer.Exit(2)
    _setup_cli_logging(settings, "supervisor")
    try:
        with open_stores(settings) as stores:
            raise typer.Exit(run_up(settings, stores, services=chosen, live=live))
    except LiveRefused as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None


@app.command()
def migrate() -> None:
    """Apply database migrations (safe to run twice)."""
    from titan_common.db import migrate as migrations
    from titan_ops.cli.stores import open_stores

    settings = _settings()
    with open_stores(settings, need_redis=False) as stores:
        before = migrations.current_revision(stores.database_url)
        migrations.upgrade(stores.database_url)
        after = migrations.current_revision(stores.database_url)
    console.print(f"database at revision {after} (was {before or 'empty'})")


@app.command()
def health(timeout: Annotated[float, typer.Option(help="Seconds per service")] = 3.0) -> None:
    """Show every service's /health. Exit 0 only when all are healthy."""
    from titan_ops.registry import START_ORDER

    settings = _settings()
    table = Table("service", "status", "mode", "reasons", "uptime", "url")
    all_ok = True
    bodies: dict[str, dict[str, object]] = {}
    with httpx.Client(timeout=timeout) as client:
        for name in START_ORDER:
            url = settings.url_of(name)
            try:
                body = client.get(f"{url}/health").json()
                bodies[name] = body
                status = str(body.get("status", "unknown"))
                mode = str(body.get("mode", ""))
                reasons = ",".join(body.get("reasons", [])) or "-"
                uptime = f"{float(body.get('uptime', 0)):.0f}s"
            except (httpx.HTTPError, ValueError) as exc:
                status, mode, reasons, uptime = "unhealthy", "", type(exc).__name__, "-"
            # the runbook's words: each service is healthy, degraded or unhealthy
            word = {"ok": "healthy", "healthy": "healthy", "degraded": "degraded"}.get(status, "unhealthy")
            all_ok &= word == "healthy"
            colour = {"healthy": "green", "degraded": "yellow"}.get(word, "red")
            table.add_row(name, f"[{colour}]{word}[/{colour}]", mode, reasons, uptime, url)
    console.print(table)
    for line in runbook.dependency_lines(bodies):
        console.print(line)
    if not all_ok:
        console.print("[red]FAIL[/red] not every service is healthy (see the table)")
    raise typer.Exit(0 if all_ok else 1)


@app.command()
def serve(
    service: Annotated[str, typer.Argument(help="brain|execution|console|scavenger|simulator")],
    live: Annotated[
        bool, typer.Option("--live", help="Required (or TITAN_LIVE=1), with var/LIVE.ok, for SYSTEM_MODE=LIVE")
    ] = False,
) -> None:
    """Run one service in the foreground (what `titan up` runs for each child). In LIVE it
    checks the LIVE locks for its own process first."""
    from titan_common.process import serve as serve_service
    from titan_ops.registry import SERVICES, import_string

    if service not in SERVICES:
        console.print(f"[red]unknown service {service!r}[/red]; choose from {', '.join(SERVICES)}")
        raise typer.Exit(2)
    spec = SERVICES[service]
    serve_service(service, import_string(spec.settings), import_string(spec.app_factory), live=live)


@user_app.command("add")
def user_add(
    username: Annotated[str, typer.Argument(help="Login name")],
    role: Annotated[str, typer.Option(help="viewer | operator | admin")] = "operator",
    password: Annotated[
        str,
        typer.Option(prompt=True, hide_input=True, confirmation_prompt=True, envvar="TITAN_NEW_USER_PASSWORD"),
    ] = "",
) -> None:
    """Create an operator account (argon2-hashed password)."""
    from titan_common.auth.accounts import UserExists, add_user
    from titan_common.auth.roles import Role
    from titan_common.db import migrate as migrations
    from titan_common.db.engine import make_engine, make_sessionmaker
    from titan_ops.cli.stores import open_stores

    try:
        chosen_role = Role(role)
    except ValueError:
        console.print(f"[red]role must be one of: {', '.join(r.value for r in Role)}[/red]")
        raise typer.Exit(2) from None
    settings = _settings()

    async def create(database_url: str) -> None:
        engine = make_engine(database_url, pool_size=1)
        try:
            async with make_sessionmaker(engine)() as session, session.begin():
                await add_user(session, username, password, chosen_role)
        finally:
            await engine.dispose()

    with open_stores(settings, need_redis=False) as stores:
        migrations.upgrade(stores.database_url)
        try:
            asyncio.run(create(stores.database_url))
        except UserExists:
            console.print(f"[red]user {username!r} already exists[/red]")
            raise typer.Exit(1) from None
        except ValueError as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from None
    console.print(f"created {chosen_role.value} {username!r}")


@app.command()
def sim(
    port: Annotated[int, typer.Option(min=1, max=65535)] = 9100,
    mexc_port: Annotated[int, typer.Option(min=1, max=65535, help="Port of the MEXC spot v3 face")] = 9101,
    seed: Annotated[int, typer.Option()] = 42,
    symbols: Annotated[str, typer.Option(help="Comma-separated, e.g. BTCUSDT,ETHUSDT")] = "",
    balance: Annotated[str, typer.Option(help="Starting USDT balance")] = "10000",
    api_key: Annotated[str, typer.Option(envvar="TITAN_SIM_API_KEY")] = "",
    api_secret: Annotated[str, typer.Option(envvar="TITAN_SIM_API_SECRET")] = "",
    host: Annotated[str, typer.Option()] = "127.0.0.1",
) -> None:
    """Run the exchange simulator standalone: Bybit v5 on --port, MEXC spot v3 on --mexc-port."""
    try:
        starting_balance = Decimal(balance)
    except InvalidOperation:
        console.print(f"[red]--balance must be a number, got {balance!r}[/red]")
        raise typer.Exit(2) from None
    if not api_key or not api_secret:
        console.print("[red]--api-key and --api-secret are required (or TITAN_SIM_API_KEY/SECRET)[/red]")
        raise typer.Exit(2)
    from titan_sim.cli import run_standalone  # type: ignore[import-not-found,unused-ignore]

    symbol_list = [s.strip().upper() for s in symbols.split(",") if s.strip()]
    run_standalone(
        port=port,
        mexc_port=mexc_port,
        seed=seed,
        symbols=symbol_list,
        balance=starting_balance,
        api_key=api_key,
        api_secret=api_secret,
        host=host,
    )


def main() -> None:
    app(prog_name="titan")


if __name__ == "__main__":
    main()
