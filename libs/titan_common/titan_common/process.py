"""How every Titan service process runs: settings validated, LIVE locks checked, logging
set up, the app served. Each service's `__main__` hands in its own settings class and app
factory, so titan_common names no service (the registry of them is titan_ops')."""

from __future__ import annotations

import gc
import signal
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from titan_common.settings import CommonSettings


def _exit_cleanly(signum: int, _frame: object) -> None:
    sys.exit(0)


def serve(
    name: str, settings_cls: type[CommonSettings], create_app: Callable[[Any], Any], *, live: bool = False
) -> None:
    """Run one service in this process: validate settings (exit 2), check the LIVE locks
    (exit 2, one line naming every missing lock), set up logging, serve."""

    from titan_common.live import LiveRefused, check_process
    from titan_common.logging import setup_logging
    from titan_common.settings import load_settings

    settings = load_settings(settings_cls)
    try:
        check_process(name, settings, live_flag=live)
    except LiveRefused as exc:
        print(f"titan: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None
    secrets = [settings.internal_token.get_secret_value()]
    secrets += [v.get_secret_value() for v in settings.__dict__.values() if hasattr(v, "get_secret_value")]
    # a venue's execution or scavenger other than the first is `<name>-<venue>`: its own log
    # file and its own port (two processes never rotate one file)
    process = str(getattr(settings, "service_name", name))
    setup_logging(
        process,
        log_dir=settings.var_dir / "log",
        level=settings.log_level,
        max_bytes=settings.log_max_bytes,
        backups=settings.log_backups,
        secrets=secrets,
    )
    app = create_app(settings)
    # uvicorn shuts down gracefully on SIGTERM/SIGINT, then re-raises the signal against the
    # handler that was installed before it started. Installing ours turns that re-raise into
    # exit code 0, so supervisors can tell a clean stop from a crash.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _exit_cleanly)
    run_app(app, settings.bind_address, settings.port_of(process))


def run_app(app: Any, host: str, port: int) -> None:
    """Serve an ASGI app until SIGTERM/SIGINT, as every Titan process does."""
    import uvicorn

    # What start-up built lives as long as the process: out of the collector's sight, a full
    # collection no longer walks it (those walks were the tens of ms in every answer's p99).
    gc.collect()
    gc.freeze()
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=5,
        lifespan="on",
        # asyncio's own loop, not uvloop: at 200 busy connections uvloop left some of them
        # waiting over a second (p99 1-3 s) at no more requests/s (docs/decisions.md, issue 17)
        loop="asyncio",
    )
