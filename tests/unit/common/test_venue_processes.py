"""One execution process per venue account: its service name, its port, and `titan up`'s
children (no process is started here)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from titan_common.cli.up import processes, service_children
from titan_common.settings import CommonSettings

ALL = ["simulator", "brain", "execution", "scavenger", "console"]


def test_the_first_venue_trades_in_execution_and_each_other_in_its_own_process() -> None:
    settings = CommonSettings(venues="bybit,mexc", execution_port=3003, execution_ports={"mexc": 3104})
    assert settings.execution_services == {"bybit": "execution", "mexc": "execution-mexc"}
    assert settings.port_of("execution") == 3003
    assert settings.port_of("execution-mexc") == 3104
    assert settings.url_of("execution-mexc").endswith(":3104")


def test_every_other_venue_needs_a_port_for_its_execution() -> None:
    with pytest.raises(ValidationError, match="no port for the execution of mexc"):
        CommonSettings(venues="bybit,mexc", execution_ports={})
    # a single venue needs none
    assert CommonSettings(venues="mexc", execution_ports={}).execution_services == {"mexc": "execution"}


def test_titan_up_starts_one_execution_per_venue_with_its_own_account() -> None:
    settings = CommonSettings(venues="bybit,mexc")
    assert processes(settings, ALL) == ["simulator", "brain", "execution", "execution-mexc", "scavenger", "console"]
    children = {c.name: c for c in service_children(settings, ALL, {"TITAN_EXCHANGE": "bybit-main", "X": "1"})}
    assert children["execution"].env["TITAN_EXECUTION_VENUE"] == "bybit"
    assert children["execution"].env["TITAN_EXCHANGE"] == "bybit-main"  # the operator's name for it
    assert children["execution-mexc"].env["TITAN_EXECUTION_VENUE"] == "mexc"
    assert children["execution-mexc"].env["TITAN_EXCHANGE"] == "mexc"  # never the first venue's account
    assert children["execution-mexc"].argv == children["execution"].argv
    assert children["brain"].env == {"TITAN_EXCHANGE": "bybit-main", "X": "1"}


def test_one_venue_is_one_execution() -> None:
    settings = CommonSettings(venues="bybit")
    assert processes(settings, ["brain", "execution"]) == ["brain", "execution"]
    assert [c.name for c in service_children(settings, ["execution"], {})] == ["execution"]
