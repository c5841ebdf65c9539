"""Each service's URL can be set (a service on another host); host and port stay the
default. Other venues' processes take theirs from a JSON map, as their ports do."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from titan_common.settings import CommonSettings


def test_host_and_port_by_default() -> None:
    settings = CommonSettings(host="10.0.0.5", venues=["bybit", "mexc"])
    assert settings.url_of("brain") == "http://10.0.0.5:3100"
    assert settings.url_of("execution-mexc") == "http://10.0.0.5:3013"


def test_a_services_url_wins_over_host_and_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TITAN_BRAIN_URL", "http://brain:3100/")
    monkeypatch.setenv("TITAN_EXECUTION_URLS", '{"mexc": "https://exec-mexc.internal:8443"}')
    monkeypatch.setenv("TITAN_VENUES", "bybit,mexc")
    settings = CommonSettings()
    assert settings.url_of("brain") == "http://brain:3100"
    assert settings.url_of("execution-mexc") == "https://exec-mexc.internal:8443"
    assert settings.url_of("execution") == "http://127.0.0.1:3003"  # unset: host and port
    assert settings.url_of("console") == "http://127.0.0.1:3002"


@pytest.mark.parametrize("bad", ["brain:3100", "ftp://brain", "http://brain:3100/api", "http://"])
def test_a_url_that_is_not_a_base_url_is_refused(bad: str) -> None:
    with pytest.raises(ValidationError, match="base URL"):
        CommonSettings(brain_url=bad)


def test_a_process_binds_where_it_is_addressed_unless_told_otherwise() -> None:
    assert CommonSettings(host="10.0.0.5").bind_address == "10.0.0.5"
    # a container or a host of its own: it listens everywhere; its peers still use their URLs
    settings = CommonSettings(host="10.0.0.5", bind_host="0.0.0.0", brain_url="http://brain:3100")
    assert settings.bind_address == "0.0.0.0"
    assert settings.url_of("brain") == "http://brain:3100"
    assert settings.url_of("console") == "http://10.0.0.5:3002"  # never http://0.0.0.0:...
    assert CommonSettings(bind_host="  ").bind_address == "127.0.0.1"


def test_bind_host_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TITAN_BIND_HOST", "0.0.0.0")
    assert CommonSettings().bind_address == "0.0.0.0"
    assert CommonSettings().host == "127.0.0.1"
