"""The console's one settings object (environment prefix TITAN_)."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from titan_common.settings import ServiceSettings


class ConsoleSettings(ServiceSettings):
    # STATE_UPDATE cadence on /ws/console
    state_interval_s: Annotated[float, Field(gt=0, le=60)] = 1.0
    # /health, /api/status and the panel answer from a snapshot of every service's /health,
    # asked this often; older than snapshot_max_age_s, the answer says degraded
    snapshot_interval_s: Annotated[float, Field(gt=0, le=60)] = 1.0
    snapshot_max_age_s: Annotated[float, Field(gt=0, le=600)] = 5.0
    # how long one call to another service may take (reads); emergency actions get longer
    upstream_timeout_s: Annotated[float, Field(gt=0)] = 3.0
    action_timeout_s: Annotated[float, Field(gt=0)] = 30.0
    # browser sessions
    session_ttl_s: Annotated[int, Field(ge=60)] = 12 * 3600
    session_cookie: str = "titan_session"
    # a correct HTTP Basic password is remembered this long (argon2 costs ~100 ms per check)
    auth_cache_ttl_s: Annotated[float, Field(ge=0)] = 30.0
    # failed logins: per user+address, then per address alone (nginx forwards the address)
    login_max_failures: Annotated[int, Field(ge=1)] = 5
    login_address_max_failures: Annotated[int, Field(ge=1)] = 50
    login_window_s: Annotated[int, Field(ge=1)] = 300
    login_lock_s: Annotated[int, Field(ge=1)] = 30
    login_max_lock_s: Annotated[int, Field(ge=1)] = 900
    # peers trusted like loopback (comma-separated CIDRs, TITAN_TRUSTED_NETWORKS): reads
    # without a login and the client address a proxy forwards. Empty: loopback only (one
    # host). The compose network, or the private network of Titan's own hosts, never more.
    trusted_networks: Annotated[list[str], NoDecode] = []
    # kill switch confirmation codes live this long
    kill_switch_code_ttl_s: Annotated[int, Field(ge=10)] = 120
    # execution's churn limits, for the panel's "near limit" (same variables execution reads)
    churn_limit_10s: Annotated[int, Field(ge=1)] = 10
    churn_limit_60s: Annotated[int, Field(ge=1)] = 30

    @field_validator("trusted_networks", mode="before")
    @classmethod
    def _networks(cls, value: Any) -> list[str]:
        names = value.split(",") if isinstance(value, str) else list(value)
        networks = []
        for name in (str(n).strip() for n in names):
            if not name:
                continue
            try:
                networks.append(str(ipaddress.ip_network(name, strict=False)))
            except ValueError:
                raise ValueError(f"{name!r} is not a network (CIDR, e.g. 10.0.0.0/16)") from None
        return networks

    @property
    def trusted(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.ip_network(name) for name in self.trusted_networks)
