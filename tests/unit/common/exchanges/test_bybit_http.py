"""Bybit's HTTP client reads proxies from the environment once, when it is built."""

from __future__ import annotations

import pytest

from titan_common.exchanges.bybit.http import BybitHttp
from titan_common.exchanges.types import RestAccess


def client(endpoint: str) -> BybitHttp:
    return BybitHttp(RestAccess(endpoint, api_key="k", api_secret="s"), max_workers=1)


def test_an_environment_proxy_is_kept_and_not_looked_up_per_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    session = client("https://api.bybit.com")._session.client
    assert session.proxies.get("https") == "http://proxy.example:3128"
    assert session.trust_env is False


def test_an_endpoint_in_no_proxy_goes_direct(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    session = client("http://127.0.0.1:3010")._session.client
    assert "http" not in session.proxies
    assert "https" not in session.proxies
