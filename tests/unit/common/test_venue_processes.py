"""One execution process per venue account and one scavenger per venue's market: their
service names, their ports, and `titan up`'s children (no process is started here)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from titan_common.settings import CommonSettings
from titan_ops.cli.up import processes, service_children

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
    assert processes(settings, ALL) == [
        "simulator", "brain", "execution", "execution-mexc", "scavenger", "scavenger-mexc", "console",
    ]  # fmt: skip
    children = {c.name: c for c in service_children(settings, ALL, {"TITAN_EXCHANGE": "bybit-main", "X": "1"})}
    assert children["execution"].env["TITAN_EXECUTION_VENUE"] == "bybit"
    assert children["execution"].env["TITAN_EXCHANGE"] == "bybit-main"  # the operator's name for it
    assert children["execution-mexc"].env["TITAN_EXECUTION_VENUE"] == "mexc"
    assert children["execution-mexc"].env["TITAN_EXCHANGE"] == "mexc"  # never the first venue's account
    assert children["execution-mexc"].argv == children["execution"].argv
    assert children["brain"].env == {"TITAN_EXCHANGE": "bybit-main", "X": "1"}
    assert children["scavenger"].env["TITAN_SCAVENGER_VENUE"] == "bybit"
    assert children["scavenger-mexc"].env["TITAN_SCAVENGER_VENUE"] == "mexc"
    assert children["scavenger-mexc"].env["TITAN_EXCHANGE"] == "mexc"


def test_each_venue_has_a_scavenger_on_its_own_port() -> None:
    settings = CommonSettings(venues="bybit,mexc", scavenger_port=3005, scavenger_ports={"mexc": 3115})
    assert settings.scavenger_services == {"bybit": "scavenger", "mexc": "scavenger-mexc"}
    assert settings.port_of("scavenger-mexc") == 3115
    assert settings.trading_processes == [
        "brain", "execution", "execution-mexc", "scavenger", "scavenger-mexc", "console",
    ]  # fmt: skip
    with pytest.raises(ValidationError, match="no port for the scavenger of mexc"):
        CommonSettings(venues="bybit,mexc", scavenger_ports={})


def test_a_scavenger_watches_its_own_venue_and_its_signals_name_it() -> None:
    from titan_scavenger.settings import ScavengerSettings

    common = {"database_url": "postgresql://x@h/db", "redis_url": "redis://h:6379/0", "venues": "bybit,mexc"}
    first = ScavengerSettings(**common)
    assert (first.scavenger_venue, first.service_name, first.exchange) == ("bybit", "scavenger", "bybit")
    mexc = ScavengerSettings(**common, scavenger_venue="mexc")
    assert (mexc.scavenger_venue, mexc.service_name, mexc.exchange) == ("mexc", "scavenger-mexc", "mexc")
    with pytest.raises(ValidationError, match="not one of TITAN_VENUES"):
        ScavengerSettings(**common, scavenger_venue="kraken")


def test_one_venue_is_one_execution() -> None:
    settings = CommonSettings(venues="bybit")
    assert processes(settings, ["brain", "execution"]) == ["brain", "execution"]
    assert [c.name for c in service_children(settings, ["execution"], {})] == ["execution"]
