"""Validated configuration from the environment.

Every variable is read once at start and validated together. A bad value stops the
process with exit code 2 and one message that names every bad variable, so an operator
fixes them all in one go.

Names: `TITAN_<FIELD>` for everything, except the three the whole stack shares, which
also work unprefixed: `DATABASE_URL`, `REDIS_URL` and `SYSTEM_MODE`.
"""

from __future__ import annotations

import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar, cast
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Port = Annotated[int, Field(ge=1, le=65535)]

DEFAULT_PORTS = {
    "brain": 3100,
    "execution": 3003,
    "console": 3002,
    "scavenger": 3005,
    "simulator": 9100,
    "nginx": 8080,
}
# The services that run once per venue: execution (one per venue account) and the scavenger
# (one per venue's market). The first venue's process is `<service>` on TITAN_<SERVICE>_PORT;
# each other venue's is `<service>-<venue>` on its own port (TITAN_<SERVICE>_PORTS).
VENUE_SERVICES = ("execution", "scavenger")
DEFAULT_EXECUTION_PORTS = {"mexc": 3013}  # 3004 is the runbook's AI Quant port
DEFAULT_SCAVENGER_PORTS = {"mexc": 3015}

# Well-known defaults that LIVE refuses (see titan_ops.cli and the console's auth).
DEFAULT_INTERNAL_TOKEN = "titan-dev-internal-token"  # noqa: S105 - the dev default LIVE refuses


class SystemMode(StrEnum):
    PAPER = "PAPER"
    LIVE = "LIVE"


def _alias(name: str) -> AliasChoices:
    return AliasChoices(name, f"TITAN_{name}")


def normalise_database_url(url: str) -> str:
    """Any postgres URL -> the SQLAlchemy asyncpg form. Raises ValueError when malformed."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in {"postgres", "postgresql", "postgresql+asyncpg", "postgresql+psycopg"}:
        raise ValueError("must start with postgresql:// (or postgres://, postgresql+asyncpg://)")
    if not parts.path.strip("/"):
        raise ValueError("must name a database, e.g. postgresql://user@host:5432/titan")
    if not parts.hostname and "host=" not in parts.query:
        raise ValueError("must name a host, or a socket directory as ?host=/path")
    try:
        _ = parts.port
    except ValueError as exc:
        raise ValueError(f"has an invalid port: {exc}") from None
    return "postgresql+asyncpg://" + url.split("://", 1)[1]


def plain_database_url(url: str) -> str:
    """The libpq/asyncpg form (no SQLAlchemy driver suffix)."""
    return "postgresql://" + url.split("://", 1)[1]


def validate_redis_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in {"redis", "rediss", "unix"}:
        raise ValueError("must start with redis://, rediss:// or unix://")
    if parts.scheme != "unix" and not parts.hostname:
        raise ValueError("must name a host, e.g. redis://127.0.0.1:6379/0")
    try:
        _ = parts.port
    except ValueError as exc:
        raise ValueError(f"has an invalid port: {exc}") from None
    return url


class CommonSettings(BaseSettings):
    """Settings every Titan process shares. Database and Redis may be absent here (embedded)."""

    model_config = SettingsConfigDict(env_prefix="TITAN_", extra="ignore", populate_by_name=True)

    database_url: str | None = Field(default=None, validation_alias=_alias("DATABASE_URL"))
    redis_url: str | None = Field(default=None, validation_alias=_alias("REDIS_URL"))
    system_mode: SystemMode = Field(default=SystemMode.PAPER, validation_alias=_alias("SYSTEM_MODE"))
    # the operator's explicit LIVE intent for a process started without `--live` (TITAN_LIVE=1);
    # one of the LIVE locks (titan_common.live)
    live: bool = False

    # where the other Titan processes are reached when no TITAN_<SERVICE>_URL says otherwise,
    # and (unless TITAN_BIND_HOST is set) the address each process listens on
    host: str = "127.0.0.1"
    # the address this process listens on, when it differs from TITAN_HOST: 0.0.0.0 in a
    # container or on a host of its own, where peers reach it by a name or address of its own
    bind_host: str | None = None
    brain_port: Port = DEFAULT_PORTS["brain"]
    execution_port: Port = DEFAULT_PORTS["execution"]
    console_port: Port = DEFAULT_PORTS["console"]
    scavenger_port: Port = DEFAULT_PORTS["scavenger"]
    simulator_port: Port = DEFAULT_PORTS["simulator"]
    # the simulator's MEXC spot face (its own port, in the simulator's process)
    simulator_mexc_port: Port = Field(default=9101, validation_alias=AliasChoices("TITAN_SIM_MEXC_PORT"))
    nginx_port: Port = DEFAULT_PORTS["nginx"]

    var_dir: Path = Path("var")
    log_level: str = "INFO"
    log_max_bytes: Annotated[int, Field(ge=1024)] = 20 * 1024 * 1024
    log_backups: Annotated[int, Field(ge=0)] = 5
    # where `titan checklist --sign` appends; None: <var>/log/daily-ops.log (deployed: the
    # runbook's /var/log/titan/daily-ops.log)
    daily_ops_log: Path | None = None
    run_id: str = "dev"
    heartbeat_interval_s: Annotated[float, Field(gt=0)] = 2.0
    heartbeat_ttl_s: Annotated[int, Field(ge=2)] = 10
    # Service-to-service credential for mutating internal endpoints.
    internal_token: SecretStr = SecretStr(DEFAULT_INTERNAL_TOKEN)
    # the venues this installation trades, by registry name (TITAN_VENUES=bybit,mexc); each
    # venue's own options are TITAN_<VENUE>_<OPTION> (TITAN_BYBIT_ENDPOINT...)
    venues: Annotated[list[str], NoDecode] = ["bybit"]
    # the first venue's account (TITAN_EXCHANGE), named in its rows and events; every other
    # venue's account is named by the venue (`titan up` starts its processes so)
    exchange: str = "bybit"
    # the port of each other venue's execution and scavenger (TITAN_EXECUTION_PORTS='{"mexc": 3013}')
    execution_ports: dict[str, Port] = Field(default_factory=lambda: dict(DEFAULT_EXECUTION_PORTS))
    scavenger_ports: dict[str, Port] = Field(default_factory=lambda: dict(DEFAULT_SCAVENGER_PORTS))
    # a service on another host: its base URL (TITAN_BRAIN_URL=http://brain:3100); unset, it
    # is http://<host>:<port>. Other venues' processes: TITAN_EXECUTION_URLS='{"mexc": "..."}'
    brain_url: str | None = None
    execution_url: str | None = None
    console_url: str | None = None
    scavenger_url: str | None = None
    simulator_url: str | None = None
    execution_urls: dict[str, str] = Field(default_factory=dict)
    scavenger_urls: dict[str, str] = Field(default_factory=dict)

    @field_validator("brain_url", "execution_url", "console_url", "scavenger_url", "simulator_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return _checked_url(value)

    @field_validator("bind_host")
    @classmethod
    def _bind_host(cls, value: str | None) -> str | None:
        return None if value is None or not value.strip() else value.strip()

    @field_validator("execution_urls", "scavenger_urls")
    @classmethod
    def _base_urls(cls, value: dict[str, str]) -> dict[str, str]:
        return {venue.strip().lower(): _checked_url(url) for venue, url in value.items()}

    @field_validator("venues", mode="before")
    @classmethod
    def _venue_names(cls, value: Any) -> list[str]:
        from titan_common.exchanges.registry import venue  # the registry knows the adapters

        names = [n.strip().lower() for n in value.split(",")] if isinstance(value, str) else list(value)
        names = [n for n in names if n]
        if not names:
            raise ValueError("name at least one venue")
        return [venue(name).name for name in names]

    @model_validator(mode="after")
    def _venue_options_valid(self) -> CommonSettings:
        from titan_common.exchanges.registry import venue_settings

        for name in self.venues:
            venue_settings(name, self.venue_options(name))
        for kind in VENUE_SERVICES:
            unported = [name for name in self.venues[1:] if name not in self._venue_ports(kind)]
            if unported:
                raise ValueError(f"TITAN_{kind.upper()}_PORTS names no port for the {kind} of {', '.join(unported)}")
        return self

    def _venue_ports(self, kind: str) -> dict[str, int]:
        return cast(dict[str, int], getattr(self, f"{kind}_ports"))

    def venue_options(self, venue: str) -> dict[str, Any]:
        """A venue's options: this settings object's own `<venue>_*` fields, over the
        environment's TITAN_<VENUE>_* variables (for a venue this service has no fields for)."""
        env_prefix = f"TITAN_{venue.upper()}_"
        options: dict[str, Any] = {
            key[len(env_prefix) :].lower(): value for key, value in os.environ.items() if key.startswith(env_prefix)
        }
        field_prefix = f"{venue}_"
        for name in type(self).model_fields:
            if name.startswith(field_prefix):
                options[name[len(field_prefix) :]] = getattr(self, name)
        return options

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        return None if value in (None, "") else normalise_database_url(value)

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        return None if value in (None, "") else validate_redis_url(value)

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        upper = value.upper()
        if upper not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return upper

    def own_venue(self, kind: str, chosen: str) -> str:
        """The venue a per-venue process of `kind` serves: `chosen` (TITAN_<KIND>_VENUE), which
        must be one of TITAN_VENUES, or else the first of them."""
        if not chosen:
            return self.venues[0]
        if chosen not in self.venues:
            raise ValueError(f"TITAN_{kind.upper()}_VENUE={chosen} is not one of TITAN_VENUES")
        return chosen

    def venue_service(self, kind: str, venue: str) -> str:
        """The process of `kind` (one of VENUE_SERVICES) for `venue`: `<kind>` for the first of
        TITAN_VENUES, `<kind>-<venue>` for each other venue."""
        return kind if venue == self.venues[0] else f"{kind}-{venue}"

    @property
    def accounts(self) -> list[str]:
        """Every running venue's account: the first venue's, then the others'. Readers of
        another service's rows filter on these (titan_common.db.reads)."""
        return [self.exchange, *self.venues[1:]]

    def venue_of(self, account: str) -> str:
        """The venue an account's rows and events concern."""
        return self.venues[0] if account == self.exchange else account

    def account_of(self, venue: str) -> str:
        return self.exchange if venue == self.venues[0] else venue

    def venue_services(self, kind: str) -> dict[str, str]:
        """Every running venue's process of `kind`, by venue."""
        return {venue: self.venue_service(kind, venue) for venue in self.venues}

    def execution_service(self, venue: str) -> str:
        """The service that trades `venue` (one execution process per venue account)."""
        return self.venue_service("execution", venue)

    @property
    def execution_services(self) -> dict[str, str]:
        return self.venue_services("execution")

    @property
    def scavenger_services(self) -> dict[str, str]:
        """The scavenger that watches each venue's market, by venue."""
        return self.venue_services("scavenger")

    @property
    def trading_processes(self) -> list[str]:
        """Every trading process's name, one per venue for execution and the scavenger
        (`brain`, `execution`, `execution-mexc`, `scavenger`, `scavenger-mexc`, `console`)."""
        from titan_common.heartbeats import TRADING_SERVICES

        names: list[str] = []
        for name in TRADING_SERVICES:
            names += list(self.venue_services(name).values()) if name in VENUE_SERVICES else [name]
        return names

    def port_of(self, service: str) -> int:
        kind, _, venue = service.partition("-")
        if venue and kind in VENUE_SERVICES:
            ports = self._venue_ports(kind)
            if venue not in ports:
                raise ValueError(f"no port for {service}: set TITAN_{kind.upper()}_PORTS, e.g. '{{\"{venue}\": 3013}}'")
            return ports[venue]
        return int(getattr(self, f"{service}_port"))

    @property
    def bind_address(self) -> str:
        """The address this process listens on: TITAN_BIND_HOST, else TITAN_HOST."""
        return self.bind_host or self.host

    def url_of(self, service: str) -> str:
        """The service's base URL: its TITAN_<SERVICE>_URL when set (another host), else
        http://<host>:<port>."""
        kind, _, venue = service.partition("-")
        if venue and kind in VENUE_SERVICES:
            chosen = (self.execution_urls if kind == "execution" else self.scavenger_urls).get(venue)
        else:
            chosen = getattr(self, f"{service}_url", None)
        return chosen or f"http://{self.host}:{self.port_of(service)}"


def _checked_url(value: str) -> str:
    url = value.strip().rstrip("/")
    scheme, _, rest = url.partition("://")
    if scheme not in ("http", "https") or not rest or "/" in rest:
        raise ValueError(f"{value!r} is not a service's base URL: http(s)://host[:port], no path")
    return url


class ServiceSettings(CommonSettings):
    """A running service needs both stores; there is no embedded fallback inside a service."""

    database_url: str = Field(validation_alias=_alias("DATABASE_URL"))
    redis_url: str = Field(validation_alias=_alias("REDIS_URL"))


S = TypeVar("S", bound=BaseSettings)


class SettingsError(Exception):
    """Raised by load_settings(exit_on_error=False); str() is the operator-facing message."""


def env_name(settings_cls: type[BaseSettings], field: str) -> str:
    """The environment variable an error location refers to (a field name or an alias)."""
    if field not in settings_cls.model_fields:
        return field.upper()  # pydantic reports the alias it read, e.g. DATABASE_URL
    info = settings_cls.model_fields.get(field)
    alias = info.validation_alias if info else None
    if isinstance(alias, AliasChoices) and alias.choices:
        return str(alias.choices[0])
    prefix = str(settings_cls.model_config.get("env_prefix", ""))
    return f"{prefix}{field}".upper()


def describe_errors(settings_cls: type[BaseSettings], exc: ValidationError) -> str:
    lines = [f"invalid configuration ({exc.error_count()} problem(s)):"]
    for err in exc.errors():
        if not err.get("loc"):  # a check across settings (a venue's options): its message says which
            lines.append(f"  {str(err.get('msg', 'invalid')).removeprefix('Value error, ')}")
            continue
        field = str(err["loc"][0])
        name = env_name(settings_cls, field)
        value: Any = err.get("input")
        shown = "<missing>" if err.get("type") == "missing" else repr(_mask(name, value))
        message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        lines.append(f"  {name}={shown}: {message}")
    return "\n".join(lines)


def _mask(name: str, value: Any) -> Any:
    secretish = any(word in name for word in ("TOKEN", "SECRET", "PASSWORD", "KEY"))
    if secretish:
        return "***"
    if isinstance(value, str) and "://" in value and "@" in value:
        # never echo a password embedded in a URL
        scheme, rest = value.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in creds else value
    return value


def load_settings(settings_cls: type[S], *, exit_on_error: bool = True, **overrides: Any) -> S:
    """Build and validate settings; on error print every bad variable and exit 2."""
    try:
        return settings_cls(**overrides)
    except ValidationError as exc:
        message = describe_errors(settings_cls, exc)
        if not exit_on_error:
            raise SettingsError(message) from None
        print(f"titan: {message}", file=sys.stderr)
        raise SystemExit(2) from None
