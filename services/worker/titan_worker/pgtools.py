"""pg_dump / pg_restore: finding a pair that can handle the server, and calling them safely.

pg_dump refuses a server newer than itself, so the tools are chosen per server: the
lowest major version at or above the server's, from TITAN_PG_BIN_DIR, PATH,
/usr/lib/postgresql/*/bin and the embedded pgserver's own binaries. The password never
goes on a command line (where `ps` would show it): it travels in PGPASSWORD.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from titan_common.settings import normalise_database_url, plain_database_url


class PgToolsMissing(Exception):
    """No pg_dump/pg_restore pair can handle this server; the message says what to install."""


@dataclass(frozen=True)
class PgTools:
    bin_dir: Path
    major: int

    @property
    def pg_dump(self) -> str:
        return str(self.bin_dir / "pg_dump")

    @property
    def pg_restore(self) -> str:
        return str(self.bin_dir / "pg_restore")


@dataclass(frozen=True)
class Connection:
    """libpq connection parts of a database URL, the password kept apart."""

    host: str
    port: int
    user: str | None
    password: str | None
    database: str

    def args(self) -> list[str]:
        out = ["--host", self.host, "--port", str(self.port), "--dbname", self.database, "--no-password"]
        return out + (["--username", self.user] if self.user else [])

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("PGPASSWORD", None)
        if self.password:
            env["PGPASSWORD"] = self.password
        return env

    def named(self, database: str) -> Connection:
        return Connection(self.host, self.port, self.user, self.password, database)


def connection_of(database_url: str) -> Connection:
    """Host (or socket directory), port, user, password and database of a Postgres URL."""
    parts = urlsplit(plain_database_url(normalise_database_url(database_url)))
    query = parse_qs(parts.query)
    host = query.get("host", [parts.hostname or "127.0.0.1"])[0]
    port = int(query.get("port", [parts.port or 5432])[0])
    return Connection(
        host=host,
        port=port,
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        database=parts.path.lstrip("/"),
    )


def asyncpg_dsn(conn: Connection) -> dict[str, object]:
    """Keyword arguments for asyncpg.connect()."""
    return {
        "host": conn.host,
        "port": conn.port,
        "user": conn.user,
        "password": conn.password,
        "database": conn.database,
    }


def tool_major(binary: Path) -> int | None:
    try:
        out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"(\d+)(?:\.\d+)?", out.stdout)
    return int(match.group(1)) if match else None


def candidate_dirs(configured: Path | None = None) -> list[Path]:
    dirs: list[Path] = []
    if configured is not None:
        dirs.append(configured)
    on_path = shutil.which("pg_dump")
    if on_path:
        dirs.append(Path(on_path).resolve().parent)
    dirs += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"))]
    try:
        import pgserver

        dirs.append(Path(pgserver.__file__).parent / "pginstall" / "bin")
    except ImportError:
        pass
    unique: list[Path] = []
    for d in dirs:
        if d not in unique:
            unique.append(d)
    return unique


def find_tools(server_major: int, configured: Path | None = None) -> PgTools:
    """The closest pg_dump/pg_restore pair whose major version is >= the server's."""
    if configured is not None:
        major = tool_major(configured / "pg_dump")
        if major is None or not (configured / "pg_restore").exists():
            raise PgToolsMissing(f"TITAN_PG_BIN_DIR={configured} holds no working pg_dump and pg_restore")
        if major < server_major:
            raise PgToolsMissing(f"pg_dump {major} in {configured} cannot dump a PostgreSQL {server_major} server")
        return PgTools(configured, major)
    found: list[PgTools] = []
    for d in candidate_dirs():
        major = tool_major(d / "pg_dump")
        if major is not None and major >= server_major and (d / "pg_restore").exists():
            found.append(PgTools(d, major))
    if not found:
        raise PgToolsMissing(
            f"no pg_dump/pg_restore >= {server_major} found (install postgresql-client-{server_major} "
            "or set TITAN_PG_BIN_DIR)"
        )
    return min(found, key=lambda t: t.major)
