"""Operations commands: `titan doctor`, `titan preflight`, `titan governance lock`,
`titan backup run|status|verify|cleanup`, `titan report daily`, `titan nginx render|cert`.

The backup and report work is titan_worker's (the same functions the Celery jobs run),
imported when a command needs it, so titan_common never imports a service at load time.
"""

from __future__ import annotations

import asyncio
import importlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from titan_common.clock import now_ms
from titan_common.settings import CommonSettings, load_settings
from titan_ops.cli import governance

console = Console(highlight=False)
governance_app = typer.Typer(help="Governance phase 1: the lock on reviewed files.", no_args_is_help=True)
backup_app = typer.Typer(help="Database backups: take, verify by restoring, prune, report.", no_args_is_help=True)
report_app = typer.Typer(help="Reports.", no_args_is_help=True)
nginx_app = typer.Typer(help="nginx in front of Titan: config and local certificate.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add these commands to the `titan` app (cli/main.py calls this once)."""
    app.command("doctor")(doctor)
    app.command("preflight")(preflight)
    app.add_typer(governance_app, name="governance")
    app.add_typer(backup_app, name="backup")
    app.add_typer(report_app, name="report")
    app.add_typer(nginx_app, name="nginx")


def _fail(reason: str, code: int = 1) -> typer.Exit:
    console.print(f"[red]FAIL[/red] {reason}")
    return typer.Exit(code)


def _worker(module: str) -> Any:
    """A titan_worker module, imported by name: the CLI reaches the service only when asked."""
    return importlib.import_module(f"titan_worker.{module}")


def _job_settings() -> Any:
    return load_settings(_worker("settings").JobSettings)


def embedded_database_url(var_dir: Path) -> str | None:
    """The URL of the embedded Postgres `titan up` runs under <var>/pg, when it is running."""
    pid_file = var_dir / "pg" / "postmaster.pid"
    try:
        lines = pid_file.read_text().splitlines()
    except OSError:
        return None
    if len(lines) < 5 or not lines[4].strip():
        return None
    return f"postgresql://postgres:@/titan?host={lines[4].strip()}&port={lines[3].strip()}"


# --- doctor -------------------------------------------------------------------------


def doctor(
    strict: Annotated[bool, typer.Option("--strict", help="Warnings fail too")] = False,
    endpoint: Annotated[str, typer.Option(envvar="TITAN_BYBIT_ENDPOINT", help="Exchange REST base URL")] = "",
) -> None:
    """One-screen diagnosis: exchange REST and WS, filters, clock, DB, Redis, disk, WAL/audit.
    Exit 0 when nothing failed."""
    from titan_ops.cli.doctor import Targets, run_checks, verdict

    settings = load_settings(CommonSettings)
    target = Targets(
        database_url=settings.database_url or embedded_database_url(settings.var_dir),
        redis_url=settings.redis_url or "redis://127.0.0.1:6390/0",  # the embedded server's usual port
        exchange_endpoint=endpoint or settings.url_of("simulator"),
        var_dir=settings.var_dir,
        other_venues={venue: settings.venue_options(venue) for venue in settings.venues[1:]},
        processes=settings.trading_processes,
    )
    stamp = datetime.now(tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    console.print(f"titan doctor  {stamp}  mode {settings.system_mode.value}")
    checks = asyncio.run(run_checks(target))
    colours = {"OK": "green", "WARN": "yellow", "FAIL": "red"}
    for check in checks:
        colour = colours[check.status.value]
        console.print(f"[{colour}]{check.status.value:<4}[/{colour}]  {check.name:<10} {check.detail}", soft_wrap=True)
    code, line = verdict(checks, strict=strict)
    console.print(f"[{'red' if code else 'green'}]{line}[/]", soft_wrap=True)
    raise typer.Exit(code)


# --- governance ---------------------------------------------------------------------


RootOption = Annotated[Path | None, typer.Option("--root", help="Repository root (default: found upward)")]


def preflight(root: RootOption = None) -> None:
    """Check every `# GOVERNANCE PHASE 1 — LOCKED` file against governance.lock. Exit 2 on any mismatch."""
    base = root or governance.repo_root()
    check = governance.check_lock(base)
    for path in sorted(check.marked):
        mark = "changed" if any(path in p for p in check.problems) else "ok"
        console.print(f"  {'[red]' if mark != 'ok' else ''}{mark:<8}{'[/red]' if mark != 'ok' else ''}{path}")
    if not check.ok:
        for problem in check.problems:
            console.print(f"[red]MISMATCH[/red] {problem}", soft_wrap=True)
        console.print(
            "[red]FAIL[/red] governance lock mismatch: LIVE will not start. Review the change, then "
            "`titan governance lock`.",
            soft_wrap=True,
        )
        raise typer.Exit(governance.EXIT_MISMATCH)
    console.print(f"[green]OK[/green] governance lock: {len(check.marked)} locked file(s) unchanged")


@governance_app.command("lock")
def governance_lock(root: RootOption = None) -> None:
    """Rewrite governance.lock from the marked files as they are now (after review)."""
    base = root or governance.repo_root()
    before = governance.read_lock(base) or {}
    entries = governance.write_lock(base)
    changed = sorted(p for p in entries if before.get(p) != entries[p]) + sorted(set(before) - set(entries))
    for path in changed:
        console.print(f"  updated {path}")
    console.print(f"locked {len(entries)} file(s) in {base / governance.LOCK_FILE} ({len(changed)} changed)")


@governance_app.command("check")
def governance_check(root: RootOption = None) -> None:
    """The same check as `titan preflight`."""
    preflight(root)


# --- backups ------------------------------------------------------------------------


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    return f"{n / 1024**2:.1f} MB" if n >= 1024**2 else f"{n / 1024:.1f} KB"


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def _verified_text(summary: dict[str, Any]) -> str:
    verified = summary.get("verified")
    if verified is None:
        return "not yet"
    return "[green]restore OK[/green]" if verified.get("ok") else "[red]FAILED[/red]"


@backup_app.command("run")
def backup_run(
    verify: Annotated[bool, typer.Option("--verify/--no-verify", help="Restore-check it right away")] = True,
) -> None:
    """Take a backup now (pg_dump + checksum into the backup directory), then verify it."""
    backups = _worker("backups")

    from titan_ops.cli.stores import open_stores

    settings = _job_settings()
    with open_stores(settings, need_redis=False) as stores:

        async def run() -> tuple[Any, Any]:
            backup = await backups.take_backup(
                stores.database_url, settings.backups_path, now_ms=now_ms(), pg_bin_dir=settings.pg_bin_dir
            )
            result = None
            if verify:
                result = await backups.verify_backup(
                    backup, stores.database_url, now_ms=now_ms(),
                    verify_database_url=settings.verify_database_url, pg_bin_dir=settings.pg_bin_dir,
                )  # fmt: skip
            return backup, result

        try:
            backup, result = asyncio.run(run())
        except backups.BackupError as exc:
            raise _fail(str(exc)) from None
    rows = sum(backup.manifest["row_counts"].values())
    console.print(f"backup {backup.path} ({_size(backup.manifest['size_bytes'])}, {rows} rows)")
    console.print(f"sha256 {backup.manifest['sha256']}")
    if result is not None and not result.ok:
        raise _fail(f"verification failed: {result.error}")
    if result is not None:
        console.print(
            f"[green]OK[/green] restored into a scratch database: {result.tables} tables, {result.rows} rows match"
        )


@backup_app.command("status")
def backup_status(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Every backup, with checksums re-read")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="The status as JSON")] = False,
) -> None:
    """The newest backups and whether they are fresh and verified. Exit 1 on any problem."""
    backups = _worker("backups")

    settings = _job_settings()
    report = backups.status(
        settings.backups_path, now_ms=now_ms(), max_age_h=settings.backup_max_age_h, verify_checksums=verbose
    )
    if as_json:
        console.print_json(json.dumps(report))
    else:
        console.print(
            f"backup directory {report['directory']}: {report['count']} backup(s), {_size(report['total_bytes'])}"
        )
        shown = report["backups"] if verbose else report["backups"][:3]
        if shown:
            columns = ["file", "taken", "age", "size", "rows", "verified"] + (["checksum"] if verbose else [])
            table = Table(*columns)
            for b in shown:
                row = [b["file"], _when(b["created_ms"]), f"{b['age_s'] / 3600:.1f} h", _size(b["size_bytes"]),
                       str(b["rows"]), _verified_text(b)]  # fmt: skip
                if verbose:
                    row.append("[green]ok[/green]" if b.get("checksum_ok") else "[red]MISMATCH[/red]")
                table.add_row(*row)
            console.print(table)
        for problem in report["problems"]:
            console.print(f"[red]PROBLEM[/red] {problem}", soft_wrap=True)
    if not report["ok"]:
        raise _fail(report["problems"][0] if len(report["problems"]) == 1 else f"{len(report['problems'])} problems")
    if not as_json:
        latest = report["latest"]
        console.print(
            f"[green]OK[/green] latest backup {latest['file']} is {latest['age_s'] / 3600:.1f} h old and verified"
        )


@backup_app.command("verify")
def backup_verify(
    latest: Annotated[bool, typer.Option("--latest", help="The newest backup (the default)")] = False,
    file: Annotated[str, typer.Option("--file", help="A backup's file name instead")] = "",
) -> None:
    """Restore a backup into a scratch database and compare row counts with its manifest."""
    backups = _worker("backups")

    from titan_ops.cli.stores import open_stores

    settings = _job_settings()
    found = backups.list_backups(settings.backups_path)
    chosen = next((b for b in found if b.name == file), None) if file else (found[0] if found else None)
    if chosen is None:
        raise _fail(
            f"no backup {file!r} in {settings.backups_path}" if file else f"no backup in {settings.backups_path}"
        )
    with open_stores(settings, need_redis=False) as stores:
        result = asyncio.run(
            backups.verify_backup(
                chosen, stores.database_url, now_ms=now_ms(),
                verify_database_url=settings.verify_database_url, pg_bin_dir=settings.pg_bin_dir,
            )
        )  # fmt: skip
    console.print(f"backup {chosen.name}: checksum {'ok' if result.checksum_ok else 'MISMATCH'}")
    for table, counts in result.mismatches.items():
        console.print(f"  [red]{table}[/red]: expected {counts['expected']}, restored {counts['restored']}")
    if not result.ok:
        raise _fail(f"{chosen.name} failed verification: {result.error}")
    console.print(
        f"[green]OK[/green] {chosen.name} restored into a scratch database: {result.tables} tables, "
        f"{result.rows} rows, all counts match ({result.duration_ms} ms)"
    )


@backup_app.command("cleanup")
def backup_cleanup(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only list what would be deleted")] = False,
) -> None:
    """Prune backups beyond the retention policy (7 daily and 4 weekly by default)."""
    backups = _worker("backups")

    settings = _job_settings()
    result = backups.cleanup(
        settings.backups_path,
        keep_daily=settings.backup_keep_daily,
        keep_weekly=settings.backup_keep_weekly,
        dry_run=dry_run,
    )
    policy = f"{settings.backup_keep_daily} daily, {settings.backup_keep_weekly} weekly"
    console.print(f"retention policy: keep {policy}; {len(result.kept)} kept, {len(result.pruned)} to prune")
    for backup in result.kept:
        console.print(f"  keep   {backup.name}  ({', '.join(result.plan.keep[backup.created_ms])})")
    verb = "would delete" if dry_run else "deleted"
    for backup in result.pruned:
        console.print(f"  {verb} {backup.name}")
    if dry_run and result.pruned:
        console.print(f"not compliant yet: {len(result.pruned)} backup(s) beyond the policy (run without --dry-run)")
    else:
        console.print(f"[green]OK[/green] backups comply with the retention policy ({policy})")


# --- reports ------------------------------------------------------------------------


@report_app.command("daily")
def report_daily(
    date: Annotated[str, typer.Option(help="UTC day, YYYY-MM-DD (default: today so far)")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
) -> None:
    """The daily performance report: stored for the console and written as JSON and HTML."""
    reports = _worker("reports")
    day_start_ms = _worker("core.report").day_start_ms

    from titan_common.clock import utc_day
    from titan_common.db import migrate
    from titan_common.db.engine import make_engine, make_sessionmaker
    from titan_ops.cli.stores import open_stores

    day = date or utc_day(now_ms())
    try:
        day_start_ms(day)
    except ValueError:
        raise _fail(f"--date must be YYYY-MM-DD, got {date!r}", 2) from None
    settings = _job_settings()

    async def make(database_url: str) -> Any:
        engine = make_engine(database_url, pool_size=1, application_name="titan-report")
        try:
            async with make_sessionmaker(engine)() as session, session.begin():
                return await reports.generate(
                    session, day, now_ms=now_ms(), report_dir=settings.reports_path, accounts=settings.accounts
                )
        finally:
            await engine.dispose()

    with open_stores(settings, need_redis=False) as stores:
        migrate.upgrade(stores.database_url)
        report = asyncio.run(make(stores.database_url))
    if as_json:
        console.print_json(json.dumps(report.as_json()))
        return
    f = report.figures

    def pct(value: str | None) -> str:
        return "-" if value is None else f"{value}%"

    rows = [
        ("Daily P&L", "-" if f["daily_pnl_usd"] is None else f"${f['daily_pnl_usd']} ({pct(f['daily_pnl_pct'])})"),
        ("Max drawdown", pct(f["max_drawdown_pct"])),
        ("System uptime", pct(f["uptime_pct"])),
        ("Trades executed", str(f["trades_executed"])),
        (
            "Signal success rate",
            pct(f["signal_success_rate_pct"]) + f"  ({f['signals_approved']}/{f['signals_decided']})",
        ),
        ("Win rate", pct(f["win_rate_pct"])),
        ("Sharpe (per trade)", f["sharpe"] or "-"),
        ("Realised P&L (net)", f"${f['realised_pnl_usd']}"),
        ("Breaker trips", str(f["breaker_trips"])),
    ]
    table = Table("figure", "value", title=f"Titan daily report {day} (UTC)")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    console.print(f"written: {settings.reports_path / f'daily-{day}.json'} and .html; stored in daily_reports")


# --- nginx --------------------------------------------------------------------------


@nginx_app.command("render")
def nginx_render(
    out: Annotated[Path, typer.Option(help="Where to write the rendered site config")] = Path("titan.conf"),
    port: Annotated[int, typer.Option(help="TLS port")] = 443,
    console_upstream: Annotated[
        str | None, typer.Option(help="the console: host:port or http://host:port (default: TITAN_CONSOLE_URL)")
    ] = None,
    brain_upstream: Annotated[
        str | None, typer.Option(help="the brain: host:port or http://host:port (default: TITAN_BRAIN_URL)")
    ] = None,
    tls_dir: Annotated[Path, typer.Option(help="Directory with titan.crt and titan.key")] = Path("/etc/titan/tls"),
    log_dir: Annotated[Path, typer.Option(help="nginx log directory")] = Path("/var/log/nginx"),
) -> None:
    """Render deploy/nginx/titan.conf for a system nginx (e.g. /etc/nginx/conf.d/titan.conf).
    The upstreams are the console's and the brain's URLs from the settings (TITAN_CONSOLE_URL,
    TITAN_BRAIN_URL, else TITAN_HOST and their ports) unless given here."""
    from titan_ops.cli import nginx

    upstreams = nginx.upstreams(load_settings(CommonSettings))
    try:
        if console_upstream is not None:
            upstreams["TITAN_CONSOLE_UPSTREAM"] = nginx.upstream_of(console_upstream)
        if brain_upstream is not None:
            upstreams["TITAN_BRAIN_UPSTREAM"] = nginx.upstream_of(brain_upstream)
    except ValueError as exc:
        console.print(f"FAIL {exc}", markup=False)
        raise typer.Exit(2) from None
    text = nginx.render(
        nginx.find_template().read_text(encoding="utf-8"),
        {
            "TITAN_NGINX_PORT": str(port),
            **upstreams,
            "TITAN_TLS_DIR": str(tls_dir),
            "TITAN_NGINX_LOG_DIR": str(log_dir),
        },
    )
    out.write_text(text, encoding="utf-8")
    console.print(
        f"wrote {out} (TLS on {port}, console {upstreams['TITAN_CONSOLE_UPSTREAM']}, "
        f"brain {upstreams['TITAN_BRAIN_UPSTREAM']})"
    )


@nginx_app.command("cert")
def nginx_cert(
    tls_dir: Annotated[Path, typer.Option("--dir", help="Where titan.crt and titan.key go")] = Path("var/nginx/tls"),
    common_name: Annotated[str, typer.Option(help="Certificate CN")] = "localhost",
) -> None:
    """Make a self-signed certificate for local use (kept if one is already there)."""
    from titan_ops.cli import nginx

    crt, key = nginx.ensure_self_signed_cert(tls_dir, common_name)
    console.print(f"certificate {crt}\nkey         {key}")
