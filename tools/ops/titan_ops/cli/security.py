"""`titan security audit` (the runbook's monthly-security-audit) and `titan summary daily`
(generate-daily-summary). Each prints a readable result and one FAIL line when something
needs an operator, or when what it reads is missing."""

from __future__ import annotations

import asyncio
import os
import smtplib
from email.message import EmailMessage
from typing import Annotated, Any

import httpx
import psutil  # type: ignore[import-untyped]
import typer
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console

from titan_common.clock import now_ms, utc_day
from titan_common.settings import DEFAULT_INTERNAL_TOKEN, CommonSettings, load_settings
from titan_ops.checklist import Readings
from titan_ops.cli.checklist import daily_figures, read_services
from titan_ops.cli.ops import embedded_database_url

console = Console(soft_wrap=True)  # one line per result, whatever the width
security_app = typer.Typer(help="Security: the monthly audit.", no_args_is_help=True)
summary_app = typer.Typer(help="Summaries for the team.", no_args_is_help=True)


async def _accounts(database_url: str) -> tuple[list[dict[str, Any]], list[str]]:
    from sqlalchemy import select

    from titan_common.auth.accounts import users_with_default_password
    from titan_common.db.engine import make_engine, make_sessionmaker
    from titan_common.db.models import User

    engine = make_engine(database_url, pool_size=1, application_name="titan-security-audit")
    try:
        sessions = make_sessionmaker(engine)
        async with sessions() as session:
            users = (await session.scalars(select(User).order_by(User.username))).all()
        defaults = await users_with_default_password(sessions)
    finally:
        await engine.dispose()
    rows = [{"user": u.username, "role": u.role, "disabled": u.disabled, "created_ms": u.created_ms} for u in users]
    return rows, defaults


def _login_failures(settings: CommonSettings) -> float | None:
    try:
        text = httpx.get(settings.url_of("console") + "/metrics", timeout=10).text
    except httpx.HTTPError:
        return None
    for family in text_string_to_metric_families(text):
        if "login_failures" in family.name:
            return sum(s.value for s in family.samples if s.name.endswith("_total"))
    return 0.0


def _listening() -> list[tuple[str, int]]:
    try:
        sockets = psutil.net_connections(kind="inet")
    except (psutil.AccessDenied, OSError):
        return []
    return sorted({(c.laddr.ip, c.laddr.port) for c in sockets if c.status == psutil.CONN_LISTEN and c.laddr})


@security_app.command("audit")
def security_audit() -> None:
    """Accounts and their roles, default passwords, secrets left at their defaults, failed
    logins since the console started, and Titan's ports listening beyond loopback."""
    settings = load_settings(CommonSettings)
    database_url = settings.database_url or embedded_database_url(settings.var_dir)
    if not database_url:
        console.print("FAIL no database: set DATABASE_URL (the accounts are in Postgres)", markup=False)
        raise typer.Exit(1)
    try:
        accounts, defaults = asyncio.run(_accounts(database_url))
    except Exception as exc:  # the accounts are the audit's first subject: unreadable is the FAIL
        console.print(f"FAIL the accounts are unreadable: {type(exc).__name__}: {exc}", markup=False)
        raise typer.Exit(1) from None
    findings: list[str] = []
    console.print(f"accounts ({len(accounts)}):", markup=False)
    for a in accounts:
        state = "disabled" if a["disabled"] else "active"
        console.print(
            f"  {a['user']:<20} {a['role']:<9} {state:<9} since {utc_day(int(a['created_ms']))}", markup=False
        )
    admins = [a["user"] for a in accounts if a["role"] == "admin" and not a["disabled"]]
    console.print(f"active admins: {', '.join(admins) or 'none'}", markup=False)
    if defaults:
        findings.append(f"default password on {', '.join(defaults)}")
        console.print(f"✗ default password still in use: {', '.join(defaults)}", markup=False)
    else:
        console.print("✓ no account uses the default password", markup=False)
    if settings.internal_token.get_secret_value() == DEFAULT_INTERNAL_TOKEN:
        findings.append("TITAN_INTERNAL_TOKEN is the default")
        console.print("✗ TITAN_INTERNAL_TOKEN is still the default", markup=False)
    else:
        console.print("✓ TITAN_INTERNAL_TOKEN is set", markup=False)
    failures = _login_failures(settings)
    console.print(f"failed logins since the console started: {'unknown' if failures is None else int(failures)}",
                  markup=False)  # fmt: skip
    titan_ports = {settings.port_of(name) for name in ("brain", "execution", "console", "scavenger")}
    exposed = [f"{ip}:{port}" for ip, port in _listening() if port in titan_ports and ip not in ("127.0.0.1", "::1")]
    if exposed:
        findings.append(f"Titan ports beyond loopback: {', '.join(exposed)}")
        console.print(
            f"✗ listening beyond loopback (nginx should be the only door): {', '.join(exposed)}", markup=False
        )
    else:
        console.print("✓ Titan's services listen on loopback only", markup=False)
    console.print("manual: exchange API key age (rotate monthly: ./scripts/rotate-api-keys.sh --dry-run)", markup=False)
    if findings:
        console.print("FAIL security audit: " + "; ".join(findings), markup=False)
        raise typer.Exit(1)
    console.print("OK nothing for an operator to fix", markup=False)


def smtp_send(to: str, subject: str, body: str) -> str | None:
    """Send through TITAN_SMTP_HOST when set; None when SMTP is not configured."""
    host = os.environ.get("TITAN_SMTP_HOST")
    if not host:
        return None
    message = EmailMessage()
    message["From"] = os.environ.get("TITAN_SMTP_FROM", "titan@localhost")
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    with smtplib.SMTP(host, int(os.environ.get("TITAN_SMTP_PORT", "25")), timeout=15) as smtp:
        if os.environ.get("TITAN_SMTP_STARTTLS", "").lower() in ("1", "true", "yes"):
            smtp.starttls()
        user = os.environ.get("TITAN_SMTP_USER")
        if user:
            smtp.login(user, os.environ.get("TITAN_SMTP_PASSWORD", ""))
        smtp.send_message(message)
    return f"{host}"


@summary_app.command("daily")
def summary_daily(
    email: Annotated[str | None, typer.Option(help="send it here (through TITAN_SMTP_HOST)")] = None,
) -> None:
    """The day in a few lines: services, mode, master arm, equity, P&L, trades, drawdown,
    uptime, signals; mailed when --email and SMTP are set, always kept in var/status/."""
    settings = load_settings(CommonSettings)
    readings = Readings()
    read_services(settings, readings)
    if all(body is None for body in readings.health.values()):
        console.print("FAIL no service answered /health: nothing to summarise", markup=False)
        raise typer.Exit(1)
    figures = daily_figures(settings, readings)
    day = utc_day(now_ms())
    health = ", ".join(f"{n} {(b or {}).get('status', 'down')}" for n, b in readings.health.items())
    lines = [
        f"Titan daily summary, {day} (UTC)",
        f"services: {health}",
        f"master arm: {'ARMED' if readings.master_armed else 'disarmed'}; breaker "
        f"{'ACTIVE' if readings.breaker_active else 'not active'}",
        f"equity: {readings.equity if readings.equity is not None else 'unknown'}; open positions: "
        f"{len(readings.positions) if readings.positions is not None else 'unknown'}",
        f"P&L: ${figures.get('pnl', '?')} ({figures.get('pnl_pct', '?')}%); trades: {figures.get('trades', '?')}; "
        f"max drawdown: {figures.get('max_drawdown_pct', '?')}%",
        f"uptime: {figures.get('uptime_pct', '?')}%; signal success rate: {figures.get('signal_success_pct', '?')}%",
    ]
    body = "\n".join(lines) + "\n"
    for line in lines:
        console.print(line, markup=False)
    path = settings.var_dir / "status" / f"daily-summary-{day}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body, encoding="utf-8")
    if email:
        try:
            sent = smtp_send(email, f"Titan daily summary {day}", body)
        except (OSError, smtplib.SMTPException) as exc:
            console.print(f"FAIL the summary could not be mailed to {email}: {exc} (kept in {path})", markup=False)
            raise typer.Exit(1) from None
        if sent is None:
            console.print(f"SMTP is not configured (TITAN_SMTP_HOST): not mailed; written to {path}", markup=False)
        else:
            console.print(f"mailed to {email} through {sent}; kept in {path}", markup=False)
    else:
        console.print(f"written to {path}", markup=False)
    console.print("OK", markup=False)
