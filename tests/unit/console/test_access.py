"""Who may call what (pure rules)."""

from __future__ import annotations

import pytest

from titan_common.auth.roles import Role, role_for_live
from titan_common.request_guard import same_origin
from titan_console.core.access import Access, Caller, client_address, decide, is_local, required_role

ROLES = [None, Role.VIEWER, Role.OPERATOR, Role.ADMIN]
MUTATING = ["POST", "PUT", "PATCH", "DELETE"]


@pytest.mark.parametrize("method", MUTATING)
@pytest.mark.parametrize("declared", [None, Access.VIEWER, Access.OPERATOR, Access.ADMIN])
def test_a_mutation_never_needs_less_than_operator(method: str, declared: Access | None) -> None:
    required = required_role(declared, method)
    assert required is not None
    assert required.at_least(Role.OPERATOR)


@pytest.mark.parametrize("method", MUTATING)
@pytest.mark.parametrize("local", [True, False])
def test_no_mutation_without_operator_rights(method: str, local: bool) -> None:
    for declared in (None, Access.VIEWER, Access.OPERATOR):
        assert decide(declared, method, Caller(None, local)).status == 401
        assert decide(declared, method, Caller(Role.VIEWER, local)).status == 403
        assert decide(declared, method, Caller(Role.OPERATOR, local)).allowed
    assert decide(Access.ADMIN, method, Caller(Role.OPERATOR, local)).status == 403
    assert decide(Access.ADMIN, method, Caller(Role.ADMIN, local)).allowed


def test_reads_from_loopback_need_no_credentials_but_remote_reads_do() -> None:
    assert decide(None, "GET", Caller(None, local=True)).allowed
    assert decide(None, "GET", Caller(None, local=False)).status == 401
    assert decide(None, "GET", Caller(Role.VIEWER, local=False)).allowed
    # an admin-only read is not opened up by loopback
    assert decide(Access.ADMIN, "GET", Caller(None, local=True)).status == 401


def test_public_routes_need_nothing() -> None:
    for method in ["GET", "POST"]:
        assert decide(Access.PUBLIC, method, Caller(None, local=False)).allowed


def test_live_raises_arming_to_admin() -> None:
    assert role_for_live(live=True, raises_risk=True) is Role.ADMIN
    assert role_for_live(live=True, raises_risk=False) is Role.OPERATOR
    assert role_for_live(live=False, raises_risk=True) is Role.OPERATOR


def test_forwarded_requests_are_not_local() -> None:
    assert is_local("127.0.0.1", {})
    assert is_local("::1", {})
    assert not is_local("127.0.0.1", {"x-forwarded-for": "203.0.113.9"})
    assert not is_local("127.0.0.1", {"x-real-ip": "203.0.113.9"})
    assert not is_local("192.0.2.2", {})
    assert not is_local(None, {})


def test_a_forwarded_address_is_believed_only_from_loopback() -> None:
    assert client_address("127.0.0.1", {"x-forwarded-for": "198.51.100.1, 203.0.113.9"}) == "203.0.113.9"
    assert client_address("127.0.0.1", {"x-real-ip": "203.0.113.7"}) == "203.0.113.7"
    assert client_address("192.0.2.50", {"x-forwarded-for": "10.0.0.1"}) == "192.0.2.50"


def test_origin_must_name_the_host() -> None:
    assert same_origin(None, "127.0.0.1:3002")
    assert same_origin("http://127.0.0.1:3002", "127.0.0.1:3002")
    assert same_origin("https://titan-core.example.com", "titan-core.example.com")
    assert not same_origin("https://evil.example", "127.0.0.1:3002")
    assert not same_origin("null", "127.0.0.1:3002")


def test_trusted_networks_count_as_loopback_and_nothing_else() -> None:
    from titan_console.settings import ConsoleSettings

    trusted = ConsoleSettings(
        database_url="postgresql://u@h/db", redis_url="redis://h:6379/0", trusted_networks="172.30.77.0/24, fd00::/8"
    ).trusted
    # a peer on the compose network (nginx, Prometheus) reads like loopback, unless forwarded
    assert is_local("172.30.77.5", {}, trusted)
    assert is_local("::ffff:172.30.77.5", {}, trusted)
    assert is_local("fd00::7", {}, trusted)
    assert not is_local("172.30.77.5", {"x-forwarded-for": "203.0.113.9"}, trusted)
    assert not is_local("172.30.78.5", {}, trusted)
    assert not is_local("203.0.113.9", {}, trusted)
    assert not is_local("172.30.77.5", {})  # nothing trusted: loopback only, as before
    # its forwarded client address is believed; an untrusted peer's never is
    assert client_address("172.30.77.5", {"x-real-ip": "203.0.113.9"}, trusted) == "203.0.113.9"
    assert client_address("172.30.78.5", {"x-real-ip": "203.0.113.9"}, trusted) == "172.30.78.5"
    assert client_address("172.30.77.5", {"x-real-ip": "203.0.113.9"}) == "172.30.77.5"


def test_a_trusted_network_that_is_not_one_is_refused() -> None:
    from pydantic import ValidationError

    from titan_console.settings import ConsoleSettings

    with pytest.raises(ValidationError, match="not a network"):
        ConsoleSettings(database_url="postgresql://u@h/db", redis_url="redis://h:6379/0", trusted_networks="console")
    empty = ConsoleSettings(database_url="postgresql://u@h/db", redis_url="redis://h:6379/0", trusted_networks="")
    assert empty.trusted == ()
