"""Blackbox logging: one fixed line format, stderr plus a size-rotated file, secrets redacted.

Key events start with a fixed word so operators can grep for them at 3 a.m.:
`CYCLE START`, `EQUITY`, `BUY`, `SELL`, `ABORT`, `CRASH`.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path

BLACKBOX_FORMAT = "%(asctime)s [%(levelname)s] %(message)s"
REDACTED = "***"


class KeyEvent(StrEnum):
    CYCLE_START = "CYCLE START"
    EQUITY = "EQUITY"
    BUY = "BUY"
    SELL = "SELL"
    ABORT = "ABORT"
    CRASH = "CRASH"


# Values after these names are secrets wherever they appear: key=value, "key": "value",
# header: value. Names are matched case-insensitively.
_SECRET_NAMES = (
    r"api[_-]?key|api[_-]?secret|secret|password|passwd|token|signature|sign|"  # noqa: S105 - names, not secrets
    r"x-bapi-api-key|x-bapi-sign|authorization|cookie|set-cookie|internal[_-]?token"
)
_KV_PATTERN = re.compile(
    rf"""(?P<name>["']?(?:{_SECRET_NAMES})["']?)(?P<sep>\s*[:=]\s*)(?P<quote>["']?)"""
    rf"""(?P<value>(?:Basic |Bearer )?[^\s"',;&}}]+)""",
    re.IGNORECASE,
)
# user:password@host inside URLs
_URL_PASSWORD = re.compile(r"(?P<pre>[a-z][a-z0-9+.-]*://[^:/@\s]+:)(?P<pw>[^@\s]+)(?P<post>@)", re.IGNORECASE)


class SecretRedactor:
    """Replaces secret values in text. Knows patterns, plus exact values registered at start."""

    def __init__(self, known_secrets: Iterable[str] = ()) -> None:
        self._known: set[str] = set()
        self.register(known_secrets)

    def register(self, secrets: Iterable[str]) -> None:
        for secret in secrets:
            if secret and len(secret) >= 4:
                self._known.add(secret)

    def redact(self, text: str) -> str:
        for secret in sorted(self._known, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, REDACTED)
        text = _URL_PASSWORD.sub(lambda m: f"{m['pre']}{REDACTED}{m['post']}", text)
        return _KV_PATTERN.sub(lambda m: f"{m['name']}{m['sep']}{m['quote']}{REDACTED}", text)


class RedactingFilter(logging.Filter):
    """Rewrites each record's message and traceback with secrets removed, before any handler writes it."""

    def __init__(self, redactor: SecretRedactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg = self.redactor.redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor.redact(record.exc_text)
        return True


REDACTOR = SecretRedactor()


def setup_logging(
    service: str,
    *,
    log_dir: Path | None = None,
    level: str = "INFO",
    max_bytes: int = 20 * 1024 * 1024,
    backups: int = 5,
    secrets: Iterable[str] = (),
) -> logging.Logger:
    """Configure the root logger for one process. Safe to call again (handlers are replaced)."""
    REDACTOR.register(secrets)
    redacting = RedactingFilter(REDACTOR)
    formatter = logging.Formatter(BLACKBOX_FORMAT)
    formatter.converter = time.gmtime  # timestamps in UTC

    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        handlers.append(
            logging.handlers.RotatingFileHandler(
                log_dir / f"{service}.log", maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
            )
        )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    for handler in handlers:
        handler.setFormatter(formatter)
        handler.addFilter(redacting)
        root.addHandler(handler)
    root.setLevel(level)
    # chatty libraries: one line per HTTP request or per pg_ctl call is noise in a blackbox log
    for name in ("httpx", "httpcore", "pgserver"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # uvicorn installs its own handlers; route them through ours so nothing bypasses redaction
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lib_logger = logging.getLogger(name)
        lib_logger.handlers.clear()
        lib_logger.propagate = True
    return logging.getLogger(f"titan.{service}")


def key_event(logger: logging.Logger, event: KeyEvent, message: str, *, level: int = logging.INFO) -> None:
    """Log a key event with its fixed leading word."""
    logger.log(level, "%s %s", event.value, message)


@contextmanager
def best_effort(
    logger: logging.Logger, what: str, *expected: type[BaseException], level: int = logging.WARNING
) -> Iterator[None]:
    """Run a step whose failure must not stop the caller (a broadcast, a close on the way
    out), catching only the failures it can have: each is logged, never silently dropped.
    Anything else is a bug and propagates."""
    try:
        yield
    except expected as exc:
        logger.log(level, "%s failed (%s: %s); carrying on", what, type(exc).__name__, str(exc)[:200])
