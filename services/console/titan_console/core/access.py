"""Who may call what. Pure rules: no I/O, no clock.

Every route declares an `Access` level (routes that declare none get the default for
their method). The rules that no declaration can weaken:
- a mutation (any method but GET/HEAD/OPTIONS) needs at least operator, unless the
  route is explicitly PUBLIC (logging in is the one such route);
- a GET without credentials is allowed, as viewer, only from loopback (or a network the
  installation trusts like it, TITAN_TRUSTED_NETWORKS: the compose network, a private
  link between Titan's own hosts) and only when no proxy forwarded it (through nginx, the
  request carries X-Forwarded-For and needs credentials like any remote one);
- credentials that are present but wrong are refused, never downgraded to anonymous.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from titan_common.auth.roles import Role
from titan_common.request_guard import SAFE_METHODS

FORWARDING_HEADERS = ("x-forwarded-for", "x-real-ip", "forwarded")


class Access(StrEnum):
    PUBLIC = "public"  # no identity needed (login, static assets, the login page)
    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"


@dataclass(frozen=True)
class Caller:
    role: Role | None  # None: no credentials at all
    local: bool  # loopback peer, not forwarded by a proxy


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    status: int = 200
    code: str = "OK"
    message: str = ""


def required_role(access: Access | None, method: str) -> Role | None:
    """The least role a call needs; None means public."""
    method = method.upper()
    if access is Access.PUBLIC:
        return None
    declared = Role.VIEWER if access is None else Role(access.value)
    if method not in SAFE_METHODS and not declared.at_least(Role.OPERATOR):
        return Role.OPERATOR
    return declared


def decide(access: Access | None, method: str, caller: Caller) -> Verdict:
    required = required_role(access, method)
    if required is None:
        return Verdict(True)
    if caller.role is None:
        if caller.local and method.upper() in SAFE_METHODS and required is Role.VIEWER:
            return Verdict(True)
        return Verdict(False, 401, "UNAUTHORIZED", "credentials required (HTTP Basic or a console session)")
    if not caller.role.at_least(required):
        return Verdict(False, 403, "FORBIDDEN", f"needs the {required.value} role; you are {caller.role.value}")
    return Verdict(True)


Networks = tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def is_trusted_peer(host: str | None, trusted: Networks = ()) -> bool:
    """Loopback, or an address in one of the `trusted` networks (Titan's own peers)."""
    if is_loopback(host):
        return True
    if not host or not trusted:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in trusted)


def is_local(peer_host: str | None, headers: Mapping[str, str], trusted: Networks = ()) -> bool:
    """A loopback (or trusted) peer that no proxy forwarded."""
    return is_trusted_peer(peer_host, trusted) and not any(headers.get(name) for name in FORWARDING_HEADERS)


def client_address(peer_host: str | None, headers: Mapping[str, str], trusted: Networks = ()) -> str:
    """The caller's address for throttling. A forwarded address is believed only from a
    loopback (or trusted) peer: our own nginx; anyone else could write the header themselves."""
    peer = peer_host or "unknown"
    if not is_trusted_peer(peer_host, trusted):
        return peer
    real = headers.get("x-real-ip")
    if real:
        return real.strip()
    forwarded = headers.get("x-forwarded-for")
    if forwarded:
        return forwarded.split(",")[-1].strip()
    return peer
