"""The LIVE locks: what every Titan process checks before it runs with real money.

`titan up --live` checks them for the whole stack; `titan serve <service>` (what compose,
systemd and PM2 run) and `python -m <service>` check them again for their own process, so
no way of starting a process skips them. The locks:

- the operator's explicit intent: `--live`, or its environment equivalent TITAN_LIVE=1;
- the file `<var_dir>/LIVE.ok`, which a person puts there on purpose;
- a TITAN_INTERNAL_TOKEN that is not the development default;
- no account with the default password (processes with a database).
"""

from __future__ import annotations

import asyncio

from titan_common.settings import DEFAULT_INTERNAL_TOKEN, CommonSettings, SystemMode

LIVE_FLAG_ENV = "TITAN_LIVE"
LIVE_FILE = "LIVE.ok"


class LiveRefused(Exception):
    """LIVE preconditions are not met; the message says every one that is missing."""


def live_problems(
    settings: CommonSettings,
    *,
    live_flag: bool,
    default_users: list[str],
    governance_problems: list[str] | None = None,
) -> list[str]:
    """Every LIVE lock that is not met, in words an operator acts on. Empty outside LIVE."""
    if settings.system_mode is not SystemMode.LIVE:
        return []
    problems = []
    if not (live_flag or settings.live):
        problems.append(f"SYSTEM_MODE=LIVE needs the --live flag (or {LIVE_FLAG_ENV}=1)")
    if not (settings.var_dir / LIVE_FILE).exists():
        problems.append(f"SYSTEM_MODE=LIVE needs the file {settings.var_dir / LIVE_FILE}")
    if settings.internal_token.get_secret_value() == DEFAULT_INTERNAL_TOKEN:
        problems.append("TITAN_INTERNAL_TOKEN is the development default; set a secret one")
    if default_users:
        problems.append(f"account(s) {', '.join(default_users)} still use the default password")
    if governance_problems:
        problems.append("governance lock mismatch (`titan preflight`): " + "; ".join(governance_problems))
    return problems


def refuse_unless_live_ready(problems: list[str]) -> None:
    if problems:
        raise LiveRefused("LIVE refused: " + "; ".join(problems))


async def default_password_users(database_url: str) -> list[str]:
    """The accounts that still use the default password. An unreachable database is a
    refusal in LIVE (nothing can be verified), so its error is reported as one."""
    from titan_common.auth.accounts import users_with_default_password
    from titan_common.db.engine import make_engine, make_sessionmaker

    engine = make_engine(database_url, pool_size=1, application_name="titan-live-check")
    try:
        return await users_with_default_password(make_sessionmaker(engine))
    finally:
        await engine.dispose()


def check_process(service: str, settings: CommonSettings, *, live_flag: bool) -> None:
    """The LIVE locks for one process about to start; raises LiveRefused naming them all."""
    if settings.system_mode is not SystemMode.LIVE:
        return
    defaults: list[str] = []
    unverified: str | None = None
    if settings.database_url:
        try:
            defaults = asyncio.run(default_password_users(settings.database_url))
        except Exception as exc:
            unverified = f"cannot verify the accounts ({type(exc).__name__}: {str(exc)[:120]})"
    problems = live_problems(settings, live_flag=live_flag, default_users=defaults)
    if unverified:
        problems.append(unverified)
    if problems:
        raise LiveRefused(f"LIVE refused ({service}): " + "; ".join(problems))
