"""`titan ssl status`: the certificate nginx serves (asked over TLS, as a browser would):
subject, issuer, expiry and days left. Exit 1 with one FAIL line when nothing answers TLS
or it expires within --min-days."""

from __future__ import annotations

import ssl
import subprocess
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console

from titan_common.settings import CommonSettings, load_settings

console = Console(soft_wrap=True)  # one line per result, whatever the width
OPENSSL_DATE = "%b %d %H:%M:%S %Y %Z"


def describe(pem: str) -> dict[str, str]:
    """subject, issuer and notAfter of a PEM certificate (openssl reads it: nginx needs it anyway)."""
    out = subprocess.run(
        ["openssl", "x509", "-noout", "-subject", "-issuer", "-enddate"],
        input=pem, capture_output=True, text=True, timeout=10, check=True,
    ).stdout  # fmt: skip
    fields = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    return {k.strip(): v.strip() for k, v in fields.items()}


def ssl_status(
    host: Annotated[str, typer.Option(help="where nginx listens")] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(help="its TLS port (default TITAN_NGINX_PORT)")] = None,
    min_days: Annotated[int, typer.Option(help="fail when it expires sooner")] = 14,
) -> None:
    """The TLS certificate nginx serves: who it names, who issued it, when it expires."""
    target = port or load_settings(CommonSettings).nginx_port
    try:
        pem = ssl.get_server_certificate((host, target), timeout=5)
        fields = describe(pem)
        expires = datetime.strptime(fields["notAfter"], OPENSSL_DATE).replace(tzinfo=UTC)
    except (OSError, ssl.SSLError, subprocess.SubprocessError, KeyError, ValueError) as exc:
        console.print(f"FAIL no certificate from {host}:{target}: {type(exc).__name__}: {exc}", markup=False)
        raise typer.Exit(1) from None
    days = (expires - datetime.now(tz=UTC)).days
    console.print(f"endpoint  {host}:{target}", markup=False)
    console.print(f"subject   {fields.get('subject', '?')}", markup=False)
    console.print(f"issuer    {fields.get('issuer', '?')}", markup=False)
    console.print(f"expires   {expires:%Y-%m-%d %H:%M} UTC ({days} days)", markup=False)
    if fields.get("subject") == fields.get("issuer"):
        console.print("note      self-signed: browsers warn unless it is trusted", markup=False)
    if days < min_days:
        console.print(f"FAIL the certificate expires in {days} days (under {min_days})", markup=False)
        raise typer.Exit(1)
    console.print(f"OK valid for {days} more days", markup=False)
